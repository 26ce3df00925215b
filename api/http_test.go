package api_test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/stacks-ils/stacks/api"
	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

func TestHTTP_ErrorShapes(t *testing.T) {
	s := newServer(t, api.Config{BodyLimit: 64 << 10})
	lib := signup(t, s, "http", "library")
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
		msg                       string
	}{
		{"unknown route", "GET", "/api/v1/nope", "", nil, 404, "route_not_found", ""},
		{"wrong method", "PUT", "/api/v1/me", lib.Token, nil, 405, "method_not_allowed", ""},
		{"no token", "GET", "/api/v1/me", "", nil, 401, "missing_token", ""},
		{"garbage token", "GET", "/api/v1/me", "not-a-token", nil, 401, "invalid_token", ""},
		{"malformed JSON says where", "POST", "/api/v1/branches", lib.Token, "{\n  \"name\": \"x\",\n  \"code\": }", 400, "malformed_json", "line 3"},
		{"truncated JSON", "POST", "/api/v1/branches", lib.Token, `{"name": "x"`, 400, "malformed_json", "ends before"},
		{"unknown field", "POST", "/api/v1/branches", lib.Token, `{"name":"x","code":"Y","colour":"red"}`, 400, "unknown_field", `"colour"`},
		{"wrong type", "POST", "/api/v1/branches", lib.Token, `{"name":42,"code":"Y"}`, 400, "wrong_type", `"name"`},
		{"empty body", "POST", "/api/v1/branches", lib.Token, "", 400, "empty_body", ""},
		{"trailing data", "POST", "/api/v1/branches", lib.Token, `{"name":"x","code":"Y"} {}`, 400, "malformed_json", "after"},
		{"bad limit", "GET", "/api/v1/branches?limit=501", lib.Token, nil, 400, "bad_limit", "1 to 500"},
		{"bad cursor", "GET", "/api/v1/branches?cursor=%%%", lib.Token, nil, 400, "bad_cursor", ""},
		{"malformed id is a 404", "GET", "/api/v1/branches/123", lib.Token, nil, 404, "not_found", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, s, tc.method, tc.path, tc.token, tc.body)
			want(t, r, tc.status, tc.code)
			if msg := r.Body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, tc.msg) {
				t.Fatalf("message %q does not contain %q", msg, tc.msg)
			}
		})
	}
}

// The body limit is enforced before the handler reads the body, so this
// test goes through a real listener rather than app.Test. It announces a
// body over the limit and sends only the first 8 KiB + 1 byte, which the server reads
// before routing (fasthttp's streaming window): a server that refuses must
// not leave unread bytes behind, or the kernel answers the close with a
// reset that can swallow the 413.
func TestHTTP_BodyOverLimitIs413(t *testing.T) {
	s := newServer(t, api.Config{BodyLimit: 64 << 10})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.App.Listener(ln)
	defer s.App.Shutdown()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", 70<<10)
	conn.Write([]byte(strings.Repeat(" ", 8<<10+1)))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 413 || !strings.Contains(string(body), `"code":"body_too_large"`) {
		t.Fatalf("status %d body %s, want 413 body_too_large", res.StatusCode, body)
	}
}

func TestHTTP_WrongContentTypeIs415(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "ctype", "library")
	req := httptest.NewRequest("POST", "/api/v1/branches", strings.NewReader("name=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+lib.Token)
	res, err := s.App.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 415 {
		t.Fatalf("status %d, want 415", res.StatusCode)
	}
}

func TestHTTP_SecurityHeadersAndRequestID(t *testing.T) {
	s := newServer(t, api.Config{})
	r := call(t, s, "GET", "/healthz", "", nil)
	want(t, r, 200)
	for h, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"} {
		if r.Header.Get(h) != v {
			t.Errorf("%s = %q, want %q", h, r.Header.Get(h), v)
		}
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
}

func TestHTTP_ReadyzChecksDependencies(t *testing.T) {
	s := newServer(t, api.Config{})
	r := call(t, s, "GET", "/readyz", "", nil)
	want(t, r, 200)
	checks := r.Body["checks"].(map[string]any)
	if checks["postgres"] != "ok" || checks["redis"] != "ok" {
		t.Fatalf("checks = %v", checks)
	}
}

func TestHTTP_MetricsCountRequestsByRoute(t *testing.T) {
	s := newServer(t, api.Config{MetricsToken: "op-secret"})
	lib := signup(t, s, "metrics", "library")
	call(t, s, "GET", "/api/v1/me", lib.Token, nil)
	want(t, call(t, s, "GET", "/metrics", "", nil), 401)
	r := call(t, s, "GET", "/metrics", "op-secret", nil)
	want(t, r, 200)
	body := string(r.Raw)
	for _, line := range []string{
		`stacks_http_requests_total{method="GET",route="/api/v1/me",status="200"} 1`,
		`stacks_http_request_duration_seconds_bucket{method="GET",route="/api/v1/me"`,
		`go_sql_max_open_connections{db_name="app"}`,
	} {
		if !strings.Contains(body, line) {
			t.Errorf("metrics lack %s", line)
		}
	}
}

func TestHTTP_RateLimitPerIP(t *testing.T) {
	s := newServer(t, api.Config{RateLimitPerMinute: 3})
	for i := 0; i < 3; i++ {
		want(t, call(t, s, "GET", "/api/openapi.json", "", nil), 200)
	}
	r := call(t, s, "GET", "/api/openapi.json", "", nil)
	want(t, r, 429, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	// Health checks are never limited: an orchestrator must see the truth.
	want(t, call(t, s, "GET", "/healthz", "", nil), 200)
}

// The queue dashboard answers platform operators only.
func TestAdminQueuesDashboard(t *testing.T) {
	env := tenanttest.Get(t)
	ropt, err := asynq.ParseRedisURI(tenanttest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	counter, svc := env.Isolated(tenants.Options{})
	s := api.New(api.Config{AdminToken: "operator-secret"}, api.Deps{Log: slog.New(slog.DiscardHandler), Pool: env.Pool,
		Redis: env.Redis, Counter: counter, Tenants: svc, Catalog: catalog.NewService(svc), Queues: ropt})
	lib := signup(t, s, "ops", "library")
	basic := func(pass string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte("ops:"+pass)) }
	cases := []struct {
		name, path, auth string
		status           int
	}{
		{"no credentials", "/admin/queues", "", 401},
		{"wrong token", "/admin/queues", basic("guess"), 401},
		{"a library owner is not an operator", "/admin/queues", "Bearer " + lib.Token, 401},
		{"basic auth", "/admin/queues", basic("operator-secret"), 200},
		{"bearer", "/admin/queues/api/queues", "Bearer operator-secret", 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", c.path, nil)
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			res, err := s.App.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d", res.StatusCode, c.status)
			}
			if c.status == 401 && res.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("no WWW-Authenticate challenge")
			}
		})
	}
	// Without ADMIN_TOKEN there is no dashboard at all.
	off := newServer(t, api.Config{})
	r := call(t, off, "GET", "/admin/queues", "Bearer anything", nil)
	want(t, r, 404, "dashboard_disabled")
}
