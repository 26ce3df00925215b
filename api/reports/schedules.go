package reports

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/tenants"
)

// Frequencies of a schedule: daily runs every local day, weekly every
// ISO week (from Monday), monthly every month (from the 1st), each at the
// first worker pass after the schedule's local hour.
var Frequencies = []string{"daily", "weekly", "monthly"}

// maxRecipients keeps a schedule from becoming a mailing list.
const maxRecipients = 20

// ParamMap is a report's parameters as stored (jsonb).
type ParamMap map[string]string

func (m *ParamMap) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	case nil:
		*m = ParamMap{}
		return nil
	default:
		return fmt.Errorf("ParamMap: cannot scan %T", src)
	}
	return json.Unmarshal(b, m)
}

func (m ParamMap) Value() (driver.Value, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// Schedule is a report built by the workers at the library's local hour.
type Schedule struct {
	ID         uuid.UUID       `json:"id"`
	Name       string          `json:"name"`
	Report     string          `json:"report"`
	Params     ParamMap        `json:"params"`
	Frequency  string          `json:"frequency"`
	Hour       int             `json:"hour"`
	Format     string          `json:"format"`
	Recipients tenants.Strings `json:"recipients"`
	Status     string          `json:"status"`
	OwnerID    uuid.UUID       `json:"owner_id"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

// ScheduleInput is the body of POST and PATCH /report-schedules; absent
// fields keep their value on PATCH.
type ScheduleInput struct {
	Name       *string   `json:"name"`
	Report     *string   `json:"report"`
	Params     ParamMap  `json:"params"`
	Frequency  *string   `json:"frequency"`
	Hour       *int      `json:"hour"`
	Format     *string   `json:"format"`
	Recipients *[]string `json:"recipients"`
}

func (s *Service) scheduleRoutes() []httpx.Route {
	read, write := string(tenants.PermReportsRead), string(tenants.PermReportsRead)
	sched := func(fn func(ctx context.Context, id uuid.UUID) (*Schedule, error)) fiber.Handler {
		return httpx.IDAction("report schedule", fiber.StatusOK, httpx.BodyOptional, func(ctx context.Context, id uuid.UUID, _ struct{}) (*Schedule, error) {
			return fn(ctx, id)
		})
	}
	return []httpx.Route{
		{Method: "GET", Path: "/api/v1/report-schedules", Perm: read, Summary: "List report schedules", Handler: s.handleListSchedules},
		{Method: "POST", Path: "/api/v1/report-schedules", Perm: write, Summary: "Schedule a report (daily, weekly or monthly at a local hour, to recipients)", Handler: httpx.Action(fiber.StatusCreated, httpx.BodyRequired, s.CreateSchedule)},
		{Method: "GET", Path: "/api/v1/report-schedules/:id", Perm: read, Summary: "Get a report schedule", Handler: httpx.IDGet("report schedule", s.GetSchedule)},
		{Method: "PATCH", Path: "/api/v1/report-schedules/:id", Perm: write, Summary: "Change a report schedule", Handler: httpx.IDAction("report schedule", fiber.StatusOK, httpx.BodyRequired, s.UpdateSchedule)},
		{Method: "DELETE", Path: "/api/v1/report-schedules/:id", Perm: write, Summary: "Delete a report schedule (its runs stay)", Handler: s.handleDeleteSchedule},
		{Method: "POST", Path: "/api/v1/report-schedules/:id/pause", Perm: write, Summary: "Pause a report schedule", Handler: sched(func(ctx context.Context, id uuid.UUID) (*Schedule, error) { return s.setStatus(ctx, id, "paused") })},
		{Method: "POST", Path: "/api/v1/report-schedules/:id/resume", Perm: write, Summary: "Resume a paused report schedule", Handler: sched(func(ctx context.Context, id uuid.UUID) (*Schedule, error) { return s.setStatus(ctx, id, "active") })},
		{Method: "POST", Path: "/api/v1/report-schedules/:id/run", Perm: write, Summary: "Run a scheduled report now", Handler: httpx.IDAction("report schedule", fiber.StatusAccepted, httpx.BodyOptional, func(ctx context.Context, id uuid.UUID, _ struct{}) (*Run, error) {
			return s.RunNow(ctx, id)
		})},
		{Method: "GET", Path: "/api/v1/report-runs", Perm: read, Summary: "List report runs (status, duration, size, errors)", Handler: s.handleListRuns},
		{Method: "GET", Path: "/api/v1/report-runs/:id", Perm: read, Summary: "Get a report run", Handler: httpx.IDGet("report run", s.GetRun)},
		{Method: "GET", Path: "/api/v1/report-runs/:id/file", Perm: read, Summary: "Download a report run's file", Handler: s.handleRunFile},
	}
}

func (s *Service) checkSchedule(ctx context.Context, sc *Schedule) error {
	r, ok := Lookup(sc.Report)
	if !ok {
		return errs.Field("report", "unknown_report", fmt.Sprintf("there is no report %q; GET /api/v1/reports lists them", sc.Report))
	}
	if !slices.Contains(Frequencies, sc.Frequency) {
		if _, err := cronSchedule(sc.Frequency); err != nil {
			return errs.Field("frequency", "invalid_frequency", "frequency must be daily, weekly, monthly or a cron expression "+
				`of five fields in the library's time zone, at most hourly ("0 7 * * 1-5"): `+err.Error())
		}
	}
	if sc.Hour < 0 || sc.Hour > 23 {
		return errs.Field("hour", "invalid_hour", "hour is the library's local hour, 0-23")
	}
	switch sc.Format {
	case "csv", "json", "pdf":
	case "svg":
		if r.Chart == "" {
			return errs.Field("format", "no_chart", sc.Report+" is a list and has no chart; use csv or json")
		}
	default:
		return errs.Field("format", "invalid_format", "format must be csv, json, svg or pdf")
	}
	if len(sc.Recipients) > maxRecipients {
		return errs.Field("recipients", "too_many_recipients", fmt.Sprintf("at most %d recipients", maxRecipients))
	}
	for i, to := range sc.Recipients {
		a, err := mail.ParseAddress(strings.TrimSpace(to))
		if err != nil {
			return errs.Field("recipients", "invalid_email", fmt.Sprintf("recipient %d (%q) is not an email address", i+1, to))
		}
		sc.Recipients[i] = strings.ToLower(a.Address)
	}
	if _, ok := sc.Params["from"]; ok {
		if _, rel := sc.Params["period"]; !rel {
			// Allowed, but a fixed range repeats the same numbers forever.
			if _, to := sc.Params["to"]; !to {
				return errs.Field("params", "fixed_range", "a schedule with a fixed from needs a to too; better, use period (last_month, last_7_days, ...)")
			}
		}
	}
	// The parameters must make a report now (so the worker's run will).
	if _, err := s.prepare(ctx, sc.Report, map[string]string(sc.Params)); err != nil {
		if e := errs.As(err); e != nil && e.Kind != errs.Internal {
			return errs.E(errs.Invalid, e.Code, "params: "+e.Message).WithDetails(map[string]any{"field": "params"})
		}
		return err
	}
	return nil
}

