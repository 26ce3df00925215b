package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/reports"
	"github.com/stacks-ils/stacks/tenants"
)

// Scheduled reports: every 15 minutes a fan-out looks, in each library, for
// active schedules whose local hour has come in a period (day, ISO week,
// month) that has no run yet, and enqueues one build per schedule and
// period with the id reports:<tenant>:<schedule>:<period>. The build
// records its run under the unique (schedule, period) key first, so two
// schedulers, a restart or a retry never build or send a period twice.
const (
	TypeReportsDue    = "reports:due"    // fan-out
	TypeReportRun     = "reports:run"    // one run
	TypeReportsRollup = "reports:rollup" // one library's circulation aggregates, once a local day
)

// rollupHour is the local hour from which the circulation aggregates are
// rolled up (after the nightly circulation job's hour, before opening).
const rollupHour = 3

// reportMaxRetry: a failing build is retried with backoff, then marked
// failed with its error in GET /report-runs.
const reportMaxRetry = 5

type reportRunPayload struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	ScheduleID uuid.UUID `json:"schedule_id,omitempty"`
	Period     string    `json:"period,omitempty"`
	RunID      uuid.UUID `json:"run_id,omitempty"` // run now
}

func (c *Client) enqueueReport(ctx context.Context, p reportRunPayload, id string) error {
	payload, _ := json.Marshal(p)
	_, err := c.c.EnqueueContext(ctx, asynq.NewTask(TypeReportRun, payload), asynq.Queue("reports"), asynq.TaskID(id),
		asynq.MaxRetry(reportMaxRetry), asynq.Timeout(10*time.Minute), asynq.Retention(72*time.Hour))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue report run %s: %w", id, err)
	}
	return nil
}

// EnqueueReportRun queues a run-now build (it implements reports.Enqueuer).
func (c *Client) EnqueueReportRun(ctx context.Context, tenantID, runID uuid.UUID) error {
	return c.enqueueReport(ctx, reportRunPayload{TenantID: tenantID, RunID: runID}, TypeReportRun+":"+runID.String())
}

// ReportTaskID is the task id of a schedule's build for a period.
func ReportTaskID(tenantID, scheduleID uuid.UUID, period string) string {
	return "reports:" + tenantID.String() + ":" + scheduleID.String() + ":" + period
}

// SetReports connects the reports service whose schedules this worker runs.
func (w *Worker) SetReports(r *reports.Service) *Worker {
	w.reports = r
	return w
}

func (w *Worker) handleReportsDue(ctx context.Context, _ *asynq.Task) error {
	if w.reports == nil {
		return nil
	}
	enq := &Client{c: w.client}
	return w.eachTenant(ctx, func(t tenants.Tenant, local time.Time) error {
		var due []reports.Due
		if err := w.pool.Tx(ctx, t.ID, func(ctx context.Context, _ *gorm.DB) (err error) {
			due, err = w.reports.DueSchedules(ctx, local)
			return err
		}); err != nil {
			return fmt.Errorf("due reports of %s: %w", t.ID, err)
		}
		for _, d := range due {
			p := reportRunPayload{TenantID: t.ID, ScheduleID: d.ScheduleID, Period: d.Period}
			if err := enq.enqueueReport(ctx, p, ReportTaskID(t.ID, d.ScheduleID, d.Period)); err != nil {
				return err
			}
		}
		if local.Hour() >= rollupHour {
			payload, _ := json.Marshal(tenantPayload{TenantID: t.ID, AsOf: local.Format(time.DateOnly)})
			_, err := enq.c.EnqueueContext(ctx, asynq.NewTask(TypeReportsRollup, payload), asynq.Queue("maintenance"),
				asynq.TaskID(TypeReportsRollup+":"+t.ID.String()+":"+local.Format(time.DateOnly)), asynq.Retention(48*time.Hour))
			if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
				return fmt.Errorf("enqueue aggregate rollup for %s: %w", t.ID, err)
			}
		}
		return nil
	})
}

func (w *Worker) handleReportsRollup(ctx context.Context, t *asynq.Task) error {
	var p tenantPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == uuid.Nil {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	if w.reports == nil {
		return nil
	}
	return w.pool.Tx(ctx, p.TenantID, func(ctx context.Context, _ *gorm.DB) error { return w.reports.Rollup(ctx) })
}

func (w *Worker) handleReportRun(ctx context.Context, t *asynq.Task) error {
	var p reportRunPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == uuid.Nil || (p.RunID == uuid.Nil && p.ScheduleID == uuid.Nil) {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	if w.reports == nil {
		return errors.New("reports not connected")
	}
	runID := p.RunID
	if runID == uuid.Nil {
		var done bool
		err := w.pool.Tx(ctx, p.TenantID, func(ctx context.Context, _ *gorm.DB) error {
			var err error
			runID, done, err = w.reports.StartScheduledRun(ctx, p.ScheduleID, p.Period)
			return err
		})
		if errs.KindOf(err) == errs.NotFound {
			return fmt.Errorf("schedule deleted: %w", asynq.SkipRetry)
		}
		if err != nil || done {
			return err
		}
	}
	start := time.Now()
	err := w.pool.Tx(ctx, p.TenantID, func(ctx context.Context, _ *gorm.DB) error {
		return w.reports.BuildRun(ctx, runID)
	})
	if err == nil {
		w.log.Info("report built", "tenant_id", p.TenantID, "run_id", runID, "period", p.Period, "duration", time.Since(start))
		return nil
	}
	// A report that cannot be built as asked (parameters no longer valid,
	// too large) fails at once; anything else is retried.
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	final := retried >= maxRetry || errs.KindOf(err) != errs.Internal
	if ferr := w.pool.Tx(context.WithoutCancel(ctx), p.TenantID, func(ctx context.Context, _ *gorm.DB) error {
		return w.reports.FailRun(ctx, runID, err, final)
	}); ferr != nil {
		w.log.Error("record report failure", "tenant_id", p.TenantID, "run_id", runID, "error", ferr)
	}
	if final {
		return fmt.Errorf("report run %s: %w: %w", runID, err, asynq.SkipRetry)
	}
	return fmt.Errorf("report run %s: %w", runID, err)
}
