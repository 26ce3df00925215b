package pattern

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stacks-ils/stacks/api/catalog/marc"
)

// frequencyCodes are the MARC 21 holdings codes of 853 $w.
var frequencyCodes = map[Frequency]string{
	Daily: "d", Weekly: "w", Biweekly: "e", Monthly: "m", Bimonthly: "b",
	Quarterly: "q", Semiannual: "f", Annual: "a", Irregular: "x",
}

var marcWeekday = map[string]string{"mon": "mo", "tue": "tu", "wed": "we", "thu": "th", "fri": "fr", "sat": "sa", "sun": "su"}

// seasonCodes are MARC's chronology codes for seasons (21 spring .. 24 winter).
var seasonCodes = map[string]string{"Spring": "21", "Summer": "22", "Fall": "23", "Winter": "24"}

var enumCodes = []byte{'a', 'b', 'c', 'd', 'e', 'f'}
var chronCodes = []byte{'i', 'j', 'k', 'l'}

// Field853 renders the pattern as a MARC 21 holdings "Captions and
// Pattern—Basic Bibliographic Unit" field with link number link ($8).
// Levels of enumeration go to $a $b $c with $u (units per higher level,
// "var" when not fixed) and $v (r restarts, c continuous); chronology
// captions go to $i $j $k, or to $a.. when there is no enumeration (as
// MARC asks); $w is the frequency, $x the calendar change, and $y the
// regularity: published weekdays (pd), omitted months (om) and days (od),
// combined months (cm), an irregular serial's days (pd MMDD).
func (p *Pattern) Field853(link int) marc.Field {
	f := marc.Field{Tag: "853", Ind1: '2', Ind2: '0'}
	if p.Frequency == Irregular {
		f.Ind1 = '1' // can be compressed, not expanded: issues cannot be predicted from the field alone
	}
	add := func(code byte, v string) { f.Subfields = append(f.Subfields, marc.Subfield{Code: code, Value: v}) }
	add('8', itoa(link))
	for i, l := range p.Levels {
		add(enumCodes[i], l.Caption)
		if i > 0 {
			if l.Units > 0 {
				add('u', itoa(l.Units))
			} else {
				add('u', "var")
			}
			if l.Continuous {
				add('v', "c")
			} else {
				add('v', "r")
			}
		}
	}
	codes := chronCodes
	if len(p.Levels) == 0 {
		codes = enumCodes
	}
	for i, c := range p.Chronology {
		add(codes[i], "("+c+")")
	}
	add('w', frequencyCodes[p.Frequency])
	if p.CalendarChangeMonth > 0 {
		add('x', fmt.Sprintf("%02d", p.CalendarChangeMonth))
	}
	if len(p.Weekdays) > 0 {
		var ds []string
		for _, w := range p.Weekdays {
			ds = append(ds, marcWeekday[w])
		}
		add('y', "pd"+strings.Join(ds, ","))
	}
	if len(p.OmitMonths) > 0 {
		ms := slices.Clone(p.OmitMonths)
		slices.Sort(ms)
		var s []string
		for _, m := range ms {
			s = append(s, fmt.Sprintf("%02d", m))
		}
		add('y', "om"+strings.Join(s, ","))
	}
	if len(p.OmitDates) > 0 {
		var s []string
		for _, d := range p.OmitDates {
			s = append(s, strings.ReplaceAll(d, "-", ""))
		}
		add('y', "od"+strings.Join(s, ","))
	}
	for _, g := range p.CombineMonths {
		var s []string
		for _, m := range g {
			s = append(s, fmt.Sprintf("%02d", m))
		}
		add('y', "cm"+strings.Join(s, "/"))
	}
	if p.Frequency == Irregular {
		var s []string
		for _, d := range p.Dates {
			if len(d) == 5 { // once-only dates have no MARC regularity code
				s = append(s, strings.ReplaceAll(d, "-", ""))
			}
		}
		if len(s) > 0 {
			add('y', "pd"+strings.Join(s, ","))
		}
	}
	return f
}

// Field863 renders one issue as a MARC 21 "Enumeration and Chronology—Basic
// Bibliographic Unit" field linked to the 853 with number link ($8
// "link.seq"): the numbers under the 853's captions, combined issues with a
// slash ("7/8"), months as two digits and seasons as their codes.
func (p *Pattern) Field863(link int, iss Issue) marc.Field {
	f := marc.Field{Tag: "863", Ind1: '4', Ind2: '1'}
	add := func(code byte, v string) { f.Subfields = append(f.Subfields, marc.Subfield{Code: code, Value: v}) }
	add('8', fmt.Sprintf("%d.%d", link, iss.Seq+1))
	for i, n := range iss.Enumeration {
		v := itoa(n)
		if iss.EnumerationEnd != nil && iss.EnumerationEnd[i] != n {
			v += "/" + itoa(iss.EnumerationEnd[i])
		}
		add(enumCodes[i], v)
	}
	codes := chronCodes
	if len(p.Levels) == 0 {
		codes = enumCodes
	}
	part := func(c Chronology, unit string) string {
		switch unit {
		case ChronYear:
			return itoa(c.Year)
		case ChronMonth:
			return fmt.Sprintf("%02d", c.Month)
		case ChronDay:
			return fmt.Sprintf("%02d", c.Day)
		case ChronSeason:
			return seasonCodes[c.Season]
		}
		return ""
	}
	for i, u := range p.Chronology {
		v := part(iss.Chronology, u)
		if iss.ChronologyEnd != nil {
			if e := part(*iss.ChronologyEnd, u); e != v {
				v += "/" + e
			}
		}
		add(codes[i], v)
	}
	return f
}
