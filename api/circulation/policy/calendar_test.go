package policy

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/tenants"
)

func ptr[T any](v T) *T { return &v }

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// weekdays 09-17, Saturday 10-14, Sunday closed; Wednesday has a lunch break.
var weekHours = tenants.OpeningHours{
	"mon": {{Opens: "09:00", Closes: "17:00"}},
	"tue": {{Opens: "09:00", Closes: "17:00"}},
	"wed": {{Opens: "09:00", Closes: "12:00"}, {Opens: "13:00", Closes: "17:00"}},
	"thu": {{Opens: "09:00", Closes: "17:00"}},
	"fri": {{Opens: "09:00", Closes: "17:00"}},
	"sat": {{Opens: "10:00", Closes: "14:00"}},
}

// December 2026: Mon 14, ..., Thu 24, Fri 25 (Christmas), Sat 26 (closed), Sun 27, Mon 28.
var holidays = map[string]string{"2026-12-25": "Christmas", "2026-12-26": ""}

func nyCalendar(t *testing.T) (*Calendar, *time.Location) {
	ny := mustLoc(t, "America/New_York")
	return NewCalendar(ny, []uuid.UUID{uuid.New()}, weekHours, holidays), ny
}

func TestCalendarOpenAndReasons(t *testing.T) {
	cal, ny := nyCalendar(t)
	at := func(d int) time.Time { return time.Date(2026, 12, d, 12, 0, 0, 0, ny) }
	cases := []struct {
		day    int
		open   bool
		reason string
		hours  int
	}{
		{14, true, "", 1},
		{16, true, "", 2},
		{19, true, "", 1},
		{20, false, "no opening hours on sunday", 0},
		{25, false, "Christmas", 0},
		{26, false, "closed day", 0},
	}
	for _, tc := range cases {
		d := cal.Day(at(tc.day))
		if cal.Open(at(tc.day)) != tc.open || d.Open != tc.open || len(d.Hours) != tc.hours {
			t.Errorf("Dec %d: %+v, want open=%v hours=%d", tc.day, d, tc.open, tc.hours)
		}
		if got := cal.ClosedReason(at(tc.day)); got != tc.reason {
			t.Errorf("Dec %d: reason %q, want %q", tc.day, got, tc.reason)
		}
	}
	// 23:30 on the 24th in New York is already the 25th in UTC: the local date counts.
	if !cal.Open(time.Date(2026, 12, 24, 23, 30, 0, 0, ny).UTC()) {
		t.Error("the local date of an instant decides")
	}
	if cal.Location() != ny || len(cal.BranchPath()) != 1 {
		t.Error("accessors")
	}
	// Weekly hours with no interval on any day count as none: open every day, all day.
	open := NewCalendar(ny, nil, tenants.OpeningHours{"sun": {}}, nil)
	if d := open.Day(at(20)); !d.Open || d.Hours[0].Opens != "00:00" || open.WeeklyHours() != nil {
		t.Errorf("no hours anywhere: %+v", d)
	}
}

