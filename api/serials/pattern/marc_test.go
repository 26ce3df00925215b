package pattern

import (
	"strings"
	"testing"

	"github.com/stacks-ils/stacks/api/catalog/marc"
)

func fieldString(f marc.Field) string {
	var b strings.Builder
	b.WriteString(f.Tag + " " + string(f.Ind1) + string(f.Ind2))
	for _, s := range f.Subfields {
		b.WriteString(" $" + string(s.Code) + s.Value)
	}
	return b.String()
}

func TestField853(t *testing.T) {
	weekdays := &Pattern{Name: "x", Frequency: Daily, Chronology: []string{"year", "month", "day"},
		Weekdays: []string{"mon", "fri"}, OmitDates: []string{"12-25"}}
	noAug := &Pattern{Name: "x", Frequency: Monthly, Levels: []Level{{Caption: "no."}}, Chronology: []string{"year", "month"}, OmitMonths: []int{8, 7}}
	whole := &Pattern{Name: "x", Frequency: Weekly, Levels: []Level{{Caption: "v."}, {Caption: "no.", Continuous: true}}, CalendarChangeMonth: 7}
	irr := &Pattern{Name: "x", Frequency: Irregular, Levels: []Level{{Caption: "no."}}, Dates: []string{"03-15", "2027-06-01"}}
	cases := []struct {
		p    *Pattern
		want string
	}{
		{shipped(t, "monthly-july-august-combined"), "853 20 $81 $av. $bno. $u12 $vr $i(year) $j(month) $wm $x01 $ycm07/08"},
		{shipped(t, "daily-newspaper-except-sunday"), "853 20 $81 $av. $bno. $uvar $vr $i(year) $j(month) $k(day) $wd $x01 $ypdmo,tu,we,th,fr,sa"},
		{shipped(t, "quarterly"), "853 20 $81 $av. $bno. $u4 $vr $i(year) $j(season) $wq $x01"},
		{shipped(t, "annual"), "853 20 $81 $av. $i(year) $wa"},
		{weekdays, "853 20 $81 $a(year) $b(month) $c(day) $wd $ypdmo,fr $yod1225"},
		{noAug, "853 20 $81 $ano. $i(year) $j(month) $wm $yom07,08"},
		{whole, "853 20 $81 $av. $bno. $uvar $vc $ww $x07"},
		{irr, "853 10 $81 $ano. $wx $ypd0315"},
	}
	for _, tc := range cases {
		if got := fieldString(tc.p.Field853(1)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.p.Name, got, tc.want)
		}
	}
}

func TestField863(t *testing.T) {
	p := shipped(t, "monthly-july-august-combined")
	issues, err := Predict(p, First{d("2027-06-01"), []int{13, 6}}, d("2027-07-01"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"863 41 $81.1 $a13 $b6 $i2027 $j06",
		"863 41 $81.2 $a13 $b7/8 $i2027 $j07/08",
	}
	for i, iss := range issues {
		if got := fieldString(p.Field863(1, iss)); got != want[i] {
			t.Errorf("issue %d: got %s want %s", i, got, want[i])
		}
	}
	q := shipped(t, "quarterly")
	issues, _ = Predict(q, First{d("2027-04-01"), []int{8, 2}}, d("2027-04-01"))
	if got := fieldString(q.Field863(2, issues[0])); got != "863 41 $82.1 $a8 $b2 $i2027 $j21" {
		t.Errorf("quarterly 863: %s", got)
	}
}
