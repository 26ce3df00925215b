package pattern

import (
	"testing"
)

// holdings predicts issues and gives each the status set(label) returns
// ("" = received).
func holdings(t *testing.T, p *Pattern, f First, until string, set func(label string) string) []Holding {
	t.Helper()
	issues, err := Predict(p, f, d(until))
	if err != nil {
		t.Fatal(err)
	}
	var out []Holding
	for _, iss := range issues {
		st := set(p.EnumLabel(iss.Enumeration, iss.EnumerationEnd))
		if st == "" {
			st = "received"
		}
		out = append(out, Holding{iss.Enumeration, iss.EnumerationEnd, iss.Chronology, iss.ChronologyEnd, st})
	}
	return out
}

func TestSummarize(t *testing.T) {
	monthly := shipped(t, "monthly-journal")
	from2015 := First{d("2015-01-10"), []int{1, 1}}
	statuses := func(m map[string]string) func(string) string {
		return func(l string) string { return m[l] }
	}
	volume := func(v string, status string) func(string) string {
		return func(l string) string {
			if len(l) > len(v) && l[:len(v)+1] == v+" " {
				return status
			}
			return ""
		}
	}
	byDate := &Pattern{Name: "x", Frequency: Daily, Chronology: []string{"year", "month", "day"}, Weekdays: []string{"mon", "tue", "wed", "thu", "fri"}}
	whole := &Pattern{Name: "x", Frequency: Monthly, Levels: []Level{{Caption: "no."}}, Chronology: []string{"year", "month"}}
	cases := []struct {
		name string
		p    *Pattern
		h    []Holding
		want string
	}{
		{"one issue lacking", monthly, holdings(t, monthly, from2015, "2026-12-31", statuses(map[string]string{"v.7 no.3": "missing"})),
			"v.1-v.12 (2015-2026); lacks v.7 no.3"},
		{"a run lacking, a late one, a not-published one", monthly, holdings(t, monthly, from2015, "2026-12-31", statuses(map[string]string{
			"v.7 no.3": "missing", "v.7 no.4": "claimed", "v.7 no.5": "late", "v.8 no.1": "not_published", "v.8 no.2": "damaged"})),
			"v.1-v.12 (2015-2026); lacks v.7 no.3-5"},
		{"a whole volume missing breaks the range", monthly, holdings(t, monthly, from2015, "2026-12-31", volume("v.9", "missing")),
			"v.1-v.8 (2015-2022), v.10-v.12 (2024-2026)"},
		{"issues still to come are not lacking, a missing one at the end is", monthly,
			holdings(t, monthly, from2015, "2017-12-31", statuses(map[string]string{"v.3 no.10": "missing", "v.3 no.11": "expected", "v.3 no.12": "expected"})),
			"v.1-v.3 (2015-2017); lacks v.3 no.10"},
		{"nothing received", monthly, holdings(t, monthly, from2015, "2015-03-31", func(string) string { return "expected" }), ""},
		{"combined issue lacking", shipped(t, "monthly-july-august-combined"),
			holdings(t, shipped(t, "monthly-july-august-combined"), First{d("2020-01-01"), []int{6, 1}}, "2021-12-31", statuses(map[string]string{"v.6 no.7/8": "missing"})),
			"v.6-v.7 (2020-2021); lacks v.6 no.7/8"},
		{"one level: gaps break ranges", whole,
			holdings(t, whole, First{d("2020-01-05"), []int{1}}, "2021-12-31", statuses(map[string]string{"no.5": "missing", "no.6": "missing"})),
			"no.1-no.4 (2020), no.7-no.24 (2020-2021)"},
		{"dates only", byDate,
			holdings(t, byDate, First{d("2019-12-30"), nil}, "2021-01-08", func(string) string { return "" }),
			"2019-2021"},
	}
	// A dated daily with two days lacking: its labels are chronology.
	daily := holdings(t, byDate, First{d("2020-03-02"), nil}, "2020-03-13", func(string) string { return "" })
	daily[2].Status, daily[3].Status = "missing", "missing" // Mar. 4 and 5
	daily[8].Status = "late"                                // Mar. 12
	cases = append(cases, struct {
		name string
		p    *Pattern
		h    []Holding
		want string
	}{"dates only, lacking days", byDate, daily, "2020; lacks Mar. 4, 2020-Mar. 5, 2020, Mar. 12, 2020"})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Summarize(tc.p, tc.h); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
