package policy

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/tenants"
)

// Calendar is a branch's effective calendar: its time zone, its weekly
// opening hours (its own, else the nearest ancestor's that has any, else
// none: open all day every day) and the closed days that apply to it (its
// own, its ancestors' and the library-wide ones) over the loaded range.
// Its methods are pure; Service.Calendar builds one from the database and
// NewCalendar from values (tests, callers with their own data).
//
// Dates are local dates in the calendar's zone: a time.Time argument stands
// for the date it falls on in that zone. Closed days outside the loaded
// range are unknown and count as open.
type Calendar struct {
	loc         *time.Location
	path        []uuid.UUID
	weekly      tenants.OpeningHours // nil: no opening hours anywhere, open all day
	hoursSource *uuid.UUID           // the unit the weekly hours come from
	closed      map[string]string    // YYYY-MM-DD -> reason
}

// maxShift bounds the search for an open day: a calendar closed for more
// than a year would otherwise loop.
const maxShift = 370

// NewCalendar builds a calendar from values: the zone (nil: UTC), the
// branch path, the effective weekly hours (nil or without any interval:
// open all day every day) and closed days (YYYY-MM-DD -> reason).
func NewCalendar(loc *time.Location, path []uuid.UUID, weekly tenants.OpeningHours, closed map[string]string) *Calendar {
	if loc == nil {
		loc = time.UTC
	}
	if !hasHours(weekly) {
		weekly = nil
	}
	if closed == nil {
		closed = map[string]string{}
	}
	return &Calendar{loc: loc, path: path, weekly: weekly, closed: closed}
}

// hasHours reports whether weekly hours are set: at least one interval on
// some day. An object with only empty days counts as not set (inherits).
func hasHours(h tenants.OpeningHours) bool {
	for _, ivs := range h {
		if len(ivs) > 0 {
			return true
		}
	}
	return false
}

// Location is the branch's effective time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// BranchPath is the branch's path, root..branch.
func (c *Calendar) BranchPath() []uuid.UUID { return c.path }

// WeeklyHours are the effective weekly hours (nil: open all day every day).
func (c *Calendar) WeeklyHours() tenants.OpeningHours { return c.weekly }

var dayKeys = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// noon is the local date of t as noon in the calendar's zone: noon exists on
// every day, DST changes included, so date arithmetic on it is safe.
func (c *Calendar) noon(t time.Time) time.Time {
	y, m, d := t.In(c.loc).Date()
	return time.Date(y, m, d, 12, 0, 0, 0, c.loc)
}

func (c *Calendar) addDays(day time.Time, n int) time.Time {
	y, m, d := day.In(c.loc).Date()
	return time.Date(y, m, d+n, 12, 0, 0, 0, c.loc)
}

func (c *Calendar) endOfDay(day time.Time) time.Time {
	y, m, d := day.In(c.loc).Date()
	return time.Date(y, m, d, 23, 59, 59, 0, c.loc)
}

func (c *Calendar) key(t time.Time) string { return t.In(c.loc).Format(time.DateOnly) }

// ClosedReason says why the date of t is closed ("" when it is open): the
// closed day's name ("closed day" when unnamed) or "no opening hours on
// sunday".
func (c *Calendar) ClosedReason(t time.Time) string {
	if name, ok := c.closed[c.key(t)]; ok {
		if name == "" {
			return "closed day"
		}
		return name
	}
	if c.weekly != nil {
		wd := t.In(c.loc).Weekday()
		if len(c.weekly[dayKeys[wd]]) == 0 {
			return "no opening hours on " + strings.ToLower(wd.String())
		}
	}
	return ""
}

// Open reports whether the branch is open on the local date of t.
func (c *Calendar) Open(t time.Time) bool { return c.ClosedReason(t) == "" }

// Hours returns the opening intervals of the local date of t: none when
// closed, 00:00-23:59 when open without weekly hours.
func (c *Calendar) Hours(t time.Time) []tenants.Interval {
	if !c.Open(t) {
		return []tenants.Interval{}
	}
	if c.weekly == nil {
		return []tenants.Interval{{Opens: "00:00", Closes: "23:59"}}
	}
	return slices.Clone(c.weekly[dayKeys[t.In(c.loc).Weekday()]])
}

type period struct{ start, end time.Time }

// periods are the open periods of the local date of t as instants. Without
// weekly hours an open date is one period 00:00:00-23:59:59.
func (c *Calendar) periods(t time.Time) []period {
	if !c.Open(t) {
		return nil
	}
	y, m, d := t.In(c.loc).Date()
	if c.weekly == nil {
		return []period{{time.Date(y, m, d, 0, 0, 0, 0, c.loc), time.Date(y, m, d, 23, 59, 59, 0, c.loc)}}
	}
	var out []period
	for _, iv := range c.weekly[dayKeys[t.In(c.loc).Weekday()]] {
		o, err1 := time.Parse("15:04", iv.Opens)
		e, err2 := time.Parse("15:04", iv.Closes)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, period{time.Date(y, m, d, o.Hour(), o.Minute(), 0, 0, c.loc),
			time.Date(y, m, d, e.Hour(), e.Minute(), 0, 0, c.loc)})
	}
	return out
}

// openAt reports whether the branch is open at the instant t.
func (c *Calendar) openAt(t time.Time) bool {
	for _, p := range c.periods(t) {
		if !t.Before(p.start) && !t.After(p.end) {
			return true
		}
	}
	return false
}

// nextOpenDay returns the first open date on or after day (day itself when
// nothing within maxShift days is open).
func (c *Calendar) nextOpenDay(day time.Time) time.Time {
	for i := 0; i <= maxShift; i++ {
		if d := c.addDays(day, i); c.Open(d) {
			return d
		}
	}
	return day
}

