package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api"
	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

func TestMain(m *testing.M) { os.Exit(tenanttest.Main(m)) }

// newServer builds the real API on the package's database, with the
// per-IP limit off unless a test sets it.
func newServer(t testing.TB, cfg api.Config) *api.Server {
	t.Helper()
	return newServerWith(t, cfg, tenants.Options{})
}

// newServerWith builds the API with its own rate-limit counters and
// tenants service options.
func newServerWith(t testing.TB, cfg api.Config, o tenants.Options) *api.Server {
	t.Helper()
	env := tenanttest.Get(t)
	counter, svc := env.Isolated(o)
	cat := catalog.NewService(svc)
	cat.SetJobs(syncJobs{cat}, slog.New(slog.DiscardHandler))
	return api.New(cfg, api.Deps{Log: slog.New(slog.DiscardHandler), Pool: env.Pool, Redis: env.Redis,
		Counter: counter, Tenants: svc, Catalog: cat})
}

// syncJobs runs an import job right after its upload commits, in place of
// the Asynq worker (workers tests cover the queue path), so HTTP tests can
// read the finished job at once.
type syncJobs struct{ cat *catalog.Service }

func (j syncJobs) EnqueueImport(ctx context.Context, tenantID, jobID uuid.UUID) error {
	return j.cat.RunImportJob(ctx, tenantID, jobID)
}

// rawBody is a request body sent with its own Content-Type.
type rawBody struct {
	ContentType string
	Data        []byte
}

type resp struct {
	Status int
	Body   map[string]any
	Raw    []byte
	Header http.Header
}

func (r resp) errCode() string {
	if e, ok := r.Body["error"].(map[string]any); ok {
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

// call sends one request through the real Fiber app. body is sent as is
// when it is a string, as JSON otherwise.
func call(t *testing.T, s *api.Server, method, path, token string, body any) resp {
	t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd, ct = bytes.NewReader(b.Data), b.ContentType
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", ct)
	}
	if strings.HasPrefix(token, "sk_") {
		req.Header.Set("X-API-Key", token)
	} else if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := s.App.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{Status: res.StatusCode, Raw: raw, Header: res.Header}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			t.Fatalf("%s %s: response is not a JSON object: %s", method, path, raw)
		}
	}
	return r
}

// want fails unless r has the status (and, when given, the error code).
func want(t *testing.T, r resp, status int, code ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	if len(code) > 0 && code[0] != "" && r.errCode() != code[0] {
		t.Fatalf("error code %q, want %q: %s", r.errCode(), code[0], r.Raw)
	}
}

// library is a signed-up tenant seen from its owner.
type library struct {
	Slug, Token    string
	TenantID       string
	OwnerID        string
	RootID, MainID string
	OwnerEmail     string
	OwnerPassword  string
}

func uniqueSlug(prefix string) string { return tenanttest.Slug(prefix) }

func signup(t *testing.T, s *api.Server, prefix, kind string) library {
	t.Helper()
	slug := uniqueSlug(prefix)
	email := "owner@" + slug + ".example.org"
	r := call(t, s, "POST", "/api/v1/signup", "", map[string]any{
		"library_name": "Library " + slug, "slug": slug, "admin_email": email,
		"admin_password": "correct horse battery", "kind": kind, "timezone": "America/Chicago", "country": "US"})
	want(t, r, 201)
	l := library{Slug: slug, Token: r.Body["token"].(string), OwnerEmail: email, OwnerPassword: "correct horse battery"}
	l.TenantID = r.Body["tenant"].(map[string]any)["id"].(string)
	u := r.Body["user"].(map[string]any)
	l.OwnerID = u["id"].(string)
	l.RootID = u["roles"].([]any)[0].(map[string]any)["branch_id"].(string)
	br := call(t, s, "GET", "/api/v1/branches?kind=branch", l.Token, nil)
	want(t, br, 200)
	l.MainID = br.Body["items"].([]any)[0].(map[string]any)["id"].(string)
	return l
}

// addStaff creates a staff user with one role at branch and logs them in.
func addStaff(t *testing.T, s *api.Server, lib library, email string, role tenants.Role, branch string) (id, token string) {
	t.Helper()
	r := call(t, s, "POST", "/api/v1/staff", lib.Token, map[string]any{
		"email": email, "password": "staff password 123", "roles": []map[string]any{{"role": role, "branch_id": branch}}})
	want(t, r, 201)
	id = r.Body["id"].(string)
	l := call(t, s, "POST", "/api/v1/auth/login", "", map[string]any{"tenant": lib.Slug, "email": email, "password": "staff password 123"})
	want(t, l, 200)
	return id, l.Body["token"].(string)
}

func addBranch(t *testing.T, s *api.Server, token string, body map[string]any) map[string]any {
	t.Helper()
	r := call(t, s, "POST", "/api/v1/branches", token, body)
	want(t, r, 201)
	return r.Body
}

func jsonUnmarshal(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("not JSON: %s", raw)
	}
}

// newServerWithCatalog builds a server whose catalog service tune has adjusted.
func newServerWithCatalog(t *testing.T, tune func(*catalog.Service)) *api.Server {
	t.Helper()
	env := tenanttest.Get(t)
	counter, svc := env.Isolated(tenants.Options{})
	cat := catalog.NewService(svc)
	cat.SetJobs(syncJobs{cat}, slog.New(slog.DiscardHandler))
	tune(cat)
	return api.New(api.Config{}, api.Deps{Log: slog.New(slog.DiscardHandler), Pool: env.Pool, Redis: env.Redis,
		Counter: counter, Tenants: svc, Catalog: cat})
}
