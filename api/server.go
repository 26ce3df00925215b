// Package api builds the Fiber application: middleware, the error handler
// and the mounting of every module's routes. It holds no business rules.
package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/acquisitions"
	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/circulation"
	"github.com/stacks-ils/stacks/api/circulation/policy"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/exports"
	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/api/opac"
	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/api/ratelimit"
	"github.com/stacks-ils/stacks/api/reports"
	"github.com/stacks-ils/stacks/api/serials"
	"github.com/stacks-ils/stacks/billing"
	"github.com/stacks-ils/stacks/tenants"
)

// Config tunes the HTTP layer.
type Config struct {
	BodyLimit          int           // bytes; default 4 MiB
	RateLimitPerMinute int           // per client IP; 0 disables
	RequestTimeout     time.Duration // default 30s
	ProxyHeader        string        // e.g. X-Forwarded-For behind a trusted proxy; empty trusts none
	MetricsToken       string        // when set, /metrics needs "Authorization: Bearer <token>"
	AdminToken         string        // platform operators' token for /admin/queues; empty turns the dashboard off
	HSTS               bool          // send Strict-Transport-Security (BASE_URL is https)
}

// Deps are the services the API mounts.
type Deps struct {
	Log     *slog.Logger
	Pool    *tenants.Pool
	Redis   redis.UniversalClient
	Counter *ratelimit.Counter
	Tenants *tenants.Service
	Catalog *catalog.Service
	// Patrons, Policy and Circulation are built from Tenants and Catalog
	// when nil.
	Patrons     *patrons.Service
	Policy      *policy.Service
	Circulation *circulation.Service
	// Notices is the outbox; built without delivery (no enqueuer, no
	// mailer) when nil.
	Notices *notices.Service
	// Billing sells subscriptions and enforces them; off (full access, no
	// limits) when nil or built without a Stripe key.
	Billing *billing.Service
	// OPAC serves the pages behind the links in patron mail; built with
	// relative links when nil.
	OPAC *opac.Service
	// Queues is the task queues' Redis, for the operators' dashboard.
	Queues asynq.RedisConnOpt
	// Acquisitions is built from Tenants and Catalog when nil.
	Acquisitions *acquisitions.Service
	// Reports runs reports and keeps schedules; built without a worker
	// queue (run-now builds inline) when nil.
	Reports *reports.Service
	// Serials is built from Tenants, Catalog and Acquisitions when nil.
	Serials *serials.Service
}

// withModules builds the domain services the caller did not supply and
// connects them: patrons asks circulation for standings and merges.
func (d Deps) withModules() Deps {
	if d.Patrons == nil {
		d.Patrons = patrons.NewService(d.Tenants)
	}
	if d.Policy == nil {
		d.Policy = policy.NewService(d.Tenants)
	}
	if d.Notices == nil {
		d.Notices = notices.NewService(d.Pool, nil, nil, d.Log)
	}
	d.Patrons.SetNotifier(d.Notices)
	if d.Billing == nil {
		d.Billing, _ = billing.New(billing.Config{}, d.Pool, d.Notices, d.Log) // the built-in plans always load
	}
	if d.Billing.Enabled() {
		d.Tenants.SetBilling(d.Billing)
	}
	if d.Circulation == nil {
		d.Circulation = circulation.NewService(d.Tenants, d.Catalog, d.Patrons, d.Policy).SetNotices(d.Notices)
	}
	if d.Reports == nil {
		d.Reports = reports.NewService(d.Pool, d.Log).SetNotices(d.Notices)
	}
	if d.OPAC == nil {
		d.OPAC = opac.NewService(d.Pool, d.Circulation, d.Patrons, "", d.Log)
	}
	d.Notices.SetLinks(d.OPAC)
	if d.Acquisitions == nil {
		d.Acquisitions = acquisitions.NewService(d.Tenants, d.Catalog).SetNotices(d.Notices)
	}
	if d.Serials == nil {
		d.Serials = serials.NewService(d.Tenants, d.Catalog, d.Acquisitions).SetMailer(d.Notices)
	}
	d.Catalog.SetHoldings(d.Serials)
	return d
}

// Server is the API: the Fiber app and the routes it mounted.
type Server struct {
	App     *fiber.App
	cfg     Config
	deps    Deps
	metrics *metrics
	routes  []httpx.Route
	stream  map[string]bool // METHOD path of routes that read their body as a stream
}

