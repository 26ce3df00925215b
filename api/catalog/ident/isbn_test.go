package ident

import (
	"errors"
	"strings"
	"testing"
)

func TestParseISBNValid(t *testing.T) {
	tests := []struct {
		in        string
		want13    string
		want10    string // "" when there is no ISBN-10 form
		qualifier string
	}{
		// ISBN-10 as catalogued, in the shapes MARC 020 $a really has.
		{"0-306-40615-2", "9780306406157", "0306406152", ""},
		{"0306406152", "9780306406157", "0306406152", ""},
		{"0 306 40615 2", "9780306406157", "0306406152", ""},
		{"  ISBN 0-306-40615-2  ", "9780306406157", "0306406152", ""},
		{"ISBN-10: 0-306-40615-2", "9780306406157", "0306406152", ""},
		{"isbn:0306406152", "9780306406157", "0306406152", ""},
		{"0-8044-2957-X", "9780804429573", "080442957X", ""},
		{"0-8044-2957-x", "9780804429573", "080442957X", ""},
		{"080442957x (cloth)", "9780804429573", "080442957X", "cloth"},
		{"155860832X", "9781558608320", "155860832X", ""},
		{"0451526538 (pbk.)", "9780451526533", "0451526538", "pbk."},
		{"0451526538 (pbk.) : $4.95", "9780451526533", "0451526538", "pbk."},
		{"0451526538 (v. 1 : pbk.)", "9780451526533", "0451526538", "v. 1 : pbk."},
		{"0451526538 pbk.", "9780451526533", "0451526538", "pbk."},
		{"0306406152 1990", "9780306406157", "0306406152", "1990"},
		{"0140449132;", "9780140449136", "0140449132", ""},
		// ISBN-13.
		{"978-0-596-52068-7", "9780596520687", "0596520689", ""},
		{"9780596520687", "9780596520687", "0596520689", ""},
		{"978 0 596 52068 7", "9780596520687", "0596520689", ""},
		{"ISBN-13: 978-0-306-40615-7", "9780306406157", "0306406152", ""},
		{"ISBN13: 9780306406157", "9780306406157", "0306406152", ""},
		{"9780451526533 : $4.95", "9780451526533", "0451526538", ""},
		{"9780451526533 (pbk. : alk. paper)", "9780451526533", "0451526538", "pbk. : alk. paper"},
		{"978-3-16-148410-0", "9783161484100", "316148410X", ""},
		{"9781934353561 (paperback)", "9781934353561", "1934353566", "paperback"},
		// 979 has no ISBN-10.
		{"9791090636071", "9791090636071", "", ""},
		{"979-10-90636-07-1", "9791090636071", "", ""},
		{"979-8-6530-0000-3 (hardcover)", "9798653000003", "", "hardcover"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseISBN(tt.in)
			if err != nil {
				t.Fatalf("ParseISBN(%q): %v", tt.in, err)
			}
			if got.ISBN13() != tt.want13 || got.String() != tt.want13 {
				t.Errorf("ISBN13()=%q String()=%q, want %q", got.ISBN13(), got.String(), tt.want13)
			}
			got10, ok := got.ISBN10()
			if ok != (tt.want10 != "") || got10 != tt.want10 {
				t.Errorf("ISBN10() = %q, %v; want %q", got10, ok, tt.want10)
			}
			if got.Qualifier() != tt.qualifier {
				t.Errorf("Qualifier() = %q, want %q", got.Qualifier(), tt.qualifier)
			}
		})
	}
}

func TestParseISBNInvalid(t *testing.T) {
	tests := []struct {
		in      string
		wantErr error
		msg     string // substring of the error text
	}{
		{"0-306-40615-3", ErrCheckDigit, "bad check digit: expected 2, got 3"},
		{"0306406150", ErrCheckDigit, "expected 2, got 0"},
		{"0-8044-2957-0", ErrCheckDigit, "expected X, got 0"},
		{"0451526530 (pbk.)", ErrCheckDigit, "expected 8, got 0"},
		{"978-0-306-40615-3", ErrCheckDigit, "bad check digit: expected 7, got 3"},
		{"9791090636072", ErrCheckDigit, "expected 1, got 2"},
		{"978030640615", ErrLength, "wrong length: 12 digits"},
		{"030640615", ErrLength, "wrong length: 9 digits"},
		{"97803064061577", ErrLength, "14 digits"},
		{"", ErrLength, "0 digits"},
		{"ISBN", ErrLength, "0 digits"},
		{"(pbk.)", ErrLength, "0 digits"},
		{"hello world", ErrLength, "0 digits"},
		{"9770306406156", ErrPrefix, "not an ISBN prefix 978/979 (got 977)"},
		{"0012345678905", ErrPrefix, "got 001"},
		{"03X6406152", ErrChar, "position 3"},
		{"978030640615X", ErrChar, "ISBN-13 is all digits"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseISBN(tt.in)
			if err == nil {
				t.Fatalf("ParseISBN(%q) = %v, want error", tt.in, got)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if got != (ISBN{}) {
				t.Errorf("got non-zero ISBN %#v with error", got)
			}
		})
	}
}