func TestCalendarDueAt(t *testing.T) {
	cal, ny := nyCalendar(t)
	ams := mustLoc(t, "Europe/Amsterdam")
	always := NewCalendar(ny, nil, nil, nil)
	alwaysAms := NewCalendar(ams, nil, nil, nil)
	days := func(n int) *Rule { return &Rule{LoanDays: ptr(n)} }
	hours := func(n int) *Rule { return &Rule{LoanHours: ptr(n)} }
	cases := []struct {
		name string
		cal  *Calendar
		rule *Rule
		from time.Time
		want time.Time
	}{
		{"days: open due date", cal, days(7), time.Date(2026, 12, 14, 10, 0, 0, 0, ny), time.Date(2026, 12, 21, 23, 59, 59, 0, ny)},
		{"days: Christmas, closed Saturday and Sunday push to Monday", cal, days(7), time.Date(2026, 12, 18, 10, 0, 0, 0, ny), time.Date(2026, 12, 28, 23, 59, 59, 0, ny)},
		{"days: Sunday without hours moves to Monday", cal, days(1), time.Date(2026, 12, 5, 11, 0, 0, 0, ny), time.Date(2026, 12, 7, 23, 59, 59, 0, ny)},
		{"days: local date of a late checkout (next day in UTC)", cal, days(1), time.Date(2026, 12, 14, 23, 30, 0, 0, ny).UTC(), time.Date(2026, 12, 15, 23, 59, 59, 0, ny)},
		{"days: across the end of DST in New York", always, days(7), time.Date(2026, 10, 28, 10, 0, 0, 0, ny), time.Date(2026, 11, 4, 23, 59, 59, 0, ny)},
		{"days: across the start of DST in Amsterdam", alwaysAms, days(1), time.Date(2026, 3, 28, 23, 30, 0, 0, ams), time.Date(2026, 3, 29, 23, 59, 59, 0, ams)},
		{"hours: inside opening hours", cal, hours(4), time.Date(2026, 12, 14, 10, 0, 0, 0, ny), time.Date(2026, 12, 14, 14, 0, 0, 0, ny)},
		{"hours: after closing -> closing time", cal, hours(4), time.Date(2026, 12, 14, 14, 0, 0, 0, ny), time.Date(2026, 12, 14, 17, 0, 0, 0, ny)},
		{"hours: checkout 30 min before closing -> that closing", cal, hours(4), time.Date(2026, 12, 14, 16, 30, 0, 0, ny), time.Date(2026, 12, 14, 17, 0, 0, 0, ny)},
		{"hours: checkout while closed -> end of next opening", cal, hours(4), time.Date(2026, 12, 14, 18, 0, 0, 0, ny), time.Date(2026, 12, 15, 17, 0, 0, 0, ny)},
		{"hours: 24h into the next day's hours", cal, hours(24), time.Date(2026, 12, 14, 10, 0, 0, 0, ny), time.Date(2026, 12, 15, 10, 0, 0, 0, ny)},
		{"hours: lunch break -> morning closing", cal, hours(2), time.Date(2026, 12, 16, 10, 30, 0, 0, ny), time.Date(2026, 12, 16, 12, 0, 0, 0, ny)},
		{"hours: lands on Christmas -> the evening before", cal, hours(24), time.Date(2026, 12, 24, 10, 0, 0, 0, ny), time.Date(2026, 12, 24, 17, 0, 0, 0, ny)},
		{"hours: Saturday afternoon -> Saturday closing", cal, hours(3), time.Date(2026, 12, 19, 12, 0, 0, 0, ny), time.Date(2026, 12, 19, 14, 0, 0, 0, ny)},
		{"hours: elapsed time across the DST gap", alwaysAms, hours(2), time.Date(2026, 3, 29, 1, 0, 0, 0, ams), time.Date(2026, 3, 29, 4, 0, 0, 0, ams)},
		{"no loan period", cal, &Rule{}, time.Date(2026, 12, 14, 10, 0, 0, 0, ny), time.Date(2026, 12, 14, 10, 0, 0, 0, ny)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cal.DueAt(tc.rule, tc.from); !got.Equal(tc.want) {
				t.Errorf("due %s, want %s", got.In(tc.want.Location()), tc.want)
			}
		})
	}
	// A DST change leaves 23:59:59 local, not 23:59:59 minus an hour.
	if got := always.DueAt(days(7), time.Date(2026, 10, 28, 10, 0, 0, 0, ny)).In(ny); got.Hour() != 23 {
		t.Errorf("due clock %s", got)
	}
}

func TestCalendarRenewDueAt(t *testing.T) {
	cal, ny := nyCalendar(t)
	from := time.Date(2026, 12, 14, 10, 0, 0, 0, ny)
	if got, want := cal.RenewDueAt(&Rule{LoanDays: ptr(21), RenewalDays: ptr(7)}, from), time.Date(2026, 12, 21, 23, 59, 59, 0, ny); !got.Equal(want) {
		t.Errorf("renewal_days: %s, want %s", got, want)
	}
	if got, want := cal.RenewDueAt(&Rule{LoanDays: ptr(4)}, from), time.Date(2026, 12, 18, 23, 59, 59, 0, ny); !got.Equal(want) {
		t.Errorf("loan period again: %s, want %s", got, want)
	}
	if got, want := cal.RenewDueAt(&Rule{LoanHours: ptr(2)}, from), time.Date(2026, 12, 14, 12, 0, 0, 0, ny); !got.Equal(want) {
		t.Errorf("hourly loan period again: %s, want %s", got, want)
	}
}

