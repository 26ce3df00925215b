package catalog

import (
	"testing"
	"unicode/utf8"
)

func TestParseAndCompileQuery(t *testing.T) {
	cases := []struct {
		q, ts, sql string
	}{
		{"harry potter", "('harry' & 'potter')", ""},
		{`"chamber of secrets"`, "('chamber' <-> 'of' <-> 'secrets')", ""},
		{"title:wizard", "'wizard':A", ""},
		{`author:"le guin"`, "('le':B <-> 'guin':B)", ""},
		{"subject:cats OR subject:dogs", "('cats':C | 'dogs':C)", ""},
		{"wizards NOT potter", "('wizards' & !'potter')", ""},
		{"wizards -potter", "('wizards' & !'potter')", ""},
		{"(cats OR dogs) AND fiction", "(('cats' | 'dogs') & 'fiction')", ""},
		{"philosoph*", "'philosoph':*", ""},
		{"title:philosoph*", "'philosoph':*A", ""},
		{"O'Brien", "('o' <-> 'brien')", ""},
		{"isbn:0747532699", "", isbnSQL},
		{"isbn:notanisbn", "", "false"},
		{"cats AND barcode:123", "", "(search @@ " + tsMatchSQL + " AND id IN (SELECT bib_id FROM items WHERE barcode = ?))"},
		{"'; DROP TABLE bibs; --", "(('drop' & 'table') & 'bibs')", ""},
	}
	for _, c := range cases {
		t.Run(c.q, func(t *testing.T) {
			n, err := ParseQuery(c.q)
			if err != nil {
				t.Fatal(err)
			}
			e := (&compiler{}).compile(n, false)
			if e.ts != c.ts || (c.sql != "" && e.sql != c.sql) {
				t.Fatalf("compile(%q) = ts %q sql %q; want ts %q sql %q", c.q, e.ts, e.sql, c.ts, c.sql)
			}
		})
	}
}

func TestParseQuery_Degenerate(t *testing.T) {
	for _, q := range []string{"", "   ", "((((", ")))", "AND OR NOT", "-", `"`, `title:`, "*"} {
		n, err := ParseQuery(q)
		if err != nil {
			continue // a clear 422 is fine too
		}
		if n != nil {
			(&compiler{}).compile(n, false) // must not panic
		}
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"harry potter", `title:"x y" OR -z*`, "(a (b (c)))", "isbn:123 barcode:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		n, err := ParseQuery(q)
		if err == nil && n != nil {
			e := (&compiler{}).compile(n, false)
			if e.ts == "" && e.sql == "" {
				t.Fatalf("empty compilation of %q", q)
			}
		}
	})
}

func TestMatchKeyCutsWholeCharacters(t *testing.T) {
	y := 1999
	k := MatchKey(Fold("Ééééééééééééééééééééééééééééééééééééééééééé long"), []string{"Dvořák, A."}, &y)
	if !utf8.ValidString(k) || k != "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee|dvorak|1999" {
		t.Fatalf("MatchKey = %q", k)
	}
	k = MatchKey("ééééééééééééééééééééééééééééééééééééééééééé", nil, nil)
	if !utf8.ValidString(k) {
		t.Fatalf("MatchKey cut a character: %q", k)
	}
}