// TestISBNRoundTrip converts 10→13→10 and 13→10→13 to check both
// directions agree with each other, not just with the fixtures.
func TestISBNRoundTrip(t *testing.T) {
	pairs := []struct{ isbn10, isbn13 string }{
		{"0306406152", "9780306406157"},
		{"080442957X", "9780804429573"},
		{"0451526538", "9780451526533"},
		{"0596520689", "9780596520687"},
		{"155860832X", "9781558608320"},
		{"043942089X", "9780439420891"},
		{"0140449132", "9780140449136"},
	}
	for _, p := range pairs {
		from10, err := ParseISBN(p.isbn10)
		if err != nil {
			t.Fatalf("ParseISBN(%q): %v", p.isbn10, err)
		}
		from13, err := ParseISBN(p.isbn13)
		if err != nil {
			t.Fatalf("ParseISBN(%q): %v", p.isbn13, err)
		}
		if from10 != from13 {
			t.Errorf("%s and %s parse differently: %v vs %v", p.isbn10, p.isbn13, from10, from13)
		}
		if got := from10.ISBN13(); got != p.isbn13 {
			t.Errorf("10→13: %s → %s, want %s", p.isbn10, got, p.isbn13)
		}
		if got, _ := from13.ISBN10(); got != p.isbn10 {
			t.Errorf("13→10: %s → %s, want %s", p.isbn13, got, p.isbn10)
		}
	}
}

func TestNormalizeISBN(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{"0-306-40615-2", "9780306406157", true},
		{"ISBN 978-0-306-40615-7 (pbk.)", "9780306406157", true},
		{"0-8044-2957-x", "9780804429573", true},
		{"9791090636071", "9791090636071", true},
		// Invalid: punctuation stripped, check character uppercased,
		// qualifier dropped.
		{"0-306-40615-3", "0306406153", false},
		{"0-8044-2957-9 (pbk.)", "0804429579", false},
		{"978-0-306-40615", "978030640615", false},
		{"0-8044-2957-x1", "080442957X1", false},
		{"", "", false},
		{"n/a", "", false},
	}
	for _, tt := range tests {
		got, ok := NormalizeISBN(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("NormalizeISBN(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestISBNZeroValue(t *testing.T) {
	var z ISBN
	if z.String() != "" || z.ISBN13() != "" || z.Qualifier() != "" {
		t.Errorf("zero ISBN has non-empty strings: %#v", z)
	}
	if s, ok := z.ISBN10(); ok || s != "" {
		t.Errorf("zero ISBN10() = %q, %v", s, ok)
	}
}

// FuzzParseISBN checks that whatever parses re-parses from its own output
// to the same number, in both the 13 and the 10 form.
func FuzzParseISBN(f *testing.F) {
	for _, s := range []string{"0-306-40615-2", "9791090636071", "080442957x (pbk.)", "ISBN-13: 978", "", "((("} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		i, err := ParseISBN(s)
		if err != nil {
			return
		}
		again, err := ParseISBN(i.ISBN13())
		if err != nil || again.ISBN13() != i.ISBN13() {
			t.Fatalf("%q → %q does not re-parse: %v", s, i.ISBN13(), err)
		}
		if ten, ok := i.ISBN10(); ok {
			back, err := ParseISBN(ten)
			if err != nil || back.ISBN13() != i.ISBN13() {
				t.Fatalf("%q → ISBN-10 %q does not re-parse: %v", s, ten, err)
			}
		}
	})
}

func BenchmarkParseISBN(b *testing.B) {
	for b.Loop() {
		if _, err := ParseISBN("0-8044-2957-X (pbk.)"); err != nil {
			b.Fatal(err)
		}
	}
}