// New builds the API.
func New(cfg Config, d Deps) *Server {
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = 4 << 20
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	d = d.withModules()
	s := &Server{cfg: cfg, deps: d, metrics: newMetrics(d.Pool), stream: map[string]bool{}}
	app := fiber.New(fiber.Config{
		AppName:               "stacks",
		BodyLimit:             cfg.BodyLimit,
		ErrorHandler:          httpx.ErrorHandler(d.Log),
		DisableStartupMessage: true,
		ProxyHeader:           cfg.ProxyHeader,
		ReadTimeout:           60 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           120 * time.Second,
		// Uploads stream instead of sitting in memory; bodyGuard holds every
		// other route to BodyLimit.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
	})
	app.Use(requestid.New(requestid.Config{Generator: func() string { return uuid.Must(uuid.NewV7()).String() }}))
	app.Use(s.observe)
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		d.Log.Error("panic", "request_id", httpx.RequestID(c), "panic", e)
	}}))
	app.Use(s.securityHeaders)
	app.Use(s.bodyGuard)
	app.Use(s.rateLimit)
	s.App = app
	routes := append(s.systemRoutes(), s.adminRoutes()...)
	routes = append(routes, d.Tenants.Routes()...)
	routes = append(routes, d.Catalog.Routes()...)
	routes = append(routes, d.Patrons.Routes()...)
	// Circulation before policy: /circulation/rules/explain must win over
	// policy's /circulation/rules/:id.
	routes = append(routes, d.Circulation.Routes()...)
	routes = append(routes, d.Policy.Routes()...)
	routes = append(routes, d.Notices.Routes()...)
	routes = append(routes, d.Reports.Routes()...)
	routes = append(routes, d.Billing.Routes()...)
	routes = append(routes, exports.NewService(d.Pool, d.Log).Routes()...)
	routes = append(routes, d.OPAC.Routes()...)
	routes = append(routes, d.Acquisitions.Routes()...)
	routes = append(routes, d.Serials.Routes()...)
	s.mount(routes)
	return s
}

// Routes returns every route the API mounted, for the tests that hold them
// to the isolation table and the OpenAPI document.
func (s *Server) Routes() []httpx.Route { return s.routes }

func (s *Server) mount(routes []httpx.Route) {
	for _, r := range routes {
		if !r.Public && r.Perm == "" {
			panic("api: route " + r.Method + " " + r.Path + " declares no permission and is not public")
		}
		h := []fiber.Handler{}
		if !r.Public {
			h = append(h, s.authenticate(r))
		}
		s.App.Add(r.Method, r.Path, append(h, r.Handler)...)
		if r.StreamBody {
			s.stream[r.Method+" "+r.Path] = true
		}
		s.routes = append(s.routes, r)
	}
}

// apiCallQuota holds integrations (API keys) to the plan's daily request
// allowance, counted per library and UTC day in Redis. Staff sessions are
// not counted: the desk must never stop. A Redis failure lets the request
// through (logged): billing must not take a library down.
func (s *Server) apiCallQuota(ctx context.Context, c *fiber.Ctx, p *tenants.Principal) error {
	if p.APIKeyID == uuid.Nil || !s.deps.Billing.Enabled() || s.deps.Counter == nil {
		return nil
	}
	limit := s.deps.Billing.PlansFile().APICallsPerDay(p.Access.Plan)
	if limit <= 0 {
		return nil
	}
	now := time.Now().UTC()
	key := "apicalls:" + p.TenantID.String() + ":" + now.Format(time.DateOnly)
	ok, _, err := s.deps.Counter.Allow(ctx, key, limit, 25*time.Hour)
	if err != nil {
		s.deps.Log.Error("api call quota", "tenant_id", p.TenantID, "error", err)
		return nil
	}
	if !ok {
		midnight := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(midnight.Sub(now).Seconds())+1))
		return errs.E(errs.RateLimited, "api_call_limit_reached", fmt.Sprintf(
			"this library's plan allows %d API-key requests a day and they are used; the count starts again at midnight UTC, or choose a larger plan", limit)).
			WithDetails(map[string]any{"limit": limit, "plan": p.Access.Plan})
	}
	return nil
}

// observe gives each request a deadline, renders errors (so the status is
// known here), then logs one line and records metrics.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	c.SetUserContext(ctx)
	if err := c.Next(); err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	status, route := c.Response().StatusCode(), c.Route().Path
	if status == fiber.StatusNotFound && route == "/" {
		route = "unmatched"
	}
	dur := time.Since(start)
	s.metrics.observe(c.Method(), route, status, dur)
	attrs := []any{"request_id", httpx.RequestID(c), "method", c.Method(), "path", c.Path(),
		"status", status, "duration_ms", float64(dur.Microseconds()) / 1000}
	if p, ok := c.Locals(principalLocal).(*tenants.Principal); ok {
		attrs = append(attrs, "tenant_id", p.TenantID, "user_id", p.UserID)
		if p.APIKeyID != uuid.Nil {
			attrs = append(attrs, "api_key_id", p.APIKeyID)
		}
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	s.deps.Log.Log(ctx, level, "request", attrs...)
	return nil
}

