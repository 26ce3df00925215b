package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/robfig/cron/v3"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/tenants"
)

// MaxFileBytes bounds a stored report file; a bigger report fails with a
// message saying to narrow it (the CSV endpoint streams any size).
const MaxFileBytes = 64 << 20

// Run is one build of a report: scheduled or run now.
type Run struct {
	ID          uuid.UUID  `json:"id"`
	ScheduleID  *uuid.UUID `json:"schedule_id"`
	Report      string     `json:"report"`
	Params      ParamMap   `json:"params"`
	Period      string     `json:"period"`
	Status      string     `json:"status"` // running | completed | failed
	Format      string     `json:"format"`
	ContentType string     `json:"content_type"`
	Filename    string     `json:"filename"`
	SizeBytes   int64      `json:"size_bytes"`
	RowCount    int64      `json:"row_count"`
	Attempts    int        `json:"attempts"`
	Error       string     `json:"error"`
	StartedAt   time.Time  `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at"`
	DurationMs  *int64     `json:"duration_ms"`
	CreatedAt   time.Time  `json:"created_at"`
}

const runCols = `id, schedule_id, report, params, period, status, format, content_type, filename, size_bytes, row_count,
  attempts, error, started_at, finished_at, duration_ms, created_at`

// GetRun loads a run (without its file).
func (s *Service) GetRun(ctx context.Context, id uuid.UUID) (*Run, error) {
	return findOne[Run](ctx, "no such report run", "SELECT "+runCols+" FROM report_runs WHERE id = ?", id)
}

// ListRuns lists runs in creation (id) order like every list, optionally
// of one schedule.
func (s *Service) ListRuns(ctx context.Context, scheduleID *uuid.UUID, page httpx.Page) ([]Run, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	q := db.Raw("SELECT "+runCols+" FROM report_runs WHERE id > ? ORDER BY id LIMIT ?", page.After, page.Limit+1)
	if scheduleID != nil {
		q = db.Raw("SELECT "+runCols+" FROM report_runs WHERE schedule_id = ? AND id > ? ORDER BY id LIMIT ?", *scheduleID, page.After, page.Limit+1)
	}
	var out []Run
	if err := q.Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("list report runs: %w", err)
	}
	return out, nil
}

func (s *Service) handleListRuns(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	sid, err := httpx.QueryUUID(c, "schedule_id")
	if err != nil {
		return err
	}
	rows, err := s.ListRuns(c.UserContext(), sid, page)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(r Run) uuid.UUID { return r.ID }))
}

// RunFile is a stored report file.
type RunFile struct {
	Filename, ContentType string
	Data                  []byte
}

// File returns a completed run's file.
func (s *Service) File(ctx context.Context, id uuid.UUID) (*RunFile, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var fs []struct {
		Filename, ContentType, Status string
		File                          []byte
	}
	if err := db.Raw("SELECT filename, content_type, status, file FROM report_runs WHERE id = ?", id).Scan(&fs).Error; err != nil {
		return nil, fmt.Errorf("report file: %w", err)
	}
	if len(fs) == 0 {
		return nil, errs.NotFoundf("no such report run")
	}
	if fs[0].Status != "completed" {
		return nil, errs.E(errs.Conflict, "run_not_completed", "this run has no file: it is "+fs[0].Status)
	}
	return &RunFile{Filename: fs[0].Filename, ContentType: fs[0].ContentType, Data: fs[0].File}, nil
}

func sendFile(c *fiber.Ctx, f *RunFile) error {
	c.Set(fiber.HeaderContentType, f.ContentType)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+f.Filename+`"`)
	return c.Send(f.Data)
}

func (s *Service) handleRunFile(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "report run")
	if err != nil {
		return err
	}
	f, err := s.File(c.UserContext(), id)
	if err != nil {
		return err
	}
	return sendFile(c, f)
}

