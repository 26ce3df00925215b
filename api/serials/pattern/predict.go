package pattern

import (
	"slices"
	"sort"
	"time"
)

// MaxIssues bounds one prediction (a daily over 60 years), so a pattern and
// a far "until" cannot make a request run away.
const MaxIssues = 20000

// Predict returns the issues from the anchor f up to and including until,
// in order. Every issue follows from the pattern alone, so predicting again
// with the same inputs gives the same issues (regeneration relies on it).
func Predict(p *Pattern, f First, until time.Time) ([]Issue, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := p.ValidateFirst(f); err != nil {
		return nil, err
	}
	until = day(until)
	gen := newSlots(p, day(f.ExpectedOn))
	ctr := newCounter(p, f.Enumeration)
	var out []Issue
	var prev time.Time
	for {
		d, ok := gen.next()
		if !ok || d.After(until) {
			return out, nil
		}
		if len(out) >= MaxIssues {
			return nil, bad("until", "more than %d issues to predict; ask for a shorter period", MaxIssues)
		}
		first := len(out) == 0
		if !first {
			ctr.advance(prev, d)
		}
		prev = d
		iss := Issue{Seq: len(out), ExpectedOn: d, Enumeration: ctr.snapshot(), Chronology: p.chron(d)}
		// A combined issue takes the following slots of its group.
		if g := p.comboStarting(d.Month()); g != nil {
			last := d
			for j := 1; j < len(g); j++ {
				nd, ok := gen.peek()
				if !ok || nd.Month() != time.Month(g[j]) || nd.Sub(last) > 62*24*time.Hour {
					break
				}
				gen.next()
				ctr.advance(last, nd)
				last = nd
			}
			if !last.Equal(d) {
				prev = last
				iss.EnumerationEnd = ctr.snapshot()
				c := p.chron(last)
				iss.ChronologyEnd = &c
			}
		}
		iss.Label = p.Label(iss)
		out = append(out, iss)
	}
}

// comboStarting returns the combined group whose first month is m.
func (p *Pattern) comboStarting(m time.Month) []int {
	for _, g := range p.CombineMonths {
		if len(g) > 1 && time.Month(g[0]) == m {
			return g
		}
	}
	return nil
}

// published reports whether d survives the pattern's omissions.
func (p *Pattern) published(d time.Time) bool {
	if slices.Contains(p.OmitMonths, int(d.Month())) {
		return false
	}
	md := d.Format("01-02")
	if slices.Contains(p.OmitDates, md) {
		return false
	}
	if p.Frequency == Daily && len(p.Weekdays) > 0 {
		ok := false
		for _, w := range p.Weekdays {
			if weekdayCodes[w] == d.Weekday() {
				ok = true
			}
		}
		return ok
	}
	return true
}

func (p *Pattern) irregularDate(d time.Time) bool {
	return slices.Contains(p.Dates, d.Format("01-02")) || slices.Contains(p.Dates, d.Format("2006-01-02"))
}

func (p *Pattern) chron(d time.Time) Chronology {
	c := Chronology{Year: d.Year(), Month: int(d.Month())}
	if slices.Contains(p.Chronology, ChronDay) {
		c.Day = d.Day()
	}
	if slices.Contains(p.Chronology, ChronSeason) {
		c.Season = seasonOf(d.Month())
	}
	return c
}

// seasonOf names the season of a month (northern hemisphere, as MARC's
// codes 21-24): December to February is winter.
func seasonOf(m time.Month) string {
	switch {
	case m >= 3 && m <= 5:
		return "Spring"
	case m >= 6 && m <= 8:
		return "Summer"
	case m >= 9 && m <= 11:
		return "Fall"
	}
	return "Winter"
}

// slots yields the publication dates from the anchor on, omissions removed.
type slots struct {
	p      *Pattern
	anchor time.Time
	k      int // regular frequencies: slot number from the anchor
	cur    time.Time
	buf    []time.Time // irregular: the dates left of the current year
	year   int
	ahead  *time.Time
	done   bool
}

func newSlots(p *Pattern, anchor time.Time) *slots {
	return &slots{p: p, anchor: anchor, k: -1, year: anchor.Year() - 1}
}

func (s *slots) peek() (time.Time, bool) {
	if s.ahead == nil {
		d, ok := s.raw()
		if !ok {
			return time.Time{}, false
		}
		s.ahead = &d
	}
	return *s.ahead, true
}

func (s *slots) next() (time.Time, bool) {
	if s.ahead != nil {
		d := *s.ahead
		s.ahead = nil
		return d, true
	}
	return s.raw()
}

func (s *slots) raw() (time.Time, bool) {
	for guard := 0; guard < 4000; guard++ {
		d, ok := s.candidate()
		if !ok {
			return time.Time{}, false
		}
		if s.p.published(d) {
			return d, true
		}
	}
	return time.Time{}, false
}