func (in ScheduleInput) apply(sc *Schedule) {
	if in.Name != nil {
		sc.Name = strings.TrimSpace(*in.Name)
	}
	if in.Report != nil {
		sc.Report = *in.Report
	}
	if in.Params != nil {
		sc.Params = in.Params
	}
	if in.Frequency != nil {
		sc.Frequency = *in.Frequency
	}
	if in.Hour != nil {
		sc.Hour = *in.Hour
	}
	if in.Format != nil {
		sc.Format = *in.Format
	}
	if in.Recipients != nil {
		sc.Recipients = slices.Clone(*in.Recipients)
	}
}

// CreateSchedule stores a schedule owned by the caller (a staff user: the
// worker runs the report with the owner's permissions).
func (s *Service) CreateSchedule(ctx context.Context, in ScheduleInput) (*Schedule, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	p := tenants.PrincipalFrom(ctx)
	if p == nil || p.UserID == uuid.Nil {
		return nil, errs.E(errs.Invalid, "owner_required", "report schedules belong to a staff user; log in as one (API keys cannot own schedules)")
	}
	if in.Report == nil || in.Frequency == nil {
		return nil, errs.Field("report", "required", "report and frequency are required")
	}
	sc := &Schedule{ID: tenants.NewID(), Params: ParamMap{}, Hour: 7, Format: "csv", Recipients: tenants.Strings{}, Status: "active", OwnerID: p.UserID}
	in.apply(sc)
	if err := s.checkSchedule(ctx, sc); err != nil {
		return nil, err
	}
	if err := db.Exec(`INSERT INTO report_schedules (id, name, report, params, frequency, hour, format, recipients, status, owner_id)
VALUES (?,?,?,?,?,?,?,?,?,?)`, sc.ID, sc.Name, sc.Report, sc.Params, sc.Frequency, sc.Hour, sc.Format, sc.Recipients, sc.Status, sc.OwnerID).Error; err != nil {
		return nil, fmt.Errorf("insert report schedule: %w", err)
	}
	return s.GetSchedule(ctx, sc.ID)
}

