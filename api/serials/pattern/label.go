package pattern

import (
	"slices"
	"strings"
)

// monthAbbr are the AACR2 (appendix B) month abbreviations libraries use in
// holdings: "Sept." and "June" rather than "Sep." and "Jun.".
var monthAbbr = [...]string{"", "Jan.", "Feb.", "Mar.", "Apr.", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec."}

// Label renders an issue the way holdings show it: enumeration, then the
// chronology in parentheses ("v.12 no.3 (Mar. 2027)"); a combined issue
// joins its parts with a slash ("v.12 no.7/8 (July/Aug. 2027)"). Without
// enumeration the chronology stands alone ("Jan. 4, 2027").
func (p *Pattern) Label(iss Issue) string {
	enum := p.EnumLabel(iss.Enumeration, iss.EnumerationEnd)
	chron := p.ChronLabel(iss.Chronology, iss.ChronologyEnd)
	switch {
	case enum == "":
		return chron
	case chron == "":
		return enum
	}
	return enum + " (" + chron + ")"
}

// EnumLabel renders enumeration ("v.12 no.3"); with an end, the levels from
// the first that differs are repeated after a slash ("no.7/8",
// "v.12 no.12/v.13 no.1").
func (p *Pattern) EnumLabel(enum, end []int) string {
	parts := make([]string, 0, len(enum))
	for i, n := range enum {
		if i < len(p.Levels) {
			parts = append(parts, p.Levels[i].Caption+itoa(n))
		}
	}
	s := strings.Join(parts, " ")
	if end == nil || slices.Equal(end, enum) {
		return s
	}
	k := 0
	for k < len(end) && k < len(enum) && end[k] == enum[k] {
		k++
	}
	if k == len(end)-1 {
		return s + "/" + itoa(end[k])
	}
	var tail []string
	for i := k; i < len(end) && i < len(p.Levels); i++ {
		tail = append(tail, p.Levels[i].Caption+itoa(end[i]))
	}
	return s + "/" + strings.Join(tail, " ")
}

// ChronLabel renders chronology as the pattern's units ask: "2027",
// "Spring 2027", "Mar. 2027", "Mar. 15, 2027"; a range shares the year when
// it can ("July/Aug. 2027", "Dec. 2026/Jan. 2027").
func (p *Pattern) ChronLabel(c Chronology, end *Chronology) string {
	has := func(u string) bool { return slices.Contains(p.Chronology, u) }
	if !has(ChronYear) {
		return ""
	}
	noYear := func(c Chronology) string {
		switch {
		case has(ChronDay):
			return monthAbbr[c.Month] + " " + itoa(c.Day)
		case has(ChronMonth):
			return monthAbbr[c.Month]
		case has(ChronSeason):
			return c.Season
		}
		return ""
	}
	full := func(c Chronology) string {
		s := noYear(c)
		switch {
		case s == "":
			return itoa(c.Year)
		case has(ChronDay):
			return s + ", " + itoa(c.Year)
		}
		return s + " " + itoa(c.Year)
	}
	if end == nil || *end == c {
		return full(c)
	}
	if end.Year != c.Year || noYear(c) == "" {
		return full(c) + "/" + full(*end)
	}
	if has(ChronDay) && end.Month == c.Month {
		return monthAbbr[c.Month] + " " + itoa(c.Day) + "/" + itoa(end.Day) + ", " + itoa(c.Year)
	}
	return noYear(c) + "/" + full(*end)
}
