package callnumber

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// Call numbers in correct shelf order, one list per key function. Every
// neighbouring pair must get strictly increasing keys.
var (
	lcShelf = []string{
		"E184.A1 B3",
		"E184.A1 B35",
		"E184.5 .A2",
		"HF5548.4.M523 W35 2003",
		"HF5548.4.M523 W35 2010",
		"HF5548.4.M6 A2",
		"KF4558 15th .A2",
		"KF4558 15th .A3",
		"KF4558 16th .A2",
		"KF4558 .A1",
		"PS3545.I345 Z5 1990",
		"PS3545.I345 Z52",
		"Q180.55 .M4",
		"QA9 .B3",
		"QA76 .A1",
		"QA76.1 .B2",
		"QA76.73 .G63",
		"QA76.73.G63 2009",
		"QA76.73.G63 2010",
		"QA76.73 .G7",
		"QA76.73 .J38 S3 2012",
		"QA76.9.D3 S6",
		"QA76.9.D3 S62",
		"QA76.9.D35 A1",
		"QA100 .A1",
		"QA1000 .Z9",
		"QB1 .A2",
		"Z695.Z8 A3",
	}
	deweyShelf = []string{
		"000 ABC",
		"005",
		"005.133 R112",
		"005.133 R112p",
		"005.133 R1123",
		"005.133 R12",
		"005.2",
		"005.2 ABC",
		"005.21",
		"010",
		"398.2 GRI",
		"398.2 GRI 1995",
		"398.2 GRI 2001",
		"398.2 GRI v.2",
		"398.2 GRI v.10",
		"599.7 C",
		"599.75",
		"600",
		"813.54 HEM",
		"813.54 HEM 2005",
		"813.54 HEMINGWAY",
		"CD 782.42 BEA",
		"j 005.1 SMI",
		"J 398.2 GRI",
		"J 599.7 ABC",
		"REF 030 WOR",
		"REF 030.1 ABC",
	}
	otherShelf = []string{
		"AUDIO 1",
		"Box 9",
		"Box 9a",
		"Box 10",
		"Box 100",
		"Box 1000000000",
		"Box 12345678901234567890",
		"FIC ADAMS",
		"FIC SMITH",
		"FIC SMITH 2",
		"FIC SMITH 10",
		"MUSIC CD 12",
		"Ödön",
	}
)

func TestLCShelfOrder(t *testing.T)    { checkOrder(t, lcShelf, mustKey(t, LCKey)) }
func TestDeweyShelfOrder(t *testing.T) { checkOrder(t, deweyShelf, mustKey(t, DeweyKey)) }
func TestOtherShelfOrder(t *testing.T) { checkOrder(t, otherShelf, Key) }

// TestKeyOrder runs every list through Key, which must pick the right
// scheme for each entry and so preserve each list's order, plus the
// cross-scheme guarantee documented on DeweyKey: a prefix's Dewey run is
// followed by the same prefix's fiction.
func TestKeyOrder(t *testing.T) {
	for _, list := range [][]string{lcShelf, deweyShelf, otherShelf, {"j 398.2 GRI", "J 599.7 ABC", "J FIC SMI", "REF 030 WOR"}} {
		checkOrder(t, list, Key)
	}
}

// TestShuffledSort is the property the database relies on: however the
// rows arrive, sorting by key restores shelf order. The seed is fixed so
// a failure reproduces.
func TestShuffledSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(20240607, 1))
	lists := []struct {
		name string
		want []string
		key  func(string) string
	}{
		{"lc", lcShelf, mustKey(t, LCKey)},
		{"dewey", deweyShelf, mustKey(t, DeweyKey)},
		{"other", otherShelf, Key},
		{"lc via Key", lcShelf, Key},
		{"dewey via Key", deweyShelf, Key},
	}
	for _, l := range lists {
		for round := range 50 {
			got := slices.Clone(l.want)
			rng.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
			slices.SortFunc(got, func(a, b string) int { return strings.Compare(l.key(a), l.key(b)) })
			if !slices.Equal(got, l.want) {
				t.Fatalf("%s round %d: sorted by key =\n%q\nwant\n%q", l.name, round, got, l.want)
			}
		}
	}
}

