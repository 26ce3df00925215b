// Package catalog holds bibliographic records and items: the MARC record
// kept whole plus the fields extracted from it for display, search, facets
// and duplicate detection; items with barcodes and shelf-order keys; search.
package catalog

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/stacks-ils/stacks/api/catalog/callnumber"
	"github.com/stacks-ils/stacks/api/catalog/ident"
	"github.com/stacks-ils/stacks/api/catalog/marc"
)

// Fields are what Stacks extracts from a MARC record and indexes.
type Fields struct {
	Title          string   `json:"title"`
	TitleSort      string   `json:"-"`
	Responsibility string   `json:"responsibility"`
	Authors        []string `json:"authors"`
	AuthorSort     string   `json:"-"`
	Subjects       []string `json:"subjects"`
	ISBNs          []string `json:"isbns"`
	ISSNs          []string `json:"issns"`
	LCCN           string   `json:"lccn"`
	OCLC           string   `json:"oclc"`
	Publisher      string   `json:"publisher"`
	Year           *int     `json:"year"`
	Edition        string   `json:"edition"`
	Language       string   `json:"language"`
	Format         string   `json:"format"`
	Series         []string `json:"series"`
	Notes          string   `json:"notes"`
	CallNumber     string   `json:"call_number"`
	CallNumberSort string   `json:"-"`
	MatchKey       string   `json:"-"`
}

// abbrevEnd reports whether t's final period belongs to an initial or an
// abbreviation. It is the regular expression `(\b\p{Lu}|etc|Jr|Sr|Inc|Co|Ltd)\.$`
// by hand (the test checks that they agree): run on every subfield an import
// extracts, the expression's backtracking took a tenth of the import's Go
// time. Like the expression's \b, the word boundary is ASCII's: a capital
// outside ASCII is an initial after an ASCII letter or digit, not after a space.
func abbrevEnd(t string) bool {
	s, ok := strings.CutSuffix(t, ".")
	if !ok {
		return false
	}
	for _, a := range abbrevWords {
		if strings.HasSuffix(s, a) {
			return true
		}
	}
	r, size := utf8.DecodeLastRuneInString(s)
	if size == 0 || !unicode.Is(unicode.Lu, r) {
		return false
	}
	before := s[:len(s)-size]
	return (r < utf8.RuneSelf && asciiWord(byte(r))) != (before != "" && asciiWord(before[len(before)-1]))
}

var abbrevWords = []string{"etc", "Jr", "Sr", "Inc", "Co", "Ltd"}

// asciiWord reports whether c is a word character of regular expressions' \b.
func asciiWord(c byte) bool {
	return c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// trimISBD drops the trailing ISBD punctuation MARC subfields carry
// ("Gödel, Escher, Bach :" -> "Gödel, Escher, Bach").
func trimISBD(s string) string {
	s = strings.TrimSpace(s)
	for {
		t := strings.TrimRight(s, " /:;,=")
		// A final period is punctuation unless it ends an initial ("J. R. R.") or abbreviation.
		if strings.HasSuffix(t, ".") && !abbrevEnd(t) {
			t = strings.TrimSuffix(t, ".")
		}
		t = strings.TrimSpace(t)
		if t == s {
			return s
		}
		s = t
	}
}

// Fold lowercases, strips diacritics and collapses everything that is not a
// letter or digit to single spaces: the form used for sorting, matching and
// trigram search.
func Fold(s string) string {
	var b strings.Builder
	space := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(unicode.ToLower(r))
		default:
			space = true
		}
	}
	return b.String()
}

var yearRe = regexp.MustCompile(`\b(1[0-9]{3}|20[0-9]{2})\b`)

// joinTrimmed joins the subfields with codes, each without its trailing
// ISBD punctuation ("Symphony no. 9 :" + "From the New World /").
func joinTrimmed(f *marc.Field, codes string) string {
	var parts []string
	for _, s := range f.Subfields {
		if strings.IndexByte(codes, s.Code) >= 0 {
			if v := trimISBD(s.Value); v != "" {
				parts = append(parts, v)
			}
		}
	}
	return strings.Join(parts, " ")
}

