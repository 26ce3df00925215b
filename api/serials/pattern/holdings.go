package pattern

import (
	"slices"
	"strings"
)

// Holding is one issue of a subscription as the holdings summary sees it.
type Holding struct {
	Enumeration    []int
	EnumerationEnd []int
	Chronology     Chronology
	ChronologyEnd  *Chronology
	Status         string // as serial_issues.status
}

// held: on the shelf. A damaged issue is held (and may be claimed for a
// replacement); not_published issues never existed and are left out.
func (h Holding) held() bool { return h.Status == "received" || h.Status == "damaged" }

// Summarize compresses a subscription's issues (in publication order) into a
// textual holdings statement in the spirit of ANSI/NISO Z39.71:
// "v.1-v.12 (2015-2026); lacks v.7 no.3". Units are volumes (the first
// level) when there are two or more levels, issues when there is one, and
// years when there is no enumeration. Consecutive held units form a range
// with the years of its first and last held issue; a unit with nothing held
// breaks the range. "lacks" lists, inside held units, the issues not held
// that should be there: those before the last held issue, and any marked
// missing. Issues still to come are not lacking. "" when nothing is held.
func Summarize(p *Pattern, issues []Holding) string {
	var list []Holding
	for _, h := range issues {
		if h.Status != "not_published" {
			list = append(list, h)
		}
	}
	lastHeld := -1
	for i, h := range list {
		if h.held() {
			lastHeld = i
		}
	}
	if lastHeld < 0 {
		return ""
	}
	unitOf := func(h Holding) int {
		switch {
		case len(p.Levels) >= 2:
			return h.Enumeration[0]
		case len(p.Levels) == 1:
			return h.Enumeration[0]
		}
		return h.Chronology.Year
	}
	unitLabel := func(u int) string {
		if len(p.Levels) == 0 {
			return itoa(u)
		}
		return p.Levels[0].Caption + itoa(u)
	}
	endYear := func(h Holding) int {
		if h.ChronologyEnd != nil {
			return h.ChronologyEnd.Year
		}
		return h.Chronology.Year
	}

	// Ranges of consecutive held units.
	type span struct{ from, to, y1, y2 int }
	var spans []span
	heldUnits := map[int]bool{}
	for _, h := range list {
		if !h.held() {
			continue
		}
		u := unitOf(h)
		heldUnits[u] = true
		if n := len(spans); n > 0 && (spans[n-1].to == u || spans[n-1].to+1 == u) {
			spans[n-1].to, spans[n-1].y2 = u, endYear(h)
			continue
		}
		spans = append(spans, span{u, u, h.Chronology.Year, endYear(h)})
	}
	var parts []string
	for _, s := range spans {
		txt := unitLabel(s.from)
		if s.to != s.from {
			txt += "-" + unitLabel(s.to)
		}
		if len(p.Levels) > 0 && slices.Contains(p.Chronology, ChronYear) {
			years := itoa(s.y1)
			if s.y2 != s.y1 {
				years += "-" + itoa(s.y2)
			}
			txt += " (" + years + ")"
		}
		parts = append(parts, txt)
	}
	out := strings.Join(parts, ", ")
	if len(p.Levels) == 1 {
		return out // with one level, a gap already shows as a break between ranges
	}

	// Lacking issues, runs of neighbours in the same unit compressed.
	label := func(h Holding) string {
		if len(p.Levels) == 0 {
			return p.ChronLabel(h.Chronology, h.ChronologyEnd)
		}
		return p.EnumLabel(h.Enumeration, h.EnumerationEnd)
	}
	var lacks []string
	for i := 0; i < len(list); i++ {
		h := list[i]
		if h.held() || !heldUnits[unitOf(h)] || (i > lastHeld && h.Status != "missing") {
			continue
		}
		j := i
		for j+1 < len(list) && !list[j+1].held() && unitOf(list[j+1]) == unitOf(h) &&
			(j+1 < lastHeld || list[j+1].Status == "missing") {
			j++
		}
		txt := label(h)
		if j > i {
			end := list[j]
			if len(p.Levels) == 0 {
				txt += "-" + label(end)
			} else {
				last := end.Enumeration
				if end.EnumerationEnd != nil {
					last = end.EnumerationEnd
				}
				txt += "-" + itoa(last[len(last)-1])
			}
		}
		lacks = append(lacks, txt)
		i = j
	}
	if len(lacks) > 0 {
		out += "; lacks " + strings.Join(lacks, ", ")
	}
	return out
}
