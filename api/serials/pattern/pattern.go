// Package pattern is the publication-pattern engine of serials: what a
// serial's issues are called and when they come out. A Pattern is modelled
// on the MARC 21 holdings captions and pattern field 853 (captions $a $b $c,
// units per level $u, numbering continuity $v, chronology captions $i $j $k,
// frequency $w, calendar change $x, regularity $y), so a subscription can be
// exported as MFHD (Field853, Field863). Predict turns a pattern and a
// first-issue anchor into the expected issues with their enumeration,
// chronology, label ("v.12 no.3 (Mar. 2027)") and expected date; Summarize
// compresses received issues into a holdings statement. The package has no
// database and no clock: everything it answers follows from its inputs.
package pattern

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Frequency is how often a serial is published.
type Frequency string

// The frequencies Stacks predicts. Irregular serials list their dates.
const (
	Daily      Frequency = "daily"
	Weekly     Frequency = "weekly"
	Biweekly   Frequency = "biweekly"
	Monthly    Frequency = "monthly"
	Bimonthly  Frequency = "bimonthly"
	Quarterly  Frequency = "quarterly"
	Semiannual Frequency = "semiannual"
	Annual     Frequency = "annual"
	Irregular  Frequency = "irregular"
)

// Frequencies lists every frequency, in order of decreasing rate.
var Frequencies = []Frequency{Daily, Weekly, Biweekly, Monthly, Bimonthly, Quarterly, Semiannual, Annual, Irregular}

// Chronology units a label may show.
const (
	ChronYear   = "year"
	ChronSeason = "season"
	ChronMonth  = "month"
	ChronDay    = "day"
)

// Level is one level of enumeration (MARC 853 $a, $b, $c with $u and $v).
type Level struct {
	// Caption precedes the number in labels: "v.", "no.", "pt.".
	Caption string `json:"caption"`
	// Units is how many of this level make one unit of the level above
	// (issues per volume; 853 $u). 0 means not fixed. For the second level
	// of a pattern without a calendar change it decides when the first
	// level increments ("after N issues").
	Units int `json:"units,omitempty"`
	// Continuous numbering does not restart when the level above increments
	// (853 $v "c"; whole numbering such as no.1234). Default restarts ("r").
	Continuous bool `json:"continuous,omitempty"`
}

// Pattern describes a serial's publication. The JSON form is the API's.
type Pattern struct {
	ID        string    `json:"id,omitempty"`
	Name      string    `json:"name"`
	Frequency Frequency `json:"frequency"`
	// Levels of enumeration, highest first (volume, issue). May be empty for
	// serials identified by date only.
	Levels []Level `json:"levels"`
	// Chronology units shown in labels, highest first: year, then season or
	// month, then day. May be empty.
	Chronology []string `json:"chronology"`
	// CalendarChangeMonth (1-12) is the month whose first issue starts a new
	// first-level unit (853 $x): 1 = volumes follow the calendar year, 7 =
	// a volume starts with the July issue. 0 = the first level increments
	// after Levels[1].Units issues instead.
	CalendarChangeMonth int `json:"calendar_change_month,omitempty"`
	// Weekdays a daily is published ("mon".."sun"); empty = every day.
	Weekdays []string `json:"weekdays,omitempty"`
	// OmitMonths: no issue whose date falls in these months (8 = August).
	OmitMonths []int `json:"omit_months,omitempty"`
	// OmitDates: no issue on these days of every year ("12-25").
	OmitDates []string `json:"omit_dates,omitempty"`
	// CombineMonths: the issues of these consecutive months come out as one
	// (e.g. [[7,8]] for "July/Aug."); the combined issue takes the numbers of
	// the issues it replaces ("no.7/8") and is expected on the first one's
	// date. Monthly and bimonthly patterns only.
	CombineMonths [][]int `json:"combine_months,omitempty"`
	// Dates of an irregular serial: "MM-DD" every year or "YYYY-MM-DD" once.
	Dates []string `json:"dates,omitempty"`
}

// First anchors a prediction: the first issue's expected date and its
// enumeration (one number per level).
type First struct {
	ExpectedOn  time.Time `json:"expected_on"`
	Enumeration []int     `json:"enumeration"`
}