// RunNow starts a run of a schedule outside its timetable: queued on the
// workers after the request commits, or built in the request when no
// worker queue is connected.
func (s *Service) RunNow(ctx context.Context, scheduleID uuid.UUID) (*Run, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	sc, err := s.GetSchedule(ctx, scheduleID)
	if err != nil {
		return nil, err
	}
	id := tenants.NewID()
	if err := db.Exec(`INSERT INTO report_runs (id, schedule_id, report, params, period, format) VALUES (?,?,?,?,?,?)`,
		id, sc.ID, sc.Report, sc.Params, "manual:"+id.String(), sc.Format).Error; err != nil {
		return nil, fmt.Errorf("insert report run: %w", err)
	}
	if s.enqueue == nil {
		if err := s.BuildRun(ctx, id); err != nil {
			return nil, err
		}
		return s.GetRun(ctx, id)
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	enq, log := s.enqueue, s.log
	if err := tenants.AfterCommit(ctx, func(ctx context.Context) {
		if err := enq.EnqueueReportRun(ctx, tenant, id); err != nil {
			log.Error("enqueue report run", "tenant_id", tenant, "run_id", id, "error", err)
		}
	}); err != nil {
		return nil, err
	}
	return s.GetRun(ctx, id)
}

// SetEnqueuer connects the worker queue for run-now requests.
func (s *Service) SetEnqueuer(e Enqueuer) *Service {
	s.enqueue = e
	return s
}

// Period is a schedule's period key at local time t, and whether the
// schedule is due (the local time has reached its hour on or after the
// period's first day): "2026-02-18" (daily), "2026-W08" (weekly, ISO),
// "2026-02" (monthly).
func Period(sc *Schedule, local time.Time) (key string, due bool) {
	if !slices.Contains(Frequencies, sc.Frequency) {
		return cronPeriod(sc.Frequency, local)
	}
	y, m, d := local.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, local.Location())
	var start time.Time
	switch sc.Frequency {
	case "weekly":
		start = day.AddDate(0, 0, -((int(local.Weekday()) + 6) % 7))
		iy, iw := local.ISOWeek()
		key = fmt.Sprintf("%04d-W%02d", iy, iw)
	case "monthly":
		start = time.Date(y, m, 1, 0, 0, 0, 0, local.Location())
		key = fmt.Sprintf("%04d-%02d", y, m)
	default:
		start = day
		key = date(day)
	}
	return key, !local.Before(start.Add(time.Duration(sc.Hour) * time.Hour))
}

// Due is a schedule whose current period has no run yet.
type Due struct {
	ScheduleID uuid.UUID
	Period     string
}

// DueSchedules lists, in the tenant transaction, the active schedules due
// at now (in the library's time zone) whose period has no run yet.
func (s *Service) DueSchedules(ctx context.Context, now time.Time) ([]Due, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	loc, err := tenants.Location(ctx)
	if err != nil {
		return nil, err
	}
	var scs []Schedule
	if err := db.Raw("SELECT * FROM report_schedules WHERE status = 'active' ORDER BY id").Scan(&scs).Error; err != nil {
		return nil, fmt.Errorf("active report schedules: %w", err)
	}
	var out []Due
	for i := range scs {
		key, due := Period(&scs[i], now.In(loc))
		if !due {
			continue
		}
		var n int64
		if err := db.Raw("SELECT count(*) FROM report_runs WHERE schedule_id = ? AND period = ?", scs[i].ID, key).Scan(&n).Error; err != nil {
			return nil, fmt.Errorf("report runs of schedule: %w", err)
		}
		if n == 0 {
			out = append(out, Due{ScheduleID: scs[i].ID, Period: key})
		}
	}
	return out, nil
}

// StartScheduledRun records the run of a schedule's period (one per
// schedule and period, whatever retries and schedulers do) and returns its
// id; done is true when that period's run already completed.
func (s *Service) StartScheduledRun(ctx context.Context, scheduleID uuid.UUID, period string) (id uuid.UUID, done bool, err error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return uuid.Nil, false, err
	}
	sc, err := s.GetSchedule(ctx, scheduleID)
	if err != nil {
		return uuid.Nil, false, err
	}
	var rows []struct {
		ID     uuid.UUID
		Status string
	}
	if err := db.Raw(`INSERT INTO report_runs AS r (id, schedule_id, report, params, period, format) VALUES (?,?,?,?,?,?)
ON CONFLICT (tenant_id, schedule_id, period) WHERE schedule_id IS NOT NULL DO UPDATE SET status = r.status
RETURNING r.id, r.status`, tenants.NewID(), sc.ID, sc.Report, sc.Params, period, sc.Format).Scan(&rows).Error; err != nil {
		return uuid.Nil, false, fmt.Errorf("report run of %s: %w", period, err)
	}
	return rows[0].ID, rows[0].Status == "completed", nil
}

