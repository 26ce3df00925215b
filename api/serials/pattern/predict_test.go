package pattern

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func d(s string) time.Time {
	t, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return t
}

func shipped(t *testing.T, id string) *Pattern {
	t.Helper()
	p, ok := Shipped(id)
	if !ok {
		t.Fatalf("no shipped pattern %q", id)
	}
	return &p
}

// Each case is a hand-written sequence: the expected date and the label of
// every issue from the anchor to until.
func TestPredict(t *testing.T) {
	monthlyNoAugust := &Pattern{Name: "monthly, no August", Frequency: Monthly,
		Levels: []Level{{Caption: "v."}, {Caption: "no.", Units: 11}}, Chronology: []string{"year", "month"},
		CalendarChangeMonth: 1, OmitMonths: []int{8}}
	julyVolumes := &Pattern{Name: "monthly, volume starts in July", Frequency: Monthly,
		Levels: []Level{{Caption: "v."}, {Caption: "no.", Units: 12}}, Chronology: []string{"year", "month"},
		CalendarChangeMonth: 7}
	weekly26 := &Pattern{Name: "weekly, 26 issues per volume", Frequency: Weekly,
		Levels: []Level{{Caption: "v."}, {Caption: "no.", Units: 26}}, Chronology: []string{"year", "month", "day"}}
	decJan := &Pattern{Name: "monthly, Dec/Jan combined", Frequency: Monthly,
		Levels: []Level{{Caption: "v."}, {Caption: "no.", Units: 12}}, Chronology: []string{"year", "month"},
		CalendarChangeMonth: 1, CombineMonths: [][]int{{12, 1}}}
	weekdaysOnly := &Pattern{Name: "business daily", Frequency: Daily, Chronology: []string{"year", "month", "day"},
		Weekdays: []string{"mon", "tue", "wed", "thu", "fri"}, OmitDates: []string{"12-25", "01-01"}}
	wholeNumbers := &Pattern{Name: "weekly, whole numbering", Frequency: Weekly,
		Levels: []Level{{Caption: "v."}, {Caption: "no.", Continuous: true}}, Chronology: []string{"year", "month", "day"},
		CalendarChangeMonth: 1}
	irregular := &Pattern{Name: "three a year on fixed days", Frequency: Irregular, Levels: []Level{{Caption: "no."}},
		Chronology: []string{"year", "month", "day"}, Dates: []string{"11-20", "03-15", "06-01"}}
	bimonthly := &Pattern{Name: "bimonthly", Frequency: Bimonthly, Levels: []Level{{Caption: "v."}, {Caption: "no.", Units: 6}},
		Chronology: []string{"year", "month"}, CalendarChangeMonth: 1}
	semiannual := &Pattern{Name: "semiannual", Frequency: Semiannual, Levels: []Level{{Caption: "v."}, {Caption: "no.", Units: 2}},
		Chronology: []string{"year", "month"}}
	biweekly := &Pattern{Name: "biweekly", Frequency: Biweekly, Levels: []Level{{Caption: "no."}},
		Chronology: []string{"year", "month", "day"}}

	cases := []struct {
		name  string
		p     *Pattern
		first First
		until string
		want  []string
	}{
		{"monthly journal across the year boundary", shipped(t, "monthly-journal"),
			First{d("2026-10-15"), []int{12, 10}}, "2027-03-15", []string{
				"2026-10-15 v.12 no.10 (Oct. 2026)",
				"2026-11-15 v.12 no.11 (Nov. 2026)",
				"2026-12-15 v.12 no.12 (Dec. 2026)",
				"2027-01-15 v.13 no.1 (Jan. 2027)",
				"2027-02-15 v.13 no.2 (Feb. 2027)",
				"2027-03-15 v.13 no.3 (Mar. 2027)",
			}},
		{"monthly on the 31st keeps to month ends", shipped(t, "monthly-journal"),
			First{d("2027-01-31"), []int{1, 1}}, "2027-04-30", []string{
				"2027-01-31 v.1 no.1 (Jan. 2027)",
				"2027-02-28 v.1 no.2 (Feb. 2027)",
				"2027-03-31 v.1 no.3 (Mar. 2027)",
				"2027-04-30 v.1 no.4 (Apr. 2027)",
			}},
		{"July/August combined", shipped(t, "monthly-july-august-combined"),
			First{d("2027-05-01"), []int{13, 5}}, "2027-10-01", []string{
				"2027-05-01 v.13 no.5 (May 2027)",
				"2027-06-01 v.13 no.6 (June 2027)",
				"2027-07-01 v.13 no.7/8 (July/Aug. 2027)",
				"2027-09-01 v.13 no.9 (Sept. 2027)",
				"2027-10-01 v.13 no.10 (Oct. 2027)",
			}},
		{"combined across the year boundary and the volume change", decJan,
			First{d("2026-11-05"), []int{3, 11}}, "2027-02-05", []string{
				"2026-11-05 v.3 no.11 (Nov. 2026)",
				"2026-12-05 v.3 no.12/v.4 no.1 (Dec. 2026/Jan. 2027)",
				"2027-02-05 v.4 no.2 (Feb. 2027)",
			}},
		{"no issue in August: 11 numbers a volume", monthlyNoAugust,
			First{d("2026-06-10"), []int{4, 6}}, "2027-01-10", []string{
				"2026-06-10 v.4 no.6 (June 2026)",
				"2026-07-10 v.4 no.7 (July 2026)",
				"2026-09-10 v.4 no.8 (Sept. 2026)",
				"2026-10-10 v.4 no.9 (Oct. 2026)",
				"2026-11-10 v.4 no.10 (Nov. 2026)",
				"2026-12-10 v.4 no.11 (Dec. 2026)",
				"2027-01-10 v.5 no.1 (Jan. 2027)",
			}},
		{"volume changes in July, not in January", julyVolumes,
			First{d("2026-05-01"), []int{30, 11}}, "2027-01-01", []string{
				"2026-05-01 v.30 no.11 (May 2026)",
				"2026-06-01 v.30 no.12 (June 2026)",
				"2026-07-01 v.31 no.1 (July 2026)",
				"2026-08-01 v.31 no.2 (Aug. 2026)",
				"2026-09-01 v.31 no.3 (Sept. 2026)",
				"2026-10-01 v.31 no.4 (Oct. 2026)",
				"2026-11-01 v.31 no.5 (Nov. 2026)",
				"2026-12-01 v.31 no.6 (Dec. 2026)",
				"2027-01-01 v.31 no.7 (Jan. 2027)",
			}},
		{"volume after 26 issues, mid-year", weekly26,
			First{d("2026-06-18"), []int{40, 25}}, "2026-07-09", []string{
				"2026-06-18 v.40 no.25 (June 18, 2026)",
				"2026-06-25 v.40 no.26 (June 25, 2026)",
				"2026-07-02 v.41 no.1 (July 2, 2026)",
				"2026-07-09 v.41 no.2 (July 9, 2026)",
			}},
		{"weekly magazine: 53 Thursdays in 2026", shipped(t, "weekly-magazine"),
			First{d("2026-12-17"), []int{58, 51}}, "2027-01-14", []string{
				"2026-12-17 v.58 no.51 (Dec. 17, 2026)",
				"2026-12-24 v.58 no.52 (Dec. 24, 2026)",
				"2026-12-31 v.58 no.53 (Dec. 31, 2026)",
				"2027-01-07 v.59 no.1 (Jan. 7, 2027)",
				"2027-01-14 v.59 no.2 (Jan. 14, 2027)",
			}},
		{"daily newspaper except Sunday across New Year", shipped(t, "daily-newspaper-except-sunday"),
			First{d("2026-12-29"), []int{146, 300}}, "2027-01-05", []string{
				"2026-12-29 v.146 no.300 (Dec. 29, 2026)",
				"2026-12-30 v.146 no.301 (Dec. 30, 2026)",
				"2026-12-31 v.146 no.302 (Dec. 31, 2026)",
				"2027-01-01 v.147 no.1 (Jan. 1, 2027)",
				"2027-01-02 v.147 no.2 (Jan. 2, 2027)",
				"2027-01-04 v.147 no.3 (Jan. 4, 2027)",
				"2027-01-05 v.147 no.4 (Jan. 5, 2027)",
			}},
		{"weekdays, no paper on Christmas and New Year, dates only", weekdaysOnly,
			First{d("2026-12-23"), nil}, "2027-01-05", []string{
				"2026-12-23 Dec. 23, 2026",
				"2026-12-24 Dec. 24, 2026",
				"2026-12-28 Dec. 28, 2026",
				"2026-12-29 Dec. 29, 2026",
				"2026-12-30 Dec. 30, 2026",
				"2026-12-31 Dec. 31, 2026",
				"2027-01-04 Jan. 4, 2027",
				"2027-01-05 Jan. 5, 2027",
			}},
		{"quarterly with seasons", shipped(t, "quarterly"),
			First{d("2026-10-01"), []int{7, 4}}, "2027-07-01", []string{
				"2026-10-01 v.7 no.4 (Fall 2026)",
				"2027-01-01 v.8 no.1 (Winter 2027)",
				"2027-04-01 v.8 no.2 (Spring 2027)",
				"2027-07-01 v.8 no.3 (Summer 2027)",
			}},
		{"annual", shipped(t, "annual"),
			First{d("2026-03-01"), []int{5}}, "2028-03-01", []string{
				"2026-03-01 v.5 (2026)",
				"2027-03-01 v.6 (2027)",
				"2028-03-01 v.7 (2028)",
			}},
		{"whole numbering goes on across volumes", wholeNumbers,
			First{d("2026-12-24"), []int{10, 520}}, "2027-01-07", []string{
				"2026-12-24 v.10 no.520 (Dec. 24, 2026)",
				"2026-12-31 v.10 no.521 (Dec. 31, 2026)",
				"2027-01-07 v.11 no.522 (Jan. 7, 2027)",
			}},
		{"irregular on fixed days", irregular,
			First{d("2026-06-01"), []int{7}}, "2027-06-01", []string{
				"2026-06-01 no.7 (June 1, 2026)",
				"2026-11-20 no.8 (Nov. 20, 2026)",
				"2027-03-15 no.9 (Mar. 15, 2027)",
				"2027-06-01 no.10 (June 1, 2027)",
			}},
		{"bimonthly", bimonthly,
			First{d("2026-11-01"), []int{2, 6}}, "2027-03-01", []string{
				"2026-11-01 v.2 no.6 (Nov. 2026)",
				"2027-01-01 v.3 no.1 (Jan. 2027)",
				"2027-03-01 v.3 no.2 (Mar. 2027)",
			}},
		{"semiannual, volume after 2 issues", semiannual,
			First{d("2026-06-15"), []int{1, 1}}, "2027-06-15", []string{
				"2026-06-15 v.1 no.1 (June 2026)",
				"2026-12-15 v.1 no.2 (Dec. 2026)",
				"2027-06-15 v.2 no.1 (June 2027)",
			}},
		{"biweekly", biweekly,
			First{d("2026-12-21"), []int{100}}, "2027-01-18", []string{
				"2026-12-21 no.100 (Dec. 21, 2026)",
				"2027-01-04 no.101 (Jan. 4, 2027)",
				"2027-01-18 no.102 (Jan. 18, 2027)",
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Predict(tc.p, tc.first, d(tc.until))
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for i, iss := range got {
				if iss.Seq != i {
					t.Errorf("issue %d has seq %d", i, iss.Seq)
				}
				lines = append(lines, iss.ExpectedOn.Format("2006-01-02")+" "+iss.Label)
			}
			if g, w := strings.Join(lines, "\n"), strings.Join(tc.want, "\n"); g != w {
				t.Errorf("got\n%s\nwant\n%s", g, w)
			}
		})
	}
}

