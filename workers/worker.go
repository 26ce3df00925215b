// Package workers runs background work on Asynq: the task server, the
// periodic scheduler, and the task handlers. Handlers call domain services
// inside tenant transactions; payloads carry ids, never state.
package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/circulation"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/api/opac"
	"github.com/stacks-ils/stacks/api/reports"
	"github.com/stacks-ils/stacks/api/serials"
	"github.com/stacks-ils/stacks/api/tz"
	"github.com/stacks-ils/stacks/billing"
	"github.com/stacks-ils/stacks/tenants"
)

// Queues and their weights: user-facing work first, maintenance last.
var Queues = map[string]int{"critical": 6, "notices": 3, "reports": 2, "maintenance": 1}

// Task types.
const (
	TypePurgeSessions       = "maintenance:purge_sessions"        // fan-out over tenants
	TypePurgeTenantSessions = "maintenance:purge_sessions:tenant" // one tenant
	TypeImportMARC          = "catalog:import_marc"               // one import job
)

// Options configure the worker.
type Options struct {
	Concurrency     int           // default 10
	ShutdownTimeout time.Duration // running tasks get this long to finish; default 25s
	Now             func() time.Time
	// RetryDelay overrides asynq's exponential backoff, and CheckInterval
	// how often retries and scheduled tasks are looked for (tests).
	RetryDelay    asynq.RetryDelayFunc
	CheckInterval time.Duration
	// NoticeConcurrency bounds the notices delivered at once by this
	// process (default 2): a morning's notices then take seconds longer but
	// leave the desk its speed (checkout p99 doubled at most, measured).
	NoticeConcurrency int
	// MaintenanceHour is the local hour (in each library's time zone) from
	// which the nightly circulation job runs; default 02:00.
	MaintenanceHour int
}

// Worker is the Asynq server plus scheduler.
type Worker struct {
	log     *slog.Logger
	pool    *tenants.Pool
	tenants *tenants.Service
	catalog *catalog.Service
	circ    *circulation.Service
	notices *notices.Service
	reports *reports.Service
	billing *billing.Service
	serials *serials.Service
	opac    *opac.Service
	sending chan struct{} // NoticeConcurrency slots
	srv     *asynq.Server
	sched   *asynq.Scheduler
	client  *asynq.Client
	mux     *asynq.ServeMux
	opt     Options
}

// New builds a worker on the Redis at redisOpt.
func New(redisOpt asynq.RedisConnOpt, svc *tenants.Service, cat *catalog.Service, log *slog.Logger, o Options) *Worker {
	if o.Concurrency <= 0 {
		o.Concurrency = 10
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 25 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NoticeConcurrency <= 0 {
		o.NoticeConcurrency = 2
	}
	if o.MaintenanceHour <= 0 || o.MaintenanceHour > 23 {
		o.MaintenanceHour = MaintenanceHour
	}
	w := &Worker{log: log, pool: svc.Pool(), tenants: svc, catalog: cat, opt: o, client: asynq.NewClient(redisOpt), mux: asynq.NewServeMux(),
		sending: make(chan struct{}, o.NoticeConcurrency)}
	w.srv = asynq.NewServer(redisOpt, asynq.Config{
		Concurrency:     o.Concurrency,
		Queues:          Queues,
		ShutdownTimeout: o.ShutdownTimeout,
		Logger:          slogAdapter{log},
		RetryDelayFunc:  retryDelay(o.RetryDelay),
		// A notice held back by its library's sending limit waits its turn;
		// that is not a failed attempt and uses none of its retries.
		IsFailure: func(err error) bool {
			var rl *notices.RateLimited
			var busy *notices.Busy
			return !errors.As(err, &rl) && !errors.As(err, &busy)
		},
		DelayedTaskCheckInterval: o.CheckInterval,
		TaskCheckInterval:        o.CheckInterval,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			log.Error("task failed", "type", t.Type(), "error", err)
		}),
	})
	w.sched = asynq.NewScheduler(redisOpt, &asynq.SchedulerOpts{Logger: slogAdapter{log}, Location: time.UTC})
	w.mux.HandleFunc(TypePurgeSessions, w.handlePurgeSessions)
	w.mux.HandleFunc(TypePurgeTenantSessions, w.handlePurgeTenantSessions)
	w.mux.HandleFunc(TypeImportMARC, w.handleImportMARC)
	w.mux.HandleFunc(TypeNoticeSend, w.handleNoticeSend)
	w.mux.HandleFunc(TypeNoticesDaily, w.handleNoticesDaily)
	w.mux.HandleFunc(TypeNoticesDailyTenant, w.handleNoticesDailyTenant)
	w.mux.HandleFunc(TypeCirculationDaily, w.handleCirculationDaily)
	w.mux.HandleFunc(TypeCirculationDailyTenant, w.handleCirculationDailyTenant)
	w.mux.HandleFunc(TypeReportsDue, w.handleReportsDue)
	w.mux.HandleFunc(TypeReportRun, w.handleReportRun)
	w.mux.HandleFunc(TypeReportsRollup, w.handleReportsRollup)
	w.mux.HandleFunc(TypeBillingEvent, w.handleBillingEvent)
	w.mux.HandleFunc(TypeBillingQuantity, w.handleBillingQuantity)
	w.mux.HandleFunc(TypeSerialsClaims, w.handleSerialsClaims)
	w.mux.HandleFunc(TypeSerialsClaimsTenant, w.handleSerialsClaimsTenant)
	return w
}