func TestCalendarOverdueFine(t *testing.T) {
	cal, ny := nyCalendar(t)
	always := NewCalendar(ny, nil, nil, nil)
	daily := func(amount int64, grace int, max *int64) *Rule {
		return &Rule{FineAmount: amount, FineInterval: FineDay, GraceDays: grace, MaxFineAmount: max}
	}
	hourly := func(amount int64, grace int, max *int64) *Rule {
		return &Rule{FineAmount: amount, FineInterval: FineHour, GraceDays: grace, MaxFineAmount: max}
	}
	eod := func(d int) time.Time { return time.Date(2026, 12, d, 23, 59, 59, 0, ny) }
	at := func(d, h, m int) time.Time { return time.Date(2026, 12, d, h, m, 0, 0, ny) }
	cases := []struct {
		name     string
		cal      *Calendar
		rule     *Rule
		due, ret time.Time
		closed   bool
		want     int64
	}{
		{"on time", cal, daily(25, 0, nil), eod(14), at(14, 16, 0), false, 0},
		{"two open days late", cal, daily(25, 0, nil), eod(14), at(16, 10, 0), false, 50},
		{"within grace", cal, daily(25, 2, nil), eod(14), at(16, 10, 0), false, 0},
		{"past grace counts every day", cal, daily(25, 1, nil), eod(14), at(16, 10, 0), false, 50},
		{"closed days skipped", cal, daily(25, 0, nil), eod(24), at(28, 10, 0), false, 25},
		{"closed days counted", cal, daily(25, 0, nil), eod(24), at(28, 10, 0), true, 100},
		{"capped", cal, daily(25, 0, ptr(int64(60))), time.Date(2026, 11, 30, 23, 59, 59, 0, ny), at(31, 10, 0), false, 60},
		{"same local date after an hourly due time", cal, daily(25, 0, nil), at(14, 17, 0), at(14, 20, 0), false, 0},
		{"dates across the end of DST", always, daily(10, 0, nil), time.Date(2026, 10, 31, 23, 59, 59, 0, ny), time.Date(2026, 11, 2, 10, 0, 0, 0, ny), false, 20},
		{"no fine amount", cal, daily(0, 0, nil), eod(14), at(20, 10, 0), false, 0},
		{"hourly: started hours", cal, hourly(100, 0, nil), at(14, 10, 0), at(14, 12, 30), false, 300},
		{"hourly: exactly the grace", cal, hourly(100, 1, nil), at(14, 10, 0), at(15, 10, 0), false, 0},
		{"hourly: past the grace", cal, hourly(100, 1, nil), at(14, 10, 0), at(15, 10, 1), false, 2500},
		{"hourly: capped", cal, hourly(100, 0, ptr(int64(1000))), at(14, 10, 0), at(16, 10, 0), false, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cal.OverdueFine(tc.rule, tc.due, tc.ret, tc.closed); got != tc.want {
				t.Errorf("fine %d, want %d", got, tc.want)
			}
		})
	}
}

func TestCalendarShelfExpiresAt(t *testing.T) {
	cal, ny := nyCalendar(t)
	cases := []struct {
		days    int
		trapped time.Time
		want    time.Time
	}{
		// Wed 23 (1), Thu 24 (2), Fri 25 Christmas, Sat 26 closed, Sun 27 no hours, Mon 28 (3).
		{3, time.Date(2026, 12, 22, 15, 0, 0, 0, ny), time.Date(2026, 12, 28, 23, 59, 59, 0, ny)},
		{1, time.Date(2026, 12, 14, 15, 0, 0, 0, ny), time.Date(2026, 12, 15, 23, 59, 59, 0, ny)},
		{1, time.Date(2026, 12, 19, 13, 0, 0, 0, ny), time.Date(2026, 12, 21, 23, 59, 59, 0, ny)},
	}
	for _, tc := range cases {
		if got := cal.ShelfExpiresAt(&Rule{HoldShelfDays: tc.days}, tc.trapped); !got.Equal(tc.want) {
			t.Errorf("%d days from %s: %s, want %s", tc.days, tc.trapped, got, tc.want)
		}
	}
}

func TestRuleScoreAndFill(t *testing.T) {
	b := uuid.New()
	r := &Rule{BranchID: &b, ItemType: ptr("dvd"), FineAmount: 10, FineInterval: FineHour, Currency: "EUR",
		MaxFineAmount: ptr(int64(0))}
	if r.Score() != 5 {
		t.Errorf("score %d", r.Score())
	}
	r.fill()
	if r.FinePerDay != nil || r.FinePerHour == nil || r.FinePerHour.Currency != "EUR" || r.MaxFine == nil || r.ProcessingFee != nil {
		t.Errorf("fill: %+v", r)
	}
}