func TestPredict_CombinedIssueFields(t *testing.T) {
	got, err := Predict(shipped(t, "monthly-july-august-combined"), First{d("2027-07-01"), []int{13, 7}}, d("2027-07-31"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("want one combined issue, got %d", len(got))
	}
	iss := got[0]
	if fmt.Sprint(iss.Enumeration, iss.EnumerationEnd) != "[13 7] [13 8]" || iss.Chronology.Month != 7 || iss.ChronologyEnd == nil || iss.ChronologyEnd.Month != 8 {
		t.Errorf("combined issue: %+v", iss)
	}
}

func TestValidate(t *testing.T) {
	ok := func() Pattern { p, _ := Shipped("monthly-journal"); return p }
	cases := []struct {
		name  string
		edit  func(p *Pattern)
		field string
	}{
		{"unknown frequency", func(p *Pattern) { p.Frequency = "fortnightly" }, "frequency"},
		{"no name", func(p *Pattern) { p.Name = " " }, "name"},
		{"caption missing", func(p *Pattern) { p.Levels[1].Caption = "" }, "levels[1].caption"},
		{"no rule for the volume", func(p *Pattern) { p.CalendarChangeMonth = 0; p.Levels[1].Units = 0 }, "calendar_change_month"},
		{"month 13", func(p *Pattern) { p.CalendarChangeMonth = 13 }, "calendar_change_month"},
		{"bad chronology unit", func(p *Pattern) { p.Chronology = []string{"year", "week"} }, "chronology[1]"},
		{"month without year", func(p *Pattern) { p.Chronology = []string{"month"} }, "chronology"},
		{"weekdays on a monthly", func(p *Pattern) { p.Weekdays = []string{"mon"} }, "weekdays"},
		{"omit month 0", func(p *Pattern) { p.OmitMonths = []int{0} }, "omit_months[0]"},
		{"combined not consecutive", func(p *Pattern) { p.CombineMonths = [][]int{{6, 8}} }, "combine_months[0]"},
		{"combined and omitted", func(p *Pattern) { p.OmitMonths = []int{8}; p.CombineMonths = [][]int{{7, 8}} }, "combine_months[0][1]"},
		{"irregular without dates", func(p *Pattern) { p.Frequency = Irregular }, "dates"},
		{"bad omitted date", func(p *Pattern) { p.OmitDates = []string{"25.12"} }, "omit_dates[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := ok()
			tc.edit(&p)
			err := p.Validate()
			pe, isPE := err.(*Error)
			if !isPE || pe.Field != tc.field {
				t.Fatalf("want an error on %s, got %v", tc.field, err)
			}
		})
	}
	for _, p := range Library {
		if err := p.Validate(); err != nil {
			t.Errorf("shipped pattern %s: %v", p.ID, err)
		}
	}
}