// BuildRun builds a run's file in the tenant transaction of ctx, as the
// schedule's owner (their permissions decide patron columns), and stores
// it. Relative periods resolve against the local day of the build.
func (s *Service) BuildRun(ctx context.Context, runID uuid.UUID) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	run, err := s.GetRun(ctx, runID)
	if err != nil {
		return err
	}
	if run.Status == "completed" {
		return nil
	}
	var sc *Schedule
	if run.ScheduleID != nil {
		if sc, err = s.GetSchedule(ctx, *run.ScheduleID); err != nil {
			return err
		}
		owner, err := tenants.PrincipalForUser(ctx, sc.OwnerID)
		if err != nil {
			return fmt.Errorf("schedule owner: %w", err)
		}
		ctx = tenants.WithPrincipal(ctx, owner)
	}
	started := s.now()
	if err := db.Exec("UPDATE report_runs SET attempts = attempts + 1, started_at = ? WHERE id = ?", started, runID).Error; err != nil {
		return fmt.Errorf("start report run: %w", err)
	}
	pr, err := s.prepare(ctx, run.Report, map[string]string(run.Params))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	var rows int64
	ctype := "text/csv; charset=utf-8"
	switch run.Format {
	case "csv":
		err = writeCSV(&limitWriter{w: &buf, n: MaxFileBytes}, pr.q.cols, true, func(fn func([]any) error) error {
			return s.each(ctx, pr.q, func(row []any) error { rows++; return fn(row) })
		})
	case "json", "svg", "pdf":
		var res *Result
		if res, err = s.collect(ctx, pr); err == nil {
			rows = int64(len(res.Rows))
			switch run.Format {
			case "json":
				ctype = "application/json"
				err = json.NewEncoder(&buf).Encode(res)
			case "pdf":
				ctype = "application/pdf"
				var doc []byte
				if doc, err = PDF(pr.report, res); err == nil {
					buf.Write(doc)
				}
			default:
				ctype = "image/svg+xml"
				var svg []byte
				if svg, err = Chart(pr.report, res); err == nil {
					buf.Write(svg)
				}
			}
		}
	}
	if err != nil {
		return err
	}
	done := s.now()
	if err := db.Exec(`UPDATE report_runs SET status = 'completed', error = '', file = ?, size_bytes = ?, row_count = ?, content_type = ?,
  filename = ?, finished_at = ?, duration_ms = ? WHERE id = ?`, buf.Bytes(), buf.Len(), rows, ctype, pr.filename(run.Format),
		done, done.Sub(started).Milliseconds(), runID).Error; err != nil {
		return fmt.Errorf("store report run: %w", err)
	}
	if sc == nil {
		return nil
	}
	run.RowCount = rows
	return s.mailRun(ctx, sc, run, pr, buf.Bytes(), ctype)
}

// FailRun records a failed build (in a transaction of its own: the build's
// rolled back). final: no retry follows.
func (s *Service) FailRun(ctx context.Context, runID uuid.UUID, cause error, final bool) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	msg := "the report could not be built"
	if e := errs.As(cause); e != nil && e.Kind != errs.Internal {
		msg = e.Message
	}
	status := "running"
	if final {
		status = "failed"
	}
	done := s.now()
	res := db.Exec(`UPDATE report_runs SET status = ?, error = ?, finished_at = ?,
  duration_ms = (extract(epoch FROM (CAST(? AS timestamptz) - started_at)) * 1000)::bigint WHERE id = ? AND status <> 'completed'`,
		status, msg, done, done, runID)
	if res.Error != nil {
		return fmt.Errorf("record report failure: %w", res.Error)
	}
	if !final || res.RowsAffected == 0 {
		return nil
	}
	return s.mailFailure(ctx, runID, msg)
}

// ErrTooLarge is a report file over MaxFileBytes.
var ErrTooLarge = errs.E(errs.TooLarge, "report_too_large",
	fmt.Sprintf("the report is over %d MiB; narrow it (dates, branch) or download it as CSV from GET /api/v1/reports/{name}", MaxFileBytes>>20))

type limitWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if len(p) > l.n {
		return 0, ErrTooLarge
	}
	l.n -= len(p)
	return l.w.Write(p)
}

// Rollup moves the current library's circulation aggregates forward to a
// day before now (app.circ_rollup, migrations/0018_circ_rollup.sql); the
// workers run it once a day. Reports are exact without it, only slower
// the more events lie after the watermark.
func (s *Service) Rollup(ctx context.Context) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	if err := db.Exec("SELECT app.circ_rollup()").Error; err != nil {
		return fmt.Errorf("roll up circulation aggregates: %w", err)
	}
	return nil
}

// cronLookback is how far back a cron schedule's last tick is looked for:
// a tick missed while no worker ran (up to a day) still gets its run.
const cronLookback = 24 * time.Hour

// cronSchedule parses a five-field cron expression and refuses one that
// fires more than once an hour (a report is not a heartbeat).
func cronSchedule(expr string) (cron.Schedule, error) {
	sch, err := cron.ParseStandard(expr)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(strings.TrimSpace(expr), "@") || strings.Contains(expr, "TZ=") {
		return nil, fmt.Errorf("use five fields; the library's time zone applies")
	}
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 48; i++ {
		next := sch.Next(t)
		if i > 0 && next.Sub(t) < time.Hour {
			return nil, fmt.Errorf("it fires more than once an hour")
		}
		t = next
	}
	return sch, nil
}

// cronPeriod is a cron schedule's period at local time t: its last tick at
// or before t (within cronLookback), keyed by that tick's local time, so
// each tick gets one run.
func cronPeriod(expr string, local time.Time) (string, bool) {
	sch, err := cronSchedule(expr)
	if err != nil {
		return "", false
	}
	var last time.Time
	for tick := sch.Next(local.Add(-cronLookback)); !tick.After(local); tick = sch.Next(tick) {
		last = tick
	}
	if last.IsZero() {
		return "", false
	}
	return last.Format("2006-01-02T15:04"), true
}