func TestKeys(t *testing.T) {
	tests := []struct {
		in, want string
		scheme   string
	}{
		{"QA76.73.G63 2009", "qa 276.73 g63 42009", SchemeLC},
		{"QA76.73 .G63", "qa 276.73 g63", SchemeLC},
		{"QA76.73.G63", "qa 276.73 g63", SchemeLC},
		{"qa76.73 .g63", "qa 276.73 g63", SchemeLC},
		{"  QA76.73   .G63  ", "qa 276.73 g63", SchemeLC},
		{"QA 76.73 .G63", "qa 276.73 g63", SchemeLC},
		{"QA9 .B3", "qa 19 b3", SchemeLC},
		{"QA76.9.D3 S6", "qa 276.9 d3 s6", SchemeLC},
		{"PS3545.I345 Z5 1990", "ps 43545 i345 z5 41990", SchemeLC},
		{"KF4558 15th .A2", "kf 44558 215!th a2", SchemeLC},
		{"HF5548.4.M523 W35 2003", "hf 45548.4 m523 w35 42003", SchemeLC},
		{"E184.A1 B3", "e 3184 a1 b3", SchemeLC},
		{"QA76.73.G63 2009 v.2 c.1", "qa 276.73 g63 42009 v 12 c 11", SchemeLC},

		{"005.133 R112p", "15.133 r112!p", SchemeDewey},
		{"005.2", "15.2", SchemeDewey},
		{"813.54 HEM", "3813.54 hem", SchemeDewey},
		{"599.7 C", "3599.7 c", SchemeDewey},
		{"j 398.2 GRI", "j 3398.2 gri", SchemeDewey},
		{"J 398.2 GRI", "j 3398.2 gri", SchemeDewey},
		{"Ref. 030 WOR", "ref 230 wor", SchemeDewey},
		{"005.13'3 R112p", "15.133 r112!p", SchemeDewey},
		{"005/.133", "15.133", SchemeDewey},
		{"398.2GRI", "3398.2 gri", SchemeDewey},
		// Blank after the letters and a Dewey-shaped number: Dewey wins.
		{"HF 548 .A2", "hf 3548 a2", SchemeDewey},

		{"FIC SMI", "fic smi", SchemeOther},
		{"J FIC SMI", "j fic smi", SchemeOther},
		{"B WAS", "b was", SchemeOther},
		{"Box 9", "box 19", SchemeOther}, // spaced LC shape but no cutter
		{"Box9", "box 19", SchemeLC},     // LC-shaped; same key either way
		{"Box 1000000000", "box 91" + "1000000000", SchemeOther},
		{"DVD 2009", "dvd 42009", SchemeOther},
		{"Öl 3", "öl 13", SchemeOther},
		{"", "", SchemeOther},
		{"   ", "", SchemeOther},
		{"???", "", SchemeOther},
		{"-- 007 --", "17", SchemeOther}, // a Dewey prefix must be a word
		{"IX 12", "ix 212", SchemeOther}, // I is not an LC class letter
		{"QA076", "qa 276", SchemeOther},
		{"QABC76", "qabc 276", SchemeOther},
		{"QA12345", "qa 512345", SchemeOther},
		{"bad\xffutf8 9", "bad utf 18 19", SchemeOther},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Key(tt.in); got != tt.want {
				t.Errorf("Key(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := Scheme(tt.in); got != tt.scheme {
				t.Errorf("Scheme(%q) = %q, want %q", tt.in, got, tt.scheme)
			}
		})
	}
}

