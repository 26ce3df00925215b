package catalog

import (
	"regexp"
	"testing"

	"github.com/stacks-ils/stacks/api/catalog/demodata"
)

// abbrevEndRe is what abbrevEnd implements by hand.
var abbrevEndRe = regexp.MustCompile(`(\b\p{Lu}|etc|Jr|Sr|Inc|Co|Ltd)\.$`)

func TestAbbrevEnd_AgreesWithTheRegexp(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"Tolkien, J. R. R.", true},
		{"Smith, John, Jr.", true},
		{"Acme Inc.", true},
		{"poems, etc.", true},
		{"Metc.", true}, // the words need no boundary before them
		{"A.", true},
		{"Gödel, K.", true},
		{"The end.", false},
		{"KGB.", false},     // a capital inside a word is no initial
		{"xÉ.", true},       // \b is ASCII's: after an ASCII letter a non-ASCII capital starts a "word"
		{"Émile É.", false}, // and after a space it does not
		{"", false},
		{".", false},
		{"no period", false},
		{"Jr", false},
		{"bad \xff.", false},
	}
	for _, c := range cases {
		if got, re := abbrevEnd(c.in), abbrevEndRe.MatchString(c.in); got != c.want || re != c.want {
			t.Errorf("abbrevEnd(%q) = %v, regexp %v, want %v", c.in, got, re, c.want)
		}
	}
	// Every subfield of the real demo records, and each with a final period.
	n := 0
	for _, rec := range readRecords(t, demodata.MARC) {
		for _, f := range rec.Fields {
			for _, sf := range f.Subfields {
				for _, s := range []string{sf.Value, trimISBD(sf.Value), sf.Value + "."} {
					n++
					if got, re := abbrevEnd(s), abbrevEndRe.MatchString(s); got != re {
						t.Errorf("abbrevEnd(%q) = %v, regexp %v", s, got, re)
					}
				}
			}
		}
	}
	if n < 5000 {
		t.Fatalf("compared %d strings only", n)
	}
}
