package pattern

import "slices"

// Library is the set of ready patterns every tenant sees
// (GET /api/v1/serial-patterns). Their ids are stable text ids; tenant
// patterns have UUIDs. A subscription copies the pattern it was made with,
// so changing this list never changes existing predictions.
var Library = []Pattern{
	{
		ID: "weekly-magazine", Name: "Weekly magazine (volume per calendar year)", Frequency: Weekly,
		Levels:              []Level{{Caption: "v."}, {Caption: "no."}},
		Chronology:          []string{ChronYear, ChronMonth, ChronDay},
		CalendarChangeMonth: 1,
	},
	{
		ID: "monthly-journal", Name: "Monthly journal (12 issues per volume, volume per calendar year)", Frequency: Monthly,
		Levels:              []Level{{Caption: "v."}, {Caption: "no.", Units: 12}},
		Chronology:          []string{ChronYear, ChronMonth},
		CalendarChangeMonth: 1,
	},
	{
		ID: "monthly-july-august-combined", Name: "Monthly journal, July/August combined", Frequency: Monthly,
		Levels:              []Level{{Caption: "v."}, {Caption: "no.", Units: 12}},
		Chronology:          []string{ChronYear, ChronMonth},
		CalendarChangeMonth: 1,
		CombineMonths:       [][]int{{7, 8}},
	},
	{
		ID: "quarterly", Name: "Quarterly (4 issues per volume, seasons)", Frequency: Quarterly,
		Levels:              []Level{{Caption: "v."}, {Caption: "no.", Units: 4}},
		Chronology:          []string{ChronYear, ChronSeason},
		CalendarChangeMonth: 1,
	},
	{
		ID: "daily-newspaper-except-sunday", Name: "Daily newspaper except Sunday", Frequency: Daily,
		Levels:              []Level{{Caption: "v."}, {Caption: "no."}},
		Chronology:          []string{ChronYear, ChronMonth, ChronDay},
		CalendarChangeMonth: 1,
		Weekdays:            []string{"mon", "tue", "wed", "thu", "fri", "sat"},
	},
	{
		ID: "annual", Name: "Annual (one volume a year)", Frequency: Annual,
		Levels:     []Level{{Caption: "v."}},
		Chronology: []string{ChronYear},
	},
}

// Shipped returns a copy of the library pattern with id, or false.
func Shipped(id string) (Pattern, bool) {
	i := slices.IndexFunc(Library, func(p Pattern) bool { return p.ID == id })
	if i < 0 {
		return Pattern{}, false
	}
	p := Library[i]
	p.Levels = slices.Clone(p.Levels)
	p.Chronology = slices.Clone(p.Chronology)
	p.Weekdays = slices.Clone(p.Weekdays)
	p.CombineMonths = slices.Clone(p.CombineMonths)
	return p, true
}
