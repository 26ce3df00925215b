package billing_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api"
	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/billing"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
	"github.com/stacks-ils/stacks/workers"
)

const (
	testKey    = "sk_test_stacks"
	testSecret = "whsec_stacks_test"
)

var stripeMockURL string

// TestMain starts stripe-mock (pinned as a tool in go.mod) on free ports
// for the package's tests and stops it after.
func TestMain(m *testing.M) {
	stop, err := startStripeMock()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stripe-mock:", err)
		os.Exit(1)
	}
	code := tenanttest.Main(m)
	stop()
	os.Exit(code)
}

func startStripeMock() (func(), error) {
	if u := os.Getenv("STRIPE_MOCK_URL"); u != "" {
		stripeMockURL = u
		return func() {}, nil
	}
	cmd := exec.Command("go", "tool", "stripe-mock", "-http-addr", "127.0.0.1:", "-https-addr", "127.0.0.1:")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	// Its own process group: `go tool` runs stripe-mock as a child, which
	// killing `go` alone would leave running after every test run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() }
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "Listening for HTTP at address: "); ok {
				found <- "http://" + addr
			}
		}
	}()
	select {
	case stripeMockURL = <-found:
		return stop, nil
	case <-time.After(3 * time.Minute):
		stop()
		return nil, fmt.Errorf("did not start within 3 minutes")
	}
}

// stripeAccount stands in front of stripe-mock and keeps what stripe-mock
// cannot: the current state of subscriptions (stripe-mock is stateless).
// GET /v1/subscriptions/{id} answers from that state; every other request
// goes to stripe-mock, and quantity updates are recorded.
type stripeAccount struct {
	mu      sync.Mutex
	subs    map[string]map[string]any
	updates []url.Values // POST /v1/subscription_items/{id} bodies
	srv     *httptest.Server
}