// DueAt is when a loan under r made at from is due.
//
// Loans in days: the local date of from plus loan_days; when that date is
// closed, the next open date; due at 23:59:59 local time on it.
//
// Loans in hours: t = from + loan_hours (elapsed time).
//  1. If the branch is open at t (an open date inside one of its intervals;
//     any time of an open date when it has no weekly hours), due at t.
//  2. Else, if some open period closes in (from, t] and the latest such
//     closing time c is at least an hour after from, or from itself falls in
//     an open period: due at c (the item comes back before the library
//     closes, even if that shortens the loan).
//  3. Else (checked out while closed, or less than an hour before closing
//     with nothing later): due at the end of the first open period that ends
//     after t (the end of the next opening).
//
// A rule without a loan period returns from.
func (c *Calendar) DueAt(r *Rule, from time.Time) time.Time {
	switch {
	case r.LoanDays != nil:
		return c.dueInDays(*r.LoanDays, from)
	case r.LoanHours != nil:
		return c.dueInHours(*r.LoanHours, from)
	}
	return from
}

// RenewDueAt is the new due time of a loan under r renewed at from (the
// renewal time or the old due time, as the caller decides): renewal_days
// as a loan in days, or the rule's loan period when renewal_days is null.
func (c *Calendar) RenewDueAt(r *Rule, from time.Time) time.Time {
	if r.RenewalDays != nil {
		return c.dueInDays(*r.RenewalDays, from)
	}
	return c.DueAt(r, from)
}

func (c *Calendar) dueInDays(days int, from time.Time) time.Time {
	return c.endOfDay(c.nextOpenDay(c.addDays(c.noon(from), days)))
}

func (c *Calendar) dueInHours(hours int, from time.Time) time.Time {
	t := from.Add(time.Duration(hours) * time.Hour)
	if c.openAt(t) {
		return t
	}
	// 2. The latest closing time in (from, t].
	var last time.Time
	for d := c.noon(t); !d.Before(c.noon(from)); d = c.addDays(d, -1) {
		for _, p := range c.periods(d) {
			if p.end.After(from) && !p.end.After(t) && p.end.After(last) {
				last = p.end
			}
		}
		if !last.IsZero() {
			break
		}
	}
	if !last.IsZero() && (!last.Before(from.Add(time.Hour)) || c.openAt(from)) {
		return last
	}
	// 3. The end of the first open period that ends after t.
	for i := 0; i <= maxShift; i++ {
		for _, p := range c.periods(c.addDays(c.noon(t), i)) {
			if p.end.After(t) {
				return p.end
			}
		}
	}
	return t
}

// OverdueFine is the overdue fine in minor units for a loan under r due at
// due and returned at returned; 0 when returned is not after due.
//
// Daily fines (fine_interval day) count the local dates d with
// date(due) < d <= date(returned), leaving out dates the branch is closed
// (closed days and weekdays without opening hours) unless
// finesOnClosedDays; when that count is at most grace_days the fine is 0,
// else count x fine_amount. Hourly fines count started hours late (closed
// time included) with a grace of grace_days x 24 hours. Both are capped at
// max_fine when it is set.
func (c *Calendar) OverdueFine(r *Rule, due, returned time.Time, finesOnClosedDays bool) int64 {
	if !returned.After(due) || r.FineAmount <= 0 {
		return 0
	}
	capped := func(units int64) int64 {
		fine := int64(math.MaxInt64)
		if units <= math.MaxInt64/r.FineAmount {
			fine = units * r.FineAmount
		}
		if r.MaxFineAmount != nil && fine > *r.MaxFineAmount {
			fine = *r.MaxFineAmount
		}
		return fine
	}
	if r.FineInterval == FineHour {
		late := returned.Sub(due)
		hours := int64(late / time.Hour)
		if late%time.Hour != 0 {
			hours++
		}
		if hours <= int64(r.GraceDays)*24 {
			return 0
		}
		return capped(hours)
	}
	last := c.noon(returned)
	var days int64
	for d := c.addDays(c.noon(due), 1); !d.After(last); d = c.addDays(d, 1) {
		if finesOnClosedDays || c.Open(d) {
			days++
		}
		// Past the grace and the cap, more days change nothing.
		if r.MaxFineAmount != nil && days > int64(r.GraceDays) && capped(days) >= *r.MaxFineAmount {
			return *r.MaxFineAmount
		}
	}
	if days <= int64(r.GraceDays) {
		return 0
	}
	return capped(days)
}

// ShelfExpiresAt is when a hold trapped at trappedAt stops waiting on the
// shelf: 23:59:59 local time of the hold_shelf_days-th open date after the
// trap date (at least the first).
func (c *Calendar) ShelfExpiresAt(r *Rule, trappedAt time.Time) time.Time {
	n := max(r.HoldShelfDays, 1)
	d := c.noon(trappedAt)
	for i, found := 0, 0; i < n+maxShift && found < n; i++ {
		d = c.addDays(d, 1)
		if c.Open(d) {
			found++
		}
	}
	return c.endOfDay(d)
}

// CalendarDay is one date of a branch's effective calendar.
type CalendarDay struct {
	Date         string             `json:"date"`
	Open         bool               `json:"open"`
	Hours        []tenants.Interval `json:"hours"`
	ClosedReason *string            `json:"closed_reason"`
}

// Day describes the local date of t.
func (c *Calendar) Day(t time.Time) CalendarDay {
	day := CalendarDay{Date: c.key(t), Hours: c.Hours(t)}
	if reason := c.ClosedReason(t); reason != "" {
		day.ClosedReason = &reason
	} else {
		day.Open = true
	}
	return day
}