// Chronology is an issue's date as labels show it. Month and Day are 0 when
// the pattern does not use them; Season is "Spring", "Summer", "Fall" or
// "Winter" for seasonal patterns.
type Chronology struct {
	Year   int    `json:"year"`
	Month  int    `json:"month,omitempty"`
	Day    int    `json:"day,omitempty"`
	Season string `json:"season,omitempty"`
}

// Issue is one predicted issue.
type Issue struct {
	// Seq counts issues from the anchor (0 = the first issue).
	Seq         int        `json:"seq"`
	ExpectedOn  time.Time  `json:"expected_on"`
	Enumeration []int      `json:"enumeration"`
	Chronology  Chronology `json:"chronology"`
	// EnumerationEnd and ChronologyEnd are set for combined issues only:
	// the last of the issues the combined one replaces.
	EnumerationEnd []int       `json:"enumeration_end,omitempty"`
	ChronologyEnd  *Chronology `json:"chronology_end,omitempty"`
	Label          string      `json:"label"`
}

// Error is a pattern or anchor that cannot be used; Field names the JSON
// field ("levels[1].units", "first_issue.enumeration").
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string { return e.Field + ": " + e.Msg }

func bad(field, format string, args ...any) *Error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

var weekdayCodes = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// Validate reports the first problem that would make predictions wrong.
func (p *Pattern) Validate() error {
	if strings.TrimSpace(p.Name) == "" {
		return bad("name", "a pattern needs a name")
	}
	if !slices.Contains(Frequencies, p.Frequency) {
		return bad("frequency", "frequency %q is not one of %v", p.Frequency, Frequencies)
	}
	if len(p.Levels) > 3 {
		return bad("levels", "at most 3 levels of enumeration (853 $a $b $c), got %d", len(p.Levels))
	}
	for i, l := range p.Levels {
		if strings.TrimSpace(l.Caption) == "" {
			return bad(fmt.Sprintf("levels[%d].caption", i), "each level needs a caption such as \"v.\" or \"no.\"")
		}
		if l.Units < 0 {
			return bad(fmt.Sprintf("levels[%d].units", i), "units per higher level cannot be negative")
		}
		if i == 0 && (l.Units != 0 || l.Continuous) {
			return bad("levels[0]", "the first level has no higher level: units and continuous apply from the second level on")
		}
	}
	if len(p.Levels) >= 2 && p.CalendarChangeMonth == 0 && p.Levels[1].Units == 0 {
		return bad("calendar_change_month", "say when %s increments: a calendar_change_month (1 = each January) or levels[1].units (issues per %s)",
			p.Levels[0].Caption, p.Levels[0].Caption)
	}
	if p.CalendarChangeMonth < 0 || p.CalendarChangeMonth > 12 {
		return bad("calendar_change_month", "must be a month 1-12, or 0 for none")
	}
	if p.CalendarChangeMonth != 0 && len(p.Levels) == 0 {
		return bad("calendar_change_month", "a calendar change needs a level of enumeration to increment")
	}
	seen := map[string]bool{}
	for i, c := range p.Chronology {
		if c != ChronYear && c != ChronSeason && c != ChronMonth && c != ChronDay {
			return bad(fmt.Sprintf("chronology[%d]", i), "chronology units are year, season, month and day; got %q", c)
		}
		if seen[c] {
			return bad(fmt.Sprintf("chronology[%d]", i), "%q appears twice", c)
		}
		seen[c] = true
	}
	if seen[ChronSeason] && (seen[ChronMonth] || seen[ChronDay]) {
		return bad("chronology", "a season cannot be combined with a month or day")
	}
	if (seen[ChronMonth] || seen[ChronSeason] || seen[ChronDay]) && !seen[ChronYear] {
		return bad("chronology", "a chronology with a month, season or day needs the year")
	}
	if seen[ChronDay] && !seen[ChronMonth] {
		return bad("chronology", "a day needs the month")
	}
	if len(p.Levels) == 0 && len(p.Chronology) == 0 {
		return bad("levels", "a pattern needs enumeration levels, chronology, or both, to label issues")
	}
	if len(p.Weekdays) > 0 && p.Frequency != Daily {
		return bad("weekdays", "weekdays apply to daily patterns only")
	}
	for i, w := range p.Weekdays {
		if _, ok := weekdayCodes[w]; !ok {
			return bad(fmt.Sprintf("weekdays[%d]", i), "weekdays are mon, tue, wed, thu, fri, sat, sun; got %q", w)
		}
	}
	for i, m := range p.OmitMonths {
		if m < 1 || m > 12 {
			return bad(fmt.Sprintf("omit_months[%d]", i), "months are 1-12, got %d", m)
		}
	}
	if len(p.OmitMonths) >= 12 {
		return bad("omit_months", "omitting every month leaves no issues")
	}
	for i, d := range p.OmitDates {
		if _, _, ok := monthDay(d); !ok {
			return bad(fmt.Sprintf("omit_dates[%d]", i), "omitted dates are MM-DD, got %q", d)
		}
	}
	if len(p.CombineMonths) > 0 && p.Frequency != Monthly && p.Frequency != Bimonthly {
		return bad("combine_months", "combined months apply to monthly and bimonthly patterns")
	}
	inCombo := map[int]bool{}
	for i, g := range p.CombineMonths {
		if len(g) < 2 {
			return bad(fmt.Sprintf("combine_months[%d]", i), "a combined issue covers at least two months")
		}
		for j, m := range g {
			if m < 1 || m > 12 {
				return bad(fmt.Sprintf("combine_months[%d][%d]", i, j), "months are 1-12, got %d", m)
			}
			if inCombo[m] || slices.Contains(p.OmitMonths, m) {
				return bad(fmt.Sprintf("combine_months[%d][%d]", i, j), "month %d is already omitted or combined", m)
			}
			inCombo[m] = true
			if j > 0 && m != g[j-1]%12+1 && p.Frequency == Monthly {
				return bad(fmt.Sprintf("combine_months[%d]", i), "combined months must be consecutive (e.g. [7,8] or [12,1])")
			}
		}
	}
	if p.Frequency == Irregular {
		if len(p.Dates) == 0 {
			return bad("dates", "an irregular pattern lists its publication dates (\"MM-DD\" every year or \"YYYY-MM-DD\")")
		}
		for i, d := range p.Dates {
			if _, err := time.Parse("2006-01-02", d); err == nil {
				continue
			}
			if _, _, ok := monthDay(d); !ok {
				return bad(fmt.Sprintf("dates[%d]", i), "dates are \"MM-DD\" or \"YYYY-MM-DD\", got %q", d)
			}
		}
	} else if len(p.Dates) > 0 {
		return bad("dates", "explicit dates apply to irregular patterns only")
	}
	return nil
}