func newStripeAccount(t *testing.T) *stripeAccount {
	target, _ := url.Parse(stripeMockURL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	a := &stripeAccount{subs: map[string]map[string]any{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := strings.CutPrefix(r.URL.Path, "/v1/subscriptions/"); ok && r.Method == "GET" {
			a.mu.Lock()
			sub, found := a.subs[id]
			var b []byte
			if found {
				b, _ = json.Marshal(sub)
			}
			a.mu.Unlock()
			if found {
				w.Header().Set("Content-Type", "application/json")
				w.Write(b)
				return
			}
		}
		if strings.HasPrefix(r.URL.Path, "/v1/subscription_items/") && r.Method == "POST" {
			body, _ := io.ReadAll(r.Body)
			v, _ := url.ParseQuery(string(body))
			a.mu.Lock()
			a.updates = append(a.updates, v)
			a.mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// setCard gives a subscription a default card expiring month/year.
func (a *stripeAccount) setCard(sub string, month, year int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.subs[sub]["default_payment_method"] = map[string]any{"id": "pm_" + sub, "object": "payment_method", "type": "card",
		"card": map[string]any{"brand": "visa", "last4": "4242", "exp_month": month, "exp_year": year}}
}

// setSub puts a subscription in the account's state.
func (a *stripeAccount) setSub(id, customer string, tenant uuid.UUID, status, lookupKey string, qty int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.subs[id] = map[string]any{"id": id, "object": "subscription", "status": status, "customer": customer,
		"metadata": map[string]string{"tenant_id": tenant.String()}, "cancel_at_period_end": false,
		"current_period_end": time.Now().AddDate(0, 1, 0).Unix(), "created": time.Now().Unix(),
		"items": map[string]any{"object": "list", "data": []any{map[string]any{"id": "si_" + id, "object": "subscription_item",
			"quantity": qty, "price": map[string]any{"id": "price_" + lookupKey, "object": "price", "lookup_key": lookupKey,
				"recurring": map[string]any{"interval": "month"}}}}}}
}

func (a *stripeAccount) quantityUpdates() []url.Values {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.updates)
}

// world is the API and a worker with billing on, against stripe-mock.
type world struct {
	env    *tenanttest.Env
	stripe *stripeAccount
	bill   *billing.Service
	srv    *api.Server
	nots   *notices.Service
	svc    *tenants.Service
}

func redisOpt(t testing.TB) asynq.RedisClientOpt {
	opt, err := asynq.ParseRedisURI(tenanttest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	o := opt.(asynq.RedisClientOpt)
	o.DB = 14 // billing tests' own queues
	return o
}

func newWorld(t *testing.T) *world { return newWorldWith(t, "") }

// newWorldWith uses the plans file at plans ("" for the built-in one).
func newWorldWith(t *testing.T, plans string) *world {
	t.Helper()
	env := tenanttest.Get(t)
	w := &world{env: env, stripe: newStripeAccount(t)}
	ropt := redisOpt(t)
	insp := asynq.NewInspector(ropt)
	if qs, _ := insp.Queues(); slices.Contains(qs, "critical") {
		insp.DeleteQueue("critical", true) // tasks of earlier runs name databases that are gone
	}
	insp.Close()
	log := slog.New(slog.DiscardHandler)
	counter, svc := env.Isolated(tenants.Options{})
	w.svc = svc
	client := workers.NewClient(ropt).SetQuantityDelay(100 * time.Millisecond)
	t.Cleanup(func() { client.Close() })
	w.nots = notices.NewService(env.Pool, nil, nil, log)
	bill, err := billing.New(billing.Config{SecretKey: testKey, WebhookSecret: testSecret, APIBase: w.stripe.srv.URL,
		BaseURL: "https://stacks.test", PlansFile: plans}, env.Pool, w.nots, log)
	if err != nil {
		t.Fatal(err)
	}
	w.bill = bill.SetEnqueuer(client)
	cat := catalog.NewService(svc)
	w.srv = api.New(api.Config{}, api.Deps{Log: log, Pool: env.Pool, Redis: env.Redis, Counter: counter, Tenants: svc,
		Catalog: cat, Notices: w.nots, Billing: bill})
	wk := workers.New(ropt, svc, cat, log, workers.Options{Concurrency: 2, ShutdownTimeout: 50 * time.Millisecond,
		RetryDelay:    func(int, error, *asynq.Task) time.Duration { return 50 * time.Millisecond },
		CheckInterval: 50 * time.Millisecond}).SetBilling(bill).SetNotices(w.nots)
	if err := wk.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wk.Shutdown)
	return w
}

type resp struct {
	Status int
	Body   map[string]any
}

func (r resp) code() string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (w *world) call(t *testing.T, method, path, token string, body any, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := w.srv.App.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{Status: res.StatusCode}
	json.Unmarshal(raw, &out.Body)
	return out
}

// library signs a library up through the API, as a new customer would.
type library struct {
	ID    uuid.UUID
	Token string
	Email string
}

func (w *world) signup(t *testing.T) library {
	t.Helper()
	slug := tenanttest.Slug("bill")
	email := "owner@" + slug + ".example"
	r := w.call(t, "POST", "/api/v1/signup", "", map[string]any{"library_name": "Library " + slug, "slug": slug, "kind": "library",
		"timezone": "Europe/Paris", "country": "FR", "admin_email": email, "admin_name": "Owner",
		"admin_password": "Correct-Horse-Battery-9"})
	if r.Status != 201 {
		t.Fatalf("signup: %d %v", r.Status, r.Body)
	}
	tn := r.Body["tenant"].(map[string]any)
	return library{ID: uuid.MustParse(tn["id"].(string)), Token: r.Body["token"].(string), Email: email}
}

// account reads a library's billing account as the application would.
func (w *world) account(t *testing.T, lib library) billing.Account {
	t.Helper()
	var a billing.Account
	err := w.env.Pool.Tx(context.Background(), lib.ID, func(ctx context.Context, tx *gorm.DB) error {
		return tx.Raw("SELECT * FROM billing_accounts").Scan(&a).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (w *world) exec(t *testing.T, lib library, sql string, args ...any) {
	t.Helper()
	err := w.env.Pool.Tx(context.Background(), lib.ID, func(ctx context.Context, tx *gorm.DB) error {
		return tx.Exec(sql, args...).Error
	})
	if err != nil {
		t.Fatal(err)
	}
}

// mails lists a library's billing mail in the outbox.
func (w *world) mails(t *testing.T, lib library) []notices.Notice {
	t.Helper()
	var out []notices.Notice
	err := w.env.Pool.Tx(context.Background(), lib.ID, func(ctx context.Context, tx *gorm.DB) error {
		return tx.Raw("SELECT * FROM notices WHERE patron_id IS NULL ORDER BY created_at, kind").Scan(&out).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var eventSeq int

// event builds a signed Stripe event for object (with v76's API version,
// which ConstructEvent requires) and its Stripe-Signature header.
func event(t *testing.T, typ string, object map[string]any, at time.Time, secret string) ([]byte, string) {
	t.Helper()
	eventSeq++
	payload, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("evt_%d_%d", time.Now().UnixNano(), eventSeq), "object": "event",
		"type": typ, "api_version": stripe.APIVersion, "created": at.Unix(), "data": map[string]any{"object": object}})
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at})
	return sp.Payload, sp.Header
}

func (w *world) deliver(t *testing.T, payload []byte, header string) resp {
	t.Helper()
	return w.call(t, "POST", "/api/v1/billing/webhook", "", payload, "Stripe-Signature", header)
}

func subObject(id, customer string, tenant uuid.UUID, status string) map[string]any {
	return map[string]any{"id": id, "object": "subscription", "customer": customer, "status": status,
		"metadata": map[string]string{"tenant_id": tenant.String()}}
}

func invoiceObject(id, sub, customer string, tenant uuid.UUID) map[string]any {
	return map[string]any{"id": id, "object": "invoice", "customer": customer, "subscription": sub,
		"subscription_details": map[string]any{"metadata": map[string]string{"tenant_id": tenant.String()}}}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(25 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