// candidate is the next date the frequency gives, before omissions.
func (s *slots) candidate() (time.Time, bool) {
	s.k++
	switch s.p.Frequency {
	case Daily:
		return s.anchor.AddDate(0, 0, s.k), true
	case Weekly:
		return s.anchor.AddDate(0, 0, 7*s.k), true
	case Biweekly:
		return s.anchor.AddDate(0, 0, 14*s.k), true
	case Monthly, Bimonthly, Quarterly, Semiannual, Annual:
		step := map[Frequency]int{Monthly: 1, Bimonthly: 2, Quarterly: 3, Semiannual: 6, Annual: 12}[s.p.Frequency]
		return addMonthsClamped(s.anchor, step*s.k), true
	case Irregular:
		for len(s.buf) == 0 {
			s.year++
			if s.year > s.lastIrregularYear() {
				return time.Time{}, false
			}
			s.buf = s.irregularYear(s.year)
		}
		d := s.buf[0]
		s.buf = s.buf[1:]
		return d, true
	}
	return time.Time{}, false
}

// addMonthsClamped keeps the anchor's day of month, or the month's last day
// (an issue due on the 31st comes on the 30th in April, not on May 1st).
func addMonthsClamped(t time.Time, months int) time.Time {
	y, m := t.Year(), int(t.Month())-1+months
	y += m / 12
	m %= 12
	if m < 0 {
		m += 12
		y--
	}
	last := time.Date(y, time.Month(m+2), 0, 0, 0, 0, 0, time.UTC).Day()
	return time.Date(y, time.Month(m+1), min(t.Day(), last), 0, 0, 0, 0, time.UTC)
}

// lastIrregularYear is the last year that can hold a date: unbounded when a
// date recurs every year (the prediction's "until" stops it).
func (s *slots) lastIrregularYear() int {
	last := 0
	for _, d := range s.p.Dates {
		if len(d) == 5 {
			return 1 << 20
		}
		if t, err := time.Parse("2006-01-02", d); err == nil && t.Year() > last {
			last = t.Year()
		}
	}
	return last
}

func (s *slots) irregularYear(y int) []time.Time {
	var out []time.Time
	for _, d := range s.p.Dates {
		var t time.Time
		if len(d) == 5 {
			m, dd, _ := monthDay(d)
			t = time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
			if t.Day() != dd { // 02-29 in a common year
				continue
			}
		} else {
			var err error
			if t, err = time.Parse("2006-01-02", d); err != nil || t.Year() != y {
				continue
			}
		}
		if !t.Before(s.anchor) && !slices.ContainsFunc(out, t.Equal) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// counter holds the enumeration as it advances issue by issue.
type counter struct {
	p     *Pattern
	val   []int // the numbers shown
	count []int // position within the unit of the level above (1-based)
}

func newCounter(p *Pattern, first []int) *counter {
	c := &counter{p: p, val: slices.Clone(first), count: make([]int, len(first))}
	for k := range first {
		c.count[k] = first[k]
		if k > 0 && p.Levels[k].Continuous && p.Levels[k].Units > 0 {
			// Whole numbering: the position within the volume is where the
			// number falls in blocks of Units.
			c.count[k] = (first[k]-1)%p.Levels[k].Units + 1
		}
	}
	return c
}

func (c *counter) snapshot() []int { return slices.Clone(c.val) }

// volumeYear is the calendar-change year an issue belongs to: with volumes
// starting in July, June 2027 is in the 2026 volume year.
func (c *counter) volumeYear(d time.Time) int {
	if int(d.Month()) >= c.p.CalendarChangeMonth {
		return d.Year()
	}
	return d.Year() - 1
}

// advance moves the enumeration from the issue dated prev to the one at d.
func (c *counter) advance(prev, d time.Time) {
	n := len(c.val)
	if n == 0 {
		return
	}
	if c.p.CalendarChangeMonth > 0 && c.volumeYear(d) != c.volumeYear(prev) {
		c.increment(0)
		return
	}
	c.increment(n - 1)
}

// increment adds one unit at level j; the levels below start a new unit
// (restarting at 1 or, when continuous, going on). A level that fills its
// Units rolls over into the level above, unless the first level follows the
// calendar.
func (c *counter) increment(j int) {
	if j > 0 && c.p.Levels[j].Units > 0 && c.count[j]+1 > c.p.Levels[j].Units && !(j == 1 && c.p.CalendarChangeMonth > 0) {
		c.increment(j - 1)
		return
	}
	c.val[j]++
	c.count[j]++
	for k := j + 1; k < len(c.val); k++ {
		c.count[k] = 1
		if c.p.Levels[k].Continuous {
			c.val[k]++
		} else {
			c.val[k] = 1
		}
	}
}