// ValidateFirst checks an anchor against the pattern.
func (p *Pattern) ValidateFirst(f First) error {
	if f.ExpectedOn.IsZero() {
		return bad("first_issue.expected_on", "the first issue needs an expected date")
	}
	if len(f.Enumeration) != len(p.Levels) {
		return bad("first_issue.enumeration", "the pattern has %d levels of enumeration, the first issue gives %d numbers", len(p.Levels), len(f.Enumeration))
	}
	for i, n := range f.Enumeration {
		if n < 1 {
			return bad(fmt.Sprintf("first_issue.enumeration[%d]", i), "numbers start at 1, got %d", n)
		}
		if i > 0 && !p.Levels[i].Continuous && p.Levels[i].Units > 0 && n > p.Levels[i].Units {
			return bad(fmt.Sprintf("first_issue.enumeration[%d]", i), "%s%d is past the %d %s per unit of the level above",
				p.Levels[i].Caption, n, p.Levels[i].Units, p.Levels[i].Caption)
		}
	}
	d := day(f.ExpectedOn)
	if !p.published(d) {
		return bad("first_issue.expected_on", "%s is not a publication day of this pattern (omitted month, date or weekday)", d.Format("2006-01-02"))
	}
	if p.Frequency == Irregular && !p.irregularDate(d) {
		return bad("first_issue.expected_on", "%s is not one of the pattern's dates", d.Format("2006-01-02"))
	}
	return nil
}

func monthDay(s string) (time.Month, int, bool) {
	t, err := time.Parse("01-02", s)
	if err != nil || len(s) != 5 {
		return 0, 0, false
	}
	return t.Month(), t.Day(), true
}

func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ParseDate reads a civil date "YYYY-MM-DD" as midnight UTC, the form every
// date of this package has.
func ParseDate(s string) (time.Time, error) {
	return time.Parse("2006-01-02", s)
}

func itoa(n int) string { return strconv.Itoa(n) }
