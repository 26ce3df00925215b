package patrons

import (
	"strings"
	"testing"
	"time"

	"github.com/stacks-ils/stacks/api/httpx"
)

func jsonUnmarshalStrict(s string, v any) error { return httpx.DecodeJSON([]byte(s), v) }

func TestFold(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Smith", "smith"},
		{"  José  ", "jose"},
		{"Ó'Brien-Smith, José", "obrien smith jose"},
		{"D’Arcy", "darcy"},
		{"Müller", "muller"},
		{"Straße", "strasse"},
		{"Łukasz Øberg", "lukasz oberg"},
		{"Ærøskøbing", "aeroskobing"},
		{"Þórr", "thorr"},
		{"Nguyễn Thị", "nguyen thi"},
		{"ÅSA", "asa"},
		{"Ivanov Иван", "ivanov иван"},
		{"Ёлка", "елка"},
		{"김민준", "김민준"},
		{"a  -  b", "a b"},
		{"", ""},
		{"!!", ""},
	} {
		if got := Fold(c.in); got != c.want {
			t.Errorf("Fold(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestNameKey(t *testing.T) {
	for _, c := range []struct{ first, last, want string }{
		{"John", "Smith", "smith john"},
		{"José", "García Márquez", "garcia marquez jose"},
		{"", "Madonna", "madonna"},
		{"Anne-Marie", "O'Neil", "oneil anne marie"},
	} {
		if got := NameKey(c.first, c.last); got != c.want {
			t.Errorf("NameKey(%q, %q) = %q, want %q", c.first, c.last, got, c.want)
		}
	}
}

func TestPrefixUpper(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"smi", "smj", true},
		{"smith jo", "smith jp", true},
		{"a z", "a {", true},
		{"иван", "ивао", true},
		{"x\U0010FFFF", "y", true},
		{"\uD7FF", "\uE000", true},
		{"", "", false},
	} {
		got, ok := prefixUpper(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("prefixUpper(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// matches reports whether key falls in one of the ranges, as the SQL
// conditions (C collation: byte order) decide.
func matches(key string, rs []nameRange) bool {
	for _, r := range rs {
		if key >= r.From && key < r.To {
			return true
		}
	}
	return false
}

func TestNameRanges(t *testing.T) {
	john := NameKey("John", "Smith")
	jose := NameKey("José", "García Márquez")
	for _, c := range []struct {
		q    string
		key  string
		want bool
	}{
		{"smi", john, true},
		{"Smith", john, true},
		{"smith jo", john, true},
		{"SMITH, JO", john, true},
		{"jo smith", john, true},
		{"john smith", john, true},
		{"smith john", john, true},
		{"smithers", john, false},
		{"jo", john, false},
		{"sm x", john, false},
		{"garcia", jose, true},
		{"García Márquez J", jose, true},
		{"jose garcia marquez", jose, true},
		{"marquez", jose, false},
	} {
		if got := matches(c.key, nameRanges(c.q)); got != c.want {
			t.Errorf("%q finds %q: %v, want %v (ranges %v)", c.q, c.key, got, c.want, nameRanges(c.q))
		}
	}
	if rs := nameRanges("  ,, "); rs != nil {
		t.Errorf("blank query has ranges %v", rs)
	}
	if rs := nameRanges("smith"); len(rs) != 1 {
		t.Errorf("one word gives one range, got %v", rs)
	}
}

func TestAddMonths(t *testing.T) {
	d := func(s string) time.Time { v, _ := time.Parse(time.DateOnly, s); return v }
	for _, c := range []struct {
		from string
		n    int
		want string
	}{
		{"2026-01-15", 12, "2027-01-15"},
		{"2026-01-31", 1, "2026-02-28"},
		{"2028-01-31", 1, "2028-02-29"},
		{"2028-02-29", 12, "2029-02-28"},
		{"2026-11-30", 3, "2027-02-28"},
	} {
		if got := addMonths(d(c.from), c.n).Format(time.DateOnly); got != c.want {
			t.Errorf("addMonths(%s, %d) = %s, want %s", c.from, c.n, got, c.want)
		}
	}
}

func TestAgeOn(t *testing.T) {
	d := func(s string) time.Time { v, _ := time.Parse(time.DateOnly, s); return v }
	for _, c := range []struct {
		birth, day string
		want       int
	}{
		{"2010-06-15", "2026-06-14", 15},
		{"2010-06-15", "2026-06-15", 16},
		{"2008-02-29", "2026-02-28", 17},
		{"2008-02-29", "2026-03-01", 18},
	} {
		if got := ageOn(d(c.birth), d(c.day)); got != c.want {
			t.Errorf("ageOn(%s, %s) = %d, want %d", c.birth, c.day, got, c.want)
		}
	}
}

func TestLuhnCardNumbers(t *testing.T) {
	valid := func(s string) bool {
		sum, double := 0, false
		for i := len(s) - 1; i >= 0; i-- {
			d := int(s[i] - '0')
			if double {
				if d *= 2; d > 9 {
					d -= 9
				}
			}
			sum += d
			double = !double
		}
		return sum%10 == 0
	}
	for _, body := range []string{"7992739871", "1234567890123", "0000000000000"} {
		card := body + string(rune('0'+luhnDigit(body)))
		if !valid(card) {
			t.Errorf("%s is not Luhn-valid", card)
		}
	}
	if luhnDigit("7992739871") != 3 {
		t.Errorf("luhnDigit(7992739871) = %d, want 3", luhnDigit("7992739871"))
	}
}

func TestOptJSON(t *testing.T) {
	var in CategoryInput
	if err := jsonUnmarshalStrict(`{"max_age": null, "min_age": 5}`, &in); err != nil {
		t.Fatal(err)
	}
	if !in.MaxAge.Set || !in.MaxAge.Null || in.MaxAge.Ptr() != nil {
		t.Errorf("max_age null: %+v", in.MaxAge)
	}
	if p := in.MinAge.Ptr(); p == nil || *p != 5 {
		t.Errorf("min_age 5: %+v", in.MinAge)
	}
	if in.MaxLoans.Set {
		t.Errorf("absent max_loans is set")
	}
	if err := jsonUnmarshalStrict(`{"max_age": "x"}`, &in); err == nil || !strings.Contains(err.Error(), "max_age") {
		t.Errorf("wrong type: %v", err)
	}
}