// GetSchedule loads one schedule.
func (s *Service) GetSchedule(ctx context.Context, id uuid.UUID) (*Schedule, error) {
	return findOne[Schedule](ctx, "no such report schedule", "SELECT * FROM report_schedules WHERE id = ?", id)
}

// UpdateSchedule changes a schedule; the result is checked as a new one.
func (s *Service) UpdateSchedule(ctx context.Context, id uuid.UUID, in ScheduleInput) (*Schedule, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	sc, err := s.GetSchedule(ctx, id)
	if err != nil {
		return nil, err
	}
	in.apply(sc)
	if err := s.checkSchedule(ctx, sc); err != nil {
		return nil, err
	}
	if err := db.Exec(`UPDATE report_schedules SET name = ?, report = ?, params = ?, frequency = ?, hour = ?, format = ?,
  recipients = ?, updated_at = now() WHERE id = ?`, sc.Name, sc.Report, sc.Params, sc.Frequency, sc.Hour, sc.Format, sc.Recipients, id).Error; err != nil {
		return nil, fmt.Errorf("update report schedule: %w", err)
	}
	return s.GetSchedule(ctx, id)
}

func (s *Service) setStatus(ctx context.Context, id uuid.UUID, status string) (*Schedule, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.GetSchedule(ctx, id); err != nil {
		return nil, err
	}
	if err := db.Exec("UPDATE report_schedules SET status = ?, updated_at = now() WHERE id = ?", status, id).Error; err != nil {
		return nil, fmt.Errorf("report schedule status: %w", err)
	}
	return s.GetSchedule(ctx, id)
}

// DeleteSchedule removes a schedule; its runs stay in the history.
func (s *Service) DeleteSchedule(ctx context.Context, id uuid.UUID) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	res := db.Exec("DELETE FROM report_schedules WHERE id = ?", id)
	if res.Error != nil {
		return fmt.Errorf("delete report schedule: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return errs.NotFoundf("no such report schedule")
	}
	return nil
}

func (s *Service) handleDeleteSchedule(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "report schedule")
	if err != nil {
		return err
	}
	if err := s.DeleteSchedule(c.UserContext(), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// ListSchedules lists schedules in creation order.
func (s *Service) ListSchedules(ctx context.Context, page httpx.Page) ([]Schedule, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var out []Schedule
	if err := db.Raw("SELECT * FROM report_schedules WHERE id > ? ORDER BY id LIMIT ?", page.After, page.Limit+1).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("list report schedules: %w", err)
	}
	return out, nil
}

func (s *Service) handleListSchedules(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	rows, err := s.ListSchedules(c.UserContext(), page)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(s Schedule) uuid.UUID { return s.ID }))
}

// findOne loads the one row q finds, or answers 404 with notFound.
func findOne[T any](ctx context.Context, notFound, q string, args ...any) (*T, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var rows []T
	if err := db.Raw(q, args...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("%s: %w", notFound, err)
	}
	if len(rows) == 0 {
		return nil, errs.NotFoundf("%s", notFound)
	}
	return &rows[0], nil
}