// Start runs the server and the scheduler in the background.
func (w *Worker) Start() error {
	// Hourly fan-out; the per-tenant task id is per day, so at most one
	// purge per tenant per day whatever the number of schedulers.
	if _, err := w.sched.Register("@hourly", asynq.NewTask(TypePurgeSessions, nil),
		asynq.Queue("maintenance"), asynq.Unique(55*time.Minute)); err != nil {
		return fmt.Errorf("worker: register schedule: %w", err)
	}
	// Every 15 minutes: each tenant's nightly circulation job starts within
	// 15 minutes of its local MaintenanceHour.
	if _, err := w.sched.Register("*/15 * * * *", asynq.NewTask(TypeCirculationDaily, nil),
		asynq.Queue("maintenance"), asynq.Unique(14*time.Minute)); err != nil {
		return fmt.Errorf("worker: register schedule: %w", err)
	}
	// Serials claims: like the circulation job, from MaintenanceHour local.
	if _, err := w.sched.Register("*/15 * * * *", asynq.NewTask(TypeSerialsClaims, nil),
		asynq.Queue("maintenance"), asynq.Unique(14*time.Minute)); err != nil {
		return fmt.Errorf("worker: register schedule: %w", err)
	}
	if _, err := w.sched.Register("*/15 * * * *", asynq.NewTask(TypeNoticesDaily, nil),
		asynq.Queue("notices"), asynq.Unique(14*time.Minute)); err != nil {
		return fmt.Errorf("worker: register schedule: %w", err)
	}
	if _, err := w.sched.Register("*/15 * * * *", asynq.NewTask(TypeReportsDue, nil),
		asynq.Queue("reports"), asynq.Unique(14*time.Minute)); err != nil {
		return fmt.Errorf("worker: register schedule: %w", err)
	}
	if err := w.srv.Start(w.mux); err != nil {
		return fmt.Errorf("worker: start server: %w", err)
	}
	if err := w.sched.Start(); err != nil {
		w.srv.Shutdown()
		return fmt.Errorf("worker: start scheduler: %w", err)
	}
	return nil
}

// Shutdown stops taking tasks, lets running ones finish within the
// timeout, and leaves the rest in Redis for the next worker.
func (w *Worker) Shutdown() {
	w.sched.Shutdown()
	w.srv.Shutdown()
	w.client.Close()
}

// tenantPayload is the payload of per-tenant tasks.
// eachTenantFrom calls fn, for every active tenant whose local time has
// reached hour, with the tenant's local date. The daily fan-outs use it
// with a task id per tenant and local date, so however often they run (every
// 15 minutes, two schedulers, a restart) a tenant gets one run per day.
func (w *Worker) eachTenantFrom(ctx context.Context, hour int, fn func(t tenants.Tenant, day string) error) error {
	return w.eachTenant(ctx, func(t tenants.Tenant, local time.Time) error {
		if local.Hour() < hour {
			return nil
		}
		return fn(t, local.Format(time.DateOnly))
	})
}

// eachTenant calls fn for every active tenant with the time now in its
// time zone (UTC when the zone is unknown).
func (w *Worker) eachTenant(ctx context.Context, fn func(t tenants.Tenant, local time.Time) error) error {
	ts, err := w.pool.ActiveTenants(ctx)
	if err != nil {
		return err
	}
	now := w.opt.Now()
	for _, t := range ts {
		loc := tz.OrUTC(t.Timezone)
		if err := fn(t, now.In(loc)); err != nil {
			return err
		}
	}
	return nil
}

type tenantPayload struct {
	TenantID uuid.UUID `json:"tenant_id"`
	AsOf     string    `json:"as_of"` // YYYY-MM-DD
}

// handlePurgeSessions fans the session purge out to every active tenant.
func (w *Worker) handlePurgeSessions(ctx context.Context, _ *asynq.Task) error {
	ts, err := w.pool.ActiveTenants(ctx)
	if err != nil {
		return err
	}
	day := w.opt.Now().UTC().Format(time.DateOnly)
	for _, t := range ts {
		payload, _ := json.Marshal(tenantPayload{TenantID: t.ID, AsOf: day})
		_, err := w.client.EnqueueContext(ctx, asynq.NewTask(TypePurgeTenantSessions, payload),
			asynq.Queue("maintenance"), asynq.TaskID(TypePurgeTenantSessions+":"+t.ID.String()+":"+day),
			asynq.Retention(48*time.Hour), asynq.MaxRetry(5))
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("enqueue purge for %s: %w", t.ID, err)
		}
	}
	return nil
}

func (w *Worker) handlePurgeTenantSessions(ctx context.Context, t *asynq.Task) error {
	var p tenantPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == uuid.Nil {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	n, err := w.tenants.PurgeSessions(ctx, p.TenantID)
	if err != nil {
		if errs.KindOf(err) == errs.Invalid {
			return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		}
		return err
	}
	w.log.Info("sessions purged", "tenant_id", p.TenantID, "deleted", n)
	return nil
}

// retryDelay waits out a notice's rate limit or another delivery's claim,
// and otherwise uses the
// configured backoff (asynq's exponential one by default).
func retryDelay(custom asynq.RetryDelayFunc) asynq.RetryDelayFunc {
	if custom == nil {
		custom = asynq.DefaultRetryDelayFunc
	}
	return func(n int, err error, t *asynq.Task) time.Duration {
		var rl *notices.RateLimited
		if errors.As(err, &rl) {
			return rl.RetryIn
		}
		var busy *notices.Busy
		if errors.As(err, &busy) {
			return busy.RetryIn
		}
		return custom(n, err, t)
	}
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a slogAdapter) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a slogAdapter) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a slogAdapter) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a slogAdapter) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }
