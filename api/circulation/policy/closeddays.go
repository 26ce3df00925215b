package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/tz"
	"github.com/stacks-ils/stacks/tenants"
)

// ClosedDay is a date a branch (with its sub-units) or, with BranchID nil,
// the whole library is closed.
type ClosedDay struct {
	TenantID  uuid.UUID  `json:"-" gorm:"primaryKey"`
	ID        uuid.UUID  `json:"id" gorm:"primaryKey"`
	BranchID  *uuid.UUID `json:"branch_id"`
	Day       string     `json:"day" gorm:"type:date"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
}

// TableName maps ClosedDay to its table.
func (ClosedDay) TableName() string { return "closed_days" }

func (d *ClosedDay) fill() *ClosedDay {
	if len(d.Day) > 10 {
		d.Day = d.Day[:10]
	}
	return d
}

// ClosedDayInput is the body of POST /calendar/closed-days: one day, a list
// of days, or an inclusive range from..to (at most 400 days in all).
type ClosedDayInput struct {
	BranchID *uuid.UUID `json:"branch_id"`
	Day      *string    `json:"day"`
	Days     []string   `json:"days"`
	From     *string    `json:"from"`
	To       *string    `json:"to"`
	Name     *string    `json:"name"`
}

// MaxCalendarDays is the longest range of days one request may add or show.
const MaxCalendarDays = 400

func parseDay(field, s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return d, errs.Field(field, "invalid_date", field+" must be a date YYYY-MM-DD")
	}
	return d, nil
}

// dates expands the input into sorted distinct YYYY-MM-DD dates.
func (in *ClosedDayInput) dates() ([]string, error) {
	forms := 0
	if in.Day != nil {
		forms++
	}
	if in.Days != nil {
		forms++
	}
	if in.From != nil || in.To != nil {
		forms++
	}
	if forms != 1 {
		return nil, errs.Field("day", "invalid_days", `send exactly one of "day", "days" or "from" and "to"`)
	}
	var out []string
	add := func(field, s string) error {
		d, err := parseDay(field, s)
		if err != nil {
			return err
		}
		out = append(out, d.Format(time.DateOnly))
		return nil
	}
	switch {
	case in.Day != nil:
		if err := add("day", *in.Day); err != nil {
			return nil, err
		}
	case in.Days != nil:
		for i, s := range in.Days {
			if err := add(fmt.Sprintf("days[%d]", i), s); err != nil {
				return nil, err
			}
		}
	default:
		if in.From == nil || in.To == nil {
			return nil, errs.Field("to", "invalid_days", `a range needs both "from" and "to"`)
		}
		from, err := parseDay("from", *in.From)
		if err != nil {
			return nil, err
		}
		to, err := parseDay("to", *in.To)
		if err != nil {
			return nil, err
		}
		if to.Before(from) {
			return nil, errs.Field("to", "invalid_days", "to must not be before from")
		}
		if to.Sub(from) >= MaxCalendarDays*24*time.Hour {
			return nil, errs.Field("to", "invalid_days", fmt.Sprintf("a range may cover at most %d days", MaxCalendarDays))
		}
		for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
			out = append(out, d.Format(time.DateOnly))
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 || len(out) > MaxCalendarDays {
		return nil, errs.Field("days", "invalid_days", fmt.Sprintf("send 1 to %d days", MaxCalendarDays))
	}
	return out, nil
}

// AddClosedDays adds closed days for a branch or the whole library, all in
// the request's transaction: a day that is already closed for the same
// scope is a 409 closed_day_exists and adds nothing.
func (s *Service) AddClosedDays(ctx context.Context, in ClosedDayInput) ([]ClosedDay, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	days, err := in.dates()
	if err != nil {
		return nil, err
	}
	name := ""
	if in.Name != nil {
		name = strings.TrimSpace(*in.Name)
		if len(name) > 200 {
			return nil, errs.Field("name", "invalid_name", "name must be at most 200 characters")
		}
	}
	path, err := s.branchPath(ctx, in.BranchID, "branch_id")
	if err != nil {
		return nil, err
	}
	what := "close the whole library"
	if in.BranchID != nil {
		what = "close this org unit"
	}
	if err := allowedAt(ctx, tenants.PermBranchesManage, path, what); err != nil {
		return nil, err
	}
	exists := func() error {
		var taken []string
		err := db.Raw(`SELECT to_char(day, 'YYYY-MM-DD') FROM closed_days WHERE branch_id IS NOT DISTINCT FROM ?
			AND day = ANY(?::date[]) ORDER BY day`, in.BranchID, "{"+strings.Join(days, ",")+"}").Scan(&taken).Error
		if err != nil {
			return fmt.Errorf("find closed days: %w", err)
		}
		if len(taken) > 0 {
			return errs.E(errs.Conflict, "closed_day_exists",
				fmt.Sprintf("%s is already a closed day here", strings.Join(taken, ", "))).
				WithDetails(map[string]any{"days": taken})
		}
		return nil
	}
	if err := exists(); err != nil {
		return nil, err
	}
	rows := make([]ClosedDay, len(days))
	for i, d := range days {
		rows[i] = ClosedDay{TenantID: tenant, ID: tenants.NewID(), BranchID: in.BranchID, Day: d, Name: name}
	}
	err = db.Transaction(func(tx *gorm.DB) error {
		return tx.Omit("CreatedAt").CreateInBatches(rows, 500).Error
	})
	if err != nil {
		if c, _ := tenants.PgCode(err); c == tenants.PgUniqueViolation {
			if e := exists(); e != nil {
				return nil, e
			}
		}
		return nil, fmt.Errorf("insert closed days: %w", err)
	}
	ids := make([]uuid.UUID, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	var out []ClosedDay
	if err := db.Where("id IN ?", ids).Order("day").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("read closed days: %w", err)
	}
	for i := range out {
		out[i].fill()
	}
	return out, nil
}

// ClosedDayFilter narrows ListClosedDays. BranchID keeps the rows of that
// unit; LibraryWide the rows without a unit; From and To (YYYY-MM-DD)
// bound the day.
type ClosedDayFilter struct {
	BranchID    *uuid.UUID
	LibraryWide bool
	From, To    string
	After       uuid.UUID
	Limit       int
}

// ListClosedDays lists closed-day rows in id order (Limit+1 at most).
func (s *Service) ListClosedDays(ctx context.Context, f ClosedDayFilter) ([]ClosedDay, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	q := db.Where("id > ?", f.After)
	switch {
	case f.LibraryWide:
		q = q.Where("branch_id IS NULL")
	case f.BranchID != nil:
		q = q.Where("branch_id = ?", *f.BranchID)
	}
	if f.From != "" {
		q = q.Where("day >= ?", f.From)
	}
	if f.To != "" {
		q = q.Where("day <= ?", f.To)
	}
	var out []ClosedDay
	if err := q.Order("id").Limit(f.Limit + 1).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list closed days: %w", err)
	}
	for i := range out {
		out[i].fill()
	}
	return out, nil
}

// DeleteClosedDay removes a closed day.
func (s *Service) DeleteClosedDay(ctx context.Context, id uuid.UUID) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	d, err := tenants.Find[ClosedDay](ctx, "no such closed day", "id = ?", id)
	if err != nil {
		return err
	}
	path, err := s.branchPath(ctx, d.BranchID, "branch_id")
	if err != nil {
		return err
	}
	if err := allowedAt(ctx, tenants.PermBranchesManage, path, "change this calendar"); err != nil {
		return err
	}
	if err := db.Exec(`DELETE FROM closed_days WHERE id = ?`, id).Error; err != nil {
		return fmt.Errorf("delete closed day %s: %w", id, err)
	}
	return nil
}

// Calendar loads the effective calendar of a branch for the dates from..to
// and 370 days after to (due dates move forward over closed days), in three
// queries at most: the branch (path, own hours, effective zone), its
// ancestors' hours (only when it has none of its own) and the closed days.
// Closed days are loaded from the day before from's date (in from's own
// zone) to 371 days after to's date, which covers every zone.
func (s *Service) Calendar(ctx context.Context, branchID uuid.UUID, from, to time.Time) (*Calendar, error) {
	b, err := s.tenants.GetBranch(ctx, branchID)
	if err != nil {
		return nil, err
	}
	return calendarOf(ctx, b, from, to)
}

// calendarOf is Calendar for a loaded branch, in one statement.
func calendarOf(ctx context.Context, b *tenants.Branch, from, to time.Time) (*Calendar, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	cal, ancestors := calendarBase(b)
	var row struct {
		AncestorHours []byte
		Closed        []byte
	}
	err = db.Raw(`SELECT 1 AS one`+deskPolicyTail, map[string]any{"path": tenants.UUIDs(b.Path), "ancestors": tenants.UUIDs(ancestors),
		"first": from.AddDate(0, 0, -1).Format(time.DateOnly), "last": to.AddDate(0, 0, maxShift+1).Format(time.DateOnly)}).
		Scan(&row).Error
	if err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	return cal, cal.load(b, row.AncestorHours, row.Closed)
}

// BranchCalendar is the effective calendar of a branch over a range of dates.
type BranchCalendar struct {
	BranchID    uuid.UUID            `json:"branch_id"`
	Timezone    string               `json:"timezone"`
	HoursFrom   *uuid.UUID           `json:"hours_from"` // the unit whose weekly hours apply; null: none, open all day
	WeeklyHours tenants.OpeningHours `json:"weekly_hours"`
	From        string               `json:"from"`
	To          string               `json:"to"`
	Days        []CalendarDay        `json:"days"`
}

// BranchDays returns the effective calendar of a branch for the local dates
// from..to (YYYY-MM-DD, at most 400 days); from defaults to today in the
// branch's zone and to to 30 days after from.
func (s *Service) BranchDays(ctx context.Context, branchID uuid.UUID, from, to string) (*BranchCalendar, error) {
	b, err := s.tenants.GetBranch(ctx, branchID)
	if err != nil {
		return nil, err
	}
	loc := tz.OrUTC(b.EffectiveTimezone)
	var f, t time.Time
	if from == "" {
		y, m, d := s.now().In(loc).Date()
		f = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	} else if f, err = time.Parse(time.DateOnly, from); err != nil {
		return nil, errs.E(errs.BadRequest, "bad_query", "from must be a date YYYY-MM-DD").WithDetails(map[string]any{"field": "from"})
	}
	if to == "" {
		t = f.AddDate(0, 0, 30)
	} else if t, err = time.Parse(time.DateOnly, to); err != nil {
		return nil, errs.E(errs.BadRequest, "bad_query", "to must be a date YYYY-MM-DD").WithDetails(map[string]any{"field": "to"})
	}
	if t.Before(f) || t.Sub(f) >= MaxCalendarDays*24*time.Hour {
		return nil, errs.E(errs.BadRequest, "bad_query",
			fmt.Sprintf("to must be on or after from, at most %d days in all", MaxCalendarDays)).WithDetails(map[string]any{"field": "to"})
	}
	cal, err := calendarOf(ctx, b, f, t)
	if err != nil {
		return nil, err
	}
	out := &BranchCalendar{BranchID: b.ID, Timezone: loc.String(), HoursFrom: cal.hoursSource, WeeklyHours: cal.weekly,
		From: f.Format(time.DateOnly), To: t.Format(time.DateOnly)}
	if out.WeeklyHours == nil {
		out.WeeklyHours = tenants.OpeningHours{}
	}
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		out.Days = append(out.Days, cal.Day(time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, loc)))
	}
	return out, nil
}