func TestOKFlags(t *testing.T) {
	tests := []struct {
		in            string
		lcOK, deweyOK bool
	}{
		{"QA76.73 .G63", true, false},
		{"QA 76.73", true, false},
		{"E184.A1 B3", true, false},
		{"005.133 R112p", false, true},
		{"j 398.2 GRI", true, true}, // LC class J 398.2 is well-formed too; Key picks Dewey
		{"FIC SMI", false, false},
		{"", false, false},
		{"   ", false, false},
		{"!!!", false, false},
		{"0", false, false},
		{"39", false, false},
		{"3982", false, false},
		{"QA", false, false},
		{"QA0", false, false},
		{"WA100", false, false},
		{"QAAA1", false, false},
	}
	for _, tt := range tests {
		lc, lcOK := LCKey(tt.in)
		if lcOK != tt.lcOK || (!lcOK && lc != "") {
			t.Errorf("LCKey(%q) = %q, %v; want ok=%v", tt.in, lc, lcOK, tt.lcOK)
		}
		dd, deweyOK := DeweyKey(tt.in)
		if deweyOK != tt.deweyOK || (!deweyOK && dd != "") {
			t.Errorf("DeweyKey(%q) = %q, %v; want ok=%v", tt.in, dd, deweyOK, tt.deweyOK)
		}
	}
}

// TestIntEncoding checks the integer encoding against numeric order for
// numbers of very different lengths, including leading zeros and runs
// longer than the nine digits where the count needs more than one byte.
func TestIntEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	nums := []string{"0", "000", "1", "9", "10", "99", "100", "123456789", "1234567890", "000000000012"}
	for range 500 {
		n := 1 + rng.IntN(40)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		nums = append(nums, string(b))
	}
	numeric := func(a, b string) int {
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	}
	for _, a := range nums {
		for _, b := range nums[:50] {
			ka, kb := string(appendInt(nil, a)), string(appendInt(nil, b))
			if sign(strings.Compare(ka, kb)) != sign(numeric(a, b)) {
				t.Fatalf("encode(%s)=%q vs encode(%s)=%q disagrees with numeric order", a, ka, b, kb)
			}
		}
	}
}

// FuzzKey checks that Key never panics and always yields something a
// Postgres text column accepts.
func FuzzKey(f *testing.F) {
	for _, s := range slices.Concat(lcShelf, deweyShelf, otherShelf, []string{"", "\x00", "Q\xff9", "QA76.73.G63\u0301"}) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := Key(s)
		if !utf8.ValidString(k) || strings.IndexByte(k, 0) >= 0 {
			t.Fatalf("Key(%q) = %q: not storable text", s, k)
		}
		if k2 := Key(s); k2 != k {
			t.Fatalf("Key(%q) not deterministic: %q vs %q", s, k, k2)
		}
		if strings.HasPrefix(k, " ") || strings.HasSuffix(k, " ") || strings.Contains(k, "  ") {
			t.Fatalf("Key(%q) = %q has empty tokens", s, k)
		}
	})
}

func BenchmarkLCKey(b *testing.B) {
	for b.Loop() {
		LCKey("HF5548.4.M523 W35 2003")
	}
}

func BenchmarkDeweyKey(b *testing.B) {
	for b.Loop() {
		DeweyKey("j 005.133 R112p 2009")
	}
}

func BenchmarkKey(b *testing.B) {
	for b.Loop() {
		Key("FIC SMITH 10")
	}
}

func mustKey(t *testing.T, f func(string) (string, bool)) func(string) string {
	return func(s string) string {
		k, ok := f(s)
		if !ok {
			t.Fatalf("no key for %q", s)
		}
		return k
	}
}

func checkOrder(t *testing.T, shelf []string, key func(string) string) {
	t.Helper()
	for i := 1; i < len(shelf); i++ {
		a, b := shelf[i-1], shelf[i]
		if ka, kb := key(a), key(b); ka >= kb {
			t.Errorf("%q (key %q) must file before %q (key %q)", a, ka, b, kb)
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
