// Command stacks is the Stacks library system: API server, background
// worker, migrations and a one-process development mode.
//
//	stacks serve     the HTTP API
//	stacks worker    background jobs (Asynq server and scheduler)
//	stacks migrate   apply database migrations as the owner
//	stacks dev       migrate, seed the demo library, run API and worker together
//	stacks seed      create the demo library if missing
//	stacks import    load a MARC file into a library's catalogue
//	stacks healthcheck  probe /readyz (for container healthchecks)
//	stacks version   print the version
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // time zones work in minimal containers too

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/stacks-ils/stacks/api"
	"github.com/stacks-ils/stacks/api/acquisitions"
	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/circulation"
	"github.com/stacks-ils/stacks/api/circulation/policy"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/api/notices/devmail"
	"github.com/stacks-ils/stacks/api/opac"
	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/api/ratelimit"
	"github.com/stacks-ils/stacks/api/reports"
	"github.com/stacks-ils/stacks/api/serials"
	"github.com/stacks-ils/stacks/billing"
	"github.com/stacks-ils/stacks/migrations"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/workers"
)

// version is set with -ldflags "-X main.version=..."; otherwise the VCS
// revision from the build info is used.
var version = ""

const usage = `usage: stacks <command>

commands:
  serve     run the HTTP API
  worker    run background jobs (Asynq server and scheduler)
  migrate   apply database migrations (DATABASE_URL must be the owner or a superuser)
  dev       migrate, seed the demo library, and run API and worker in one process
  seed      create the demo library if it does not exist
  import marc FILE --tenant SLUG [--match skip|overlay|add] [--items-from 852|952]
            load a MARC file (ISO 2709, MARCXML, MARC-in-JSON) into a library's catalogue
  version   print the version

configuration is read from the environment; see README.md.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stacks:", err)
		os.Exit(2)
	}
	log := newLogger(cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	switch os.Args[1] {
	case "serve":
		err = run(ctx, cfg, log, true, false)
	case "worker":
		err = run(ctx, cfg, log, false, true)
	case "migrate":
		if err = ensureDatabase(ctx, cfg.DatabaseURL); err == nil {
			err = migrations.Up(ctx, cfg.DatabaseURL, log)
		}
	case "dev":
		err = dev(ctx, cfg, log)
	case "seed":
		err = seed(ctx, cfg, log)
	case "import":
		err = importMARC(ctx, cfg, log, os.Args[2:])
	case "gen":
		err = genCatalog(ctx, cfg, log, os.Args[2:])
	case "healthcheck":
		err = healthcheck(cfg, os.Args[2:])
	case "version":
		fmt.Println(versionString())
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "stacks: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		log.Error("stacks: "+os.Args[1]+" failed", "error", err)
		os.Exit(1)
	}
}

// config is the environment, with defaults that work on a developer's
// machine with local Postgres and Redis.
type config struct {
	DatabaseURL, AppDatabaseURL, RedisURL string
	HTTPAddr, BaseURL, LogLevel           string
	MetricsToken, ProxyHeader             string
	SMTPURL, MailFrom                     string
	AdminToken                            string
	ReportLinkSecret                      string
	Billing                               billing.Config
	RateLimitPerMinute, SignupsPerHour    int
	DBMaxConns, WorkerConcurrency         int
	NoticesPerMinute, NoticeConcurrency   int
	MaintenanceHour                       int
	SessionTTL                            time.Duration
	ImportMaxBytes                        int64
}

func loadConfig() (config, error) {
	c := config{
		DatabaseURL:    env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/stacks?sslmode=disable"),
		AppDatabaseURL: os.Getenv("APP_DATABASE_URL"),
		RedisURL:       env("REDIS_URL", "redis://127.0.0.1:6379/0"),
		HTTPAddr:       env("HTTP_ADDR", ":8080"),
		BaseURL:        os.Getenv("BASE_URL"),
		LogLevel:       env("LOG_LEVEL", "info"),
		MetricsToken:   os.Getenv("METRICS_TOKEN"),
		ProxyHeader:    os.Getenv("PROXY_HEADER"),
		SMTPURL:        os.Getenv("SMTP_URL"),
		MailFrom:       os.Getenv("MAIL_FROM"),
		AdminToken:     os.Getenv("ADMIN_TOKEN"),
		// Signs the download links of mailed reports; the same value on
		// every API process. Empty: large reports are mailed as a pointer
		// to the run in the API instead.
		ReportLinkSecret: os.Getenv("REPORT_LINK_SECRET"),
		Billing: billing.Config{SecretKey: os.Getenv("STRIPE_SECRET_KEY"), WebhookSecret: os.Getenv("STRIPE_WEBHOOK_SECRET"),
			APIBase: os.Getenv("STRIPE_API_BASE"), PlansFile: os.Getenv("BILLING_PLANS_FILE"),
			PortalURL: os.Getenv("BILLING_PORTAL_URL")},
	}
	var err error
	ints := []struct {
		name string
		def  int
		dst  *int
	}{
		{"RATE_LIMIT_PER_MINUTE", 1200, &c.RateLimitPerMinute},
		{"SIGNUP_RATE_LIMIT", 20, &c.SignupsPerHour},
		{"DB_MAX_CONNS", 20, &c.DBMaxConns},
		{"WORKER_CONCURRENCY", 10, &c.WorkerConcurrency},
		{"NOTICES_PER_MINUTE", 120, &c.NoticesPerMinute},
		{"NOTICE_CONCURRENCY", 2, &c.NoticeConcurrency},
		{"MAINTENANCE_HOUR", 2, &c.MaintenanceHour},
		{"BILLING_GRACE_DAYS", 14, &c.Billing.GraceDays},
		{"BILLING_RETENTION_DAYS", 90, &c.Billing.RetentionDays},
	}
	for _, i := range ints {
		if *i.dst, err = strconv.Atoi(env(i.name, strconv.Itoa(i.def))); err != nil {
			return c, fmt.Errorf("%s must be a whole number", i.name)
		}
	}
	if c.ImportMaxBytes, err = strconv.ParseInt(env("IMPORT_MAX_BYTES", strconv.Itoa(2<<30)), 10, 64); err != nil || c.ImportMaxBytes <= 0 {
		return c, fmt.Errorf("IMPORT_MAX_BYTES must be a positive number of bytes")
	}
	if c.SessionTTL, err = time.ParseDuration(env("SESSION_TTL", "12h")); err != nil || c.SessionTTL <= 0 {
		return c, fmt.Errorf("SESSION_TTL must be a duration such as 12h")
	}
	if c.AppDatabaseURL == "" {
		if c.AppDatabaseURL, err = migrations.AppURL(c.DatabaseURL); err != nil {
			return c, err
		}
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://localhost" + c.HTTPAddr
		if !strings.HasPrefix(c.HTTPAddr, ":") {
			c.BaseURL = "http://" + c.HTTPAddr
		}
	}
	c.Billing.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c, nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return "dev-" + s.Value[:min(12, len(s.Value))]
			}
		}
	}
	return "dev"
}

// services are the process's connections, closed in reverse order.
type services struct {
	pool    *tenants.Pool
	rdb     *redis.Client
	redis   asynq.RedisConnOpt
	tenants *tenants.Service
	counter *ratelimit.Counter
}

func open(ctx context.Context, cfg config) (*services, error) {
	ropt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	aopt, err := asynq.ParseRedisURI(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	pool, err := tenants.Open(ctx, cfg.AppDatabaseURL, tenants.PoolOptions{MaxOpenConns: cfg.DBMaxConns})
	if err != nil {
		return nil, fmt.Errorf("connect as %s (run `stacks migrate` first, or set APP_DATABASE_URL): %w", migrations.AppRole, err)
	}
	rdb := redis.NewClient(ropt)
	if err := rdb.Ping(ctx).Err(); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to redis: %w", err)
	}
	counter := ratelimit.New(rdb, "stacks:")
	svc := tenants.NewService(pool, counter, tenants.Options{SessionTTL: cfg.SessionTTL, SignupsPerIPPerHour: cfg.SignupsPerHour})
	return &services{pool: pool, rdb: rdb, redis: aopt, tenants: svc, counter: counter}, nil
}

// openTenant connects and finds the tenant a command-line tool works on.
func openTenant(ctx context.Context, cfg config, slug string) (*services, *tenants.Tenant, error) {
	svc, err := open(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	t, err := svc.pool.TenantBySlug(ctx, slug)
	if err == nil && t == nil {
		err = fmt.Errorf("no tenant with slug %q", slug)
	}
	if err != nil {
		svc.close()
		return nil, nil, err
	}
	return svc, t, nil
}

func (s *services) close() {
	s.rdb.Close()
	s.pool.Close()
}

// run serves the API and/or runs the worker until ctx ends, then shuts
// down in order: stop accepting and finish in-flight requests, stop the
// worker (running tasks finish), close the pools.
func run(ctx context.Context, cfg config, log *slog.Logger, serveAPI, runWorker bool) error {
	svc, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer svc.close()

	enq := workers.NewClient(svc.redis)
	defer enq.Close()
	cat := catalog.NewService(svc.tenants).SetJobs(enq, log)
	cat.MaxImportBytes = cfg.ImportMaxBytes
	var mailer notices.Mailer
	if cfg.SMTPURL != "" {
		m, err := notices.NewSMTP(cfg.SMTPURL, cfg.MailFrom)
		if err != nil {
			return err
		}
		mailer = m
	} else if runWorker {
		log.Warn("SMTP_URL is not set: notices stay in the outbox as pending until it is")
	}
	nots := notices.NewService(svc.pool, enq, mailer, log).SetRateLimit(svc.counter, cfg.NoticesPerMinute, time.Minute)
	pat := patrons.NewService(svc.tenants)
	pol := policy.NewService(svc.tenants)
	circ := circulation.NewService(svc.tenants, cat, pat, pol).SetNotices(nots)
	reps := reports.NewService(svc.pool, log).SetEnqueuer(enq).SetNotices(nots).SetLinks(cfg.BaseURL, []byte(cfg.ReportLinkSecret))
	op := opac.NewService(svc.pool, circ, pat, cfg.BaseURL, log)
	nots.SetLinks(op)
	bill, err := billing.New(cfg.Billing, svc.pool, nots, log)
	if err != nil {
		return err
	}
	bill.SetEnqueuer(enq)
	if bill.Enabled() {
		svc.tenants.SetBilling(bill)
	} else if serveAPI {
		log.Info("STRIPE_SECRET_KEY is not set: billing is off, every library has full access")
	}
	acq := acquisitions.NewService(svc.tenants, cat).SetNotices(nots)
	ser := serials.NewService(svc.tenants, cat, acq).SetMailer(nots).SetEnqueuer(enq, log)
	var w *workers.Worker
	if runWorker {
		w = workers.New(svc.redis, svc.tenants, cat, log, workers.Options{Concurrency: cfg.WorkerConcurrency,
			NoticeConcurrency: cfg.NoticeConcurrency, MaintenanceHour: cfg.MaintenanceHour}).
			SetCirculation(circ).SetNotices(nots).SetBilling(bill).SetOPAC(op).SetAcquisitions(acq).SetReports(reps).SetSerials(ser)
		if err := w.Start(); err != nil {
			return err
		}
		log.Info("worker started", "queues", workers.Queues)
	}
	var srv *api.Server
	errc := make(chan error, 1)
	if serveAPI {
		srv = api.New(api.Config{
			RateLimitPerMinute: cfg.RateLimitPerMinute, ProxyHeader: cfg.ProxyHeader,
			MetricsToken: cfg.MetricsToken, AdminToken: cfg.AdminToken, HSTS: strings.HasPrefix(cfg.BaseURL, "https://"),
		}, api.Deps{Log: log, Pool: svc.pool, Redis: svc.rdb, Counter: svc.counter, Tenants: svc.tenants,
			Catalog: cat, Patrons: pat, Policy: pol, Circulation: circ, Notices: nots, Billing: bill, OPAC: op, Queues: svc.redis,
			Acquisitions: acq, Reports: reps, Serials: ser})
		queues := workers.NewQueueCollector(svc.redis)
		defer queues.Close()
		srv.Registry().MustRegister(queues)
		go func() { errc <- srv.App.Listen(cfg.HTTPAddr) }()
		log.Info("api listening", "addr", cfg.HTTPAddr, "base_url", cfg.BaseURL, "version", versionString())
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-errc:
		err = fmt.Errorf("http server: %w", err)
	}
	if srv != nil {
		if serr := srv.App.ShutdownWithTimeout(25 * time.Second); serr != nil {
			log.Error("http shutdown", "error", serr)
		}
	}
	if w != nil {
		w.Shutdown()
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("stopped")
	return nil
}

func seed(ctx context.Context, cfg config, log *slog.Logger) error {
	svc, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer svc.close()
	created, err := svc.tenants.SeedDemo(ctx)
	if err != nil {
		return err
	}
	if created {
		log.Info("demo library created", "tenant", tenants.DemoSlug)
	}
	t, err := svc.pool.TenantBySlug(ctx, tenants.DemoSlug)
	if err != nil {
		return err
	}
	n, err := catalog.NewService(svc.tenants).SetJobs(nil, log).SeedDemo(ctx, t.ID, []string{"MAIN", "EAST"})
	if err != nil {
		return fmt.Errorf("seed demo catalogue: %w", err)
	}
	if n > 0 {
		log.Info("demo catalogue loaded", "records", n)
	}
	if n, err = patrons.NewService(svc.tenants).SeedDemo(ctx, t.ID, []string{"MAIN", "EAST"}); err != nil {
		return fmt.Errorf("seed demo patrons: %w", err)
	}
	if n > 0 {
		log.Info("demo patrons registered", "patrons", n, "cards", "21000001..")
	}
	printDemo(cfg)
	return nil
}

func dev(ctx context.Context, cfg config, log *slog.Logger) error {
	if err := ensureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	if err := migrations.Up(ctx, cfg.DatabaseURL, log); err != nil {
		return err
	}
	if err := seed(ctx, cfg, log); err != nil {
		return err
	}
	if cfg.SMTPURL == "" {
		// No mail provider on a developer's machine: keep the mail and show
		// it on a page instead.
		sink, err := devmail.Listen(env("DEV_SMTP_ADDR", "127.0.0.1:1025"))
		if err != nil {
			return fmt.Errorf("dev mail server: %w", err)
		}
		defer sink.Close()
		page := env("DEV_MAIL_ADDR", "127.0.0.1:8025")
		srv := &http.Server{Addr: page, Handler: sink.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go srv.ListenAndServe()
		defer srv.Close()
		cfg.SMTPURL, cfg.MailFrom = "smtp://"+sink.Addr(), "Stacks <library@stacks.localhost>"
		fmt.Printf("  Mail:          notices are caught at smtp://%s and shown at http://%s\n", sink.Addr(), page)
	}
	return run(ctx, cfg, log, true, true)
}

func printDemo(cfg config) {
	fmt.Printf(`
  Stacks is ready at %s
  Demo library:  tenant %q
  Owner:         %s / %s
  Other staff:   manager@, librarian@, desk@, cataloger@, orders@, viewer@demo.test (same password)
  Patrons:       cards 21000001 to 21000014; items: barcodes 390000000001 and up
  Try:           curl -s %s/api/v1/auth/login -H 'Content-Type: application/json' \
                   -d '{"tenant":"%s","email":"%s","password":"%s"}'

`, cfg.BaseURL, tenants.DemoSlug, tenants.DemoEmail, tenants.DemoPassword, cfg.BaseURL, tenants.DemoSlug, tenants.DemoEmail, tenants.DemoPassword)
}

// healthcheck probes the server's readiness for container runtimes whose
// image has no curl (distroless).
func healthcheck(cfg config, args []string) error {
	target := "http://127.0.0.1" + cfg.HTTPAddr + "/readyz"
	if !strings.HasPrefix(cfg.HTTPAddr, ":") {
		target = "http://" + cfg.HTTPAddr + "/readyz"
	}
	if len(args) > 0 {
		target = args[0]
	}
	res, err := (&http.Client{Timeout: 3 * time.Second}).Get(target)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("healthcheck: %s answered %s", target, res.Status)
	}
	return nil
}