func nameHeading(f *marc.Field) string {
	codes := "abcdq"
	switch f.Tag[1:] {
	case "10":
		codes = "abcdn"
	case "11":
		codes = "acdnq"
	}
	return trimISBD(f.Join(codes, " "))
}

func subjectHeading(f *marc.Field) string {
	main := trimISBD(f.Join("abcdq", " "))
	if main == "" {
		return ""
	}
	parts := []string{main}
	for _, s := range f.Subfields {
		if strings.IndexByte("vxyz", s.Code) >= 0 && s.Value != "" {
			parts = append(parts, trimISBD(s.Value))
		}
	}
	return strings.Join(parts, " -- ")
}

func appendUnique(list []string, v string) []string {
	if v == "" {
		return list
	}
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// Extract reads the indexed fields out of a record.
func Extract(r *marc.Record) Fields {
	var f Fields
	f.Authors, f.Subjects, f.ISBNs, f.ISSNs, f.Series = []string{}, []string{}, []string{}, []string{}, []string{}
	if t := r.First("245"); t != nil {
		f.Title = joinTrimmed(t, "abnp")
		f.Responsibility = trimISBD(t.Sub('c'))
		skip := 0
		if t.Ind2 >= '1' && t.Ind2 <= '9' {
			skip = int(t.Ind2 - '0')
		}
		a := t.Sub('a')
		if skip > 0 && skip < len(a) {
			f.TitleSort = Fold(a[skip:] + " " + t.Join("bnp", " "))
		}
	}
	if f.Title == "" {
		f.Title = "[no title]"
	}
	if f.TitleSort == "" {
		f.TitleSort = Fold(f.Title)
	}
	for _, a := range r.Get("100", "110", "111", "700", "710", "711") {
		f.Authors = appendUnique(f.Authors, nameHeading(a))
	}
	if len(f.Authors) > 0 {
		f.AuthorSort = Fold(f.Authors[0])
	}
	for _, s := range r.Get("600", "610", "611", "630", "648", "650", "651", "653", "655") {
		f.Subjects = appendUnique(f.Subjects, subjectHeading(s))
	}
	for _, i := range r.Get("020") {
		for _, a := range i.SubAll('a') {
			if isbn, err := ident.ParseISBN(a); err == nil {
				f.ISBNs = appendUnique(f.ISBNs, isbn.ISBN13())
			}
		}
	}
	for _, i := range r.Get("022") {
		if issn, err := ident.ParseISSN(i.Sub('a')); err == nil {
			f.ISSNs = appendUnique(f.ISSNs, issn.String())
		}
	}
	if l := r.First("010"); l != nil {
		f.LCCN = ident.NormalizeLCCN(l.Sub('a'))
	}
	for _, o := range r.Get("035") {
		if n, ok := ident.NormalizeOCLC(o.Sub('a')); ok {
			f.OCLC = n
			break
		}
	}
	pub := r.First("264")
	for _, p := range r.Get("264") {
		if p.Ind2 == '1' {
			pub = p
			break
		}
	}
	if pub == nil {
		pub = r.First("260")
	}
	f008 := r.Control("008")
	if pub != nil {
		f.Publisher = trimISBD(pub.Sub('b'))
		if m := yearRe.FindString(pub.Sub('c')); m != "" {
			y, _ := strconv.Atoi(m)
			f.Year = &y
		}
	}
	if f.Year == nil && len(f008) >= 11 {
		if y, err := strconv.Atoi(f008[7:11]); err == nil && y > 0 {
			f.Year = &y
		}
	}
	if e := r.First("250"); e != nil {
		f.Edition = trimISBD(e.Sub('a'))
	}
	if len(f008) >= 38 && isLang(f008[35:38]) {
		f.Language = f008[35:38]
	} else if l := r.First("041"); l != nil && isLang(l.Sub('a')) {
		f.Language = l.Sub('a')[:3]
	}
	f.Format = FormatOf(r)
	for _, s := range r.Get("490", "800", "810", "811", "830") {
		code := "a"
		if s.Tag[0] == '8' && s.Tag != "830" {
			code = "t"
		}
		f.Series = appendUnique(f.Series, trimISBD(s.Join(code+"v", " ")))
	}
	var notes []string
	for _, n := range r.Get("5XX") {
		if v := strings.TrimSpace(n.Sub('a')); v != "" {
			notes = append(notes, v)
		}
	}
	f.Notes = strings.Join(notes, " ")
	for _, tag := range []string{"090", "050", "092", "082"} {
		if c := r.First(tag); c != nil {
			cn := strings.TrimSpace(c.Sub('a') + " " + c.Sub('b'))
			if tag == "082" {
				cn = strings.TrimSpace(strings.ReplaceAll(c.Sub('a'), "/", ""))
			}
			if cn != "" {
				f.CallNumber = cn
				break
			}
		}
	}
	f.CallNumberSort = callnumber.Key(f.CallNumber)
	f.MatchKey = MatchKey(f.TitleSort, f.Authors, f.Year)
	return f
}

// MatchKey is the last-resort duplicate key: the first 40 characters of the
// folded filing title, the folded surname of the first author and the year.
func MatchKey(titleSort string, authors []string, year *int) string {
	t := titleSort
	if r := []rune(t); len(r) > 40 {
		t = string(r[:40]) // by characters: a cut inside UTF-8 is not text
	}
	a := ""
	if len(authors) > 0 {
		a, _, _ = strings.Cut(Fold(authors[0]), " ")
	}
	y := ""
	if year != nil {
		y = strconv.Itoa(*year)
	}
	return t + "|" + a + "|" + y
}

func isLang(s string) bool {
	if len(s) < 3 {
		return false
	}
	for _, c := range s[:3] {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return s[:3] != "zxx" && s[:3] != "und"
}

// Formats Stacks derives from leader/06-07, 007 and 008 (the facet values).
const (
	FormatBook       = "book"
	FormatEbook      = "ebook"
	FormatSerial     = "serial"
	FormatMap        = "map"
	FormatScore      = "score"
	FormatMusic      = "music"
	FormatAudiobook  = "audiobook"
	FormatVideo      = "video"
	FormatImage      = "image"
	FormatSoftware   = "software"
	FormatKit        = "kit"
	FormatObject     = "object"
	FormatManuscript = "manuscript"
)

// Formats lists every format value.
var Formats = []string{FormatBook, FormatEbook, FormatSerial, FormatMap, FormatScore, FormatMusic,
	FormatAudiobook, FormatVideo, FormatImage, FormatSoftware, FormatKit, FormatObject, FormatManuscript}

// FormatOf derives the format from leader/06 (type of record), leader/07
// (bibliographic level), 007/00 (category of material) and 008/23 (form of item).
func FormatOf(r *marc.Record) string {
	if len(r.Leader) < 8 {
		return FormatBook
	}
	typ, level := r.Leader[6], r.Leader[7]
	f007, f008 := r.Control("007"), r.Control("008")
	online := (len(f007) > 0 && f007[0] == 'c') || (len(f008) > 23 && (f008[23] == 'o' || f008[23] == 's'))
	switch typ {
	case 'a':
		if level == 's' || level == 'b' || level == 'i' {
			return FormatSerial
		}
		if online {
			return FormatEbook
		}
		return FormatBook
	case 't':
		return FormatManuscript
	case 'c', 'd':
		return FormatScore
	case 'e', 'f':
		return FormatMap
	case 'g':
		return FormatVideo
	case 'i':
		return FormatAudiobook
	case 'j':
		return FormatMusic
	case 'k':
		return FormatImage
	case 'm':
		return FormatSoftware
	case 'o', 'p':
		return FormatKit
	case 'r':
		return FormatObject
	}
	return FormatBook
}