func (s *Server) securityHeaders(c *fiber.Ctx) error {
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	c.Set("Cache-Control", "no-store")
	if s.cfg.HSTS {
		c.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
	return c.Next()
}

// bodyGuard enforces the body limit. The server streams request bodies (so
// uploads need not fit in memory); every route but the declared streaming
// ones gets its body read here, up to the limit.
func (s *Server) bodyGuard(c *fiber.Ctx) error {
	if s.stream[c.Method()+" "+c.Path()] {
		return c.Next()
	}
	tooLarge := errs.E(errs.TooLarge, "body_too_large", fmt.Sprintf("request body is larger than the limit of %d bytes", s.cfg.BodyLimit))
	req := c.Request()
	switch n := req.Header.ContentLength(); {
	case n > s.cfg.BodyLimit:
		return tooLarge
	case n == -1: // chunked: read it here, but no further than the limit
		if stream := c.Context().RequestBodyStream(); stream != nil {
			data, err := io.ReadAll(io.LimitReader(stream, int64(s.cfg.BodyLimit)+1))
			if err != nil {
				return errs.E(errs.BadRequest, "bad_request", "the request body could not be read")
			}
			if len(data) > s.cfg.BodyLimit {
				return tooLarge
			}
			req.SetBody(data)
		}
	}
	return c.Next()
}

// rateLimit is the coarse per-IP limit in front of everything. It fails open
// when Redis is down: an outage of the limiter must not take the library
// desk down with it (signup and login lockouts fail closed on their own).
func (s *Server) rateLimit(c *fiber.Ctx) error {
	if s.cfg.RateLimitPerMinute <= 0 || c.Path() == "/healthz" || c.Path() == "/readyz" {
		return c.Next()
	}
	ok, wait, err := s.deps.Counter.Allow(c.UserContext(), "rl:ip:"+c.IP(), s.cfg.RateLimitPerMinute, time.Minute)
	if err != nil {
		s.deps.Log.Warn("rate limiter unavailable", "error", err)
		return c.Next()
	}
	if !ok {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(wait.Seconds())+1))
		return errs.E(errs.RateLimited, "rate_limited", "too many requests from this address; slow down and retry shortly")
	}
	return c.Next()
}

const principalLocal = "principal"

// authenticate resolves the bearer token or API key, opens the request's
// tenant transaction for the token's tenant, checks the route's permission
// and runs the rest of the chain inside that transaction: the handler's nil
// commits, an error rolls back.
func (s *Server) authenticate(r httpx.Route) fiber.Handler {
	perm := tenants.Permission(r.Perm)
	gated := s.deps.Billing.Enabled() && !r.AllowReadOnly && r.Method != fiber.MethodGet && r.Method != fiber.MethodHead
	return func(c *fiber.Ctx) error {
		token := c.Get("X-API-Key")
		if h := c.Get(fiber.HeaderAuthorization); token == "" && h != "" {
			scheme, rest, _ := strings.Cut(h, " ")
			if !strings.EqualFold(scheme, "Bearer") {
				return errs.E(errs.Unauthenticated, "invalid_token", `use "Authorization: Bearer <token>"`)
			}
			token = strings.TrimSpace(rest)
		}
		if token == "" {
			return errs.E(errs.Unauthenticated, "missing_token", "log in first: send Authorization: Bearer <token>")
		}
		auth, err := s.deps.Tenants.NewAuth(token)
		if err != nil {
			return err
		}
		tenantID, lead := auth.Tenant(), auth.Lead()
		check := func(ctx context.Context) (*tenants.Principal, error) {
			p, err := auth.Principal(ctx)
			if err != nil {
				return nil, err
			}
			c.Locals(principalLocal, p)
			if !p.Has(perm) {
				return nil, errs.E(errs.Forbidden, "forbidden", "your role does not allow this ("+string(perm)+")")
			}
			if gated && p.Access.ReadOnly() {
				return nil, errs.E(errs.PaymentRequired, "subscription_inactive", p.Access.Message()).
					WithDetails(map[string]any{"status": p.Access.Status, "reason": p.Access.Reason})
			}
			return p, s.apiCallQuota(ctx, c, p)
		}
		if r.External {
			// Authenticate, commit, then run the handler outside any
			// transaction: it calls Stripe and opens its own.
			var p *tenants.Principal
			if err := s.deps.Pool.TxLead(c.UserContext(), tenantID, &lead, func(ctx context.Context, _ *gorm.DB) (err error) {
				p, err = check(ctx)
				return err
			}); err != nil {
				return err
			}
			c.SetUserContext(tenants.WithPrincipal(c.UserContext(), p))
			return c.Next()
		}
		return s.deps.Pool.TxLead(c.UserContext(), tenantID, &lead, func(ctx context.Context, _ *gorm.DB) error {
			p, err := check(ctx)
			if err != nil {
				return err
			}
			c.SetUserContext(tenants.WithPrincipal(ctx, p))
			return c.Next()
		})
	}
}