func TestValidateFirst(t *testing.T) {
	daily := shipped(t, "daily-newspaper-except-sunday")
	cases := []struct {
		p     *Pattern
		first First
		field string
	}{
		{daily, First{d("2027-01-03"), []int{1, 1}}, "first_issue.expected_on"}, // a Sunday
		{daily, First{d("2027-01-04"), []int{1}}, "first_issue.enumeration"},
		{shipped(t, "monthly-journal"), First{d("2027-01-04"), []int{1, 13}}, "first_issue.enumeration[1]"},
		{shipped(t, "monthly-journal"), First{d("2027-01-04"), []int{0, 1}}, "first_issue.enumeration[0]"},
		{shipped(t, "monthly-journal"), First{time.Time{}, []int{1, 1}}, "first_issue.expected_on"},
	}
	for i, tc := range cases {
		err := tc.p.ValidateFirst(tc.first)
		if pe, ok := err.(*Error); !ok || pe.Field != tc.field {
			t.Errorf("case %d: want an error on %s, got %v", i, tc.field, err)
		}
	}
}

func TestPredict_TooMany(t *testing.T) {
	p := shipped(t, "daily-newspaper-except-sunday")
	if _, err := Predict(p, First{d("2026-01-01"), []int{1, 1}}, d("2126-01-01")); err == nil {
		t.Fatal("a century of dailies should be refused")
	}
}
