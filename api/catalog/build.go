package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stacks-ils/stacks/api/catalog/ident"
	"github.com/stacks-ils/stacks/api/catalog/marc"
	"github.com/stacks-ils/stacks/api/errs"
)

// BibForm is the simple JSON form from which Stacks builds a MARC record
// for staff who do not catalogue in MARC.
type BibForm struct {
	Title          string   `json:"title"`
	Subtitle       string   `json:"subtitle"`
	Responsibility string   `json:"responsibility"`
	Authors        []string `json:"authors"` // "Surname, Forename"; the first is the main entry
	ISBNs          []string `json:"isbns"`
	ISSNs          []string `json:"issns"`
	Publisher      string   `json:"publisher"`
	Place          string   `json:"place"`
	Year           *int     `json:"year"`
	Edition        string   `json:"edition"`
	Subjects       []string `json:"subjects"`
	Series         []string `json:"series"`
	Notes          []string `json:"notes"`
	Language       string   `json:"language"` // MARC language code, e.g. "eng"
	Format         string   `json:"format"`   // see Formats; default "book"
	CallNumber     string   `json:"call_number"`
}

// leader/06-07 for each format.
var formatLeader = map[string]string{
	FormatBook: "am", FormatEbook: "am", FormatSerial: "as", FormatMap: "em", FormatScore: "cm",
	FormatMusic: "jm", FormatAudiobook: "im", FormatVideo: "gm", FormatImage: "km", FormatSoftware: "mm",
	FormatKit: "om", FormatObject: "rm", FormatManuscript: "tm",
}

// nonFiling counts the leading article English filing rules skip.
func nonFiling(title string) byte {
	low := strings.ToLower(title)
	for _, a := range []string{"the ", "an ", "a "} {
		if strings.HasPrefix(low, a) {
			return byte('0' + len(a))
		}
	}
	return '0'
}

func sf(code byte, v string) marc.Subfield { return marc.Subfield{Code: code, Value: v} }

// Build makes a MARC 21 record from the form. now stamps 005 and 008/00-05.
func (f BibForm) Build(now time.Time) (*marc.Record, error) {
	f.Title = strings.TrimSpace(f.Title)
	if f.Title == "" {
		return nil, errs.Field("title", "required", "title is required")
	}
	if f.Format == "" {
		f.Format = FormatBook
	}
	lead, ok := formatLeader[f.Format]
	if !ok {
		return nil, errs.Field("format", "invalid_format", "format must be one of "+strings.Join(Formats, ", "))
	}
	if f.Language == "" {
		f.Language = "und"
	}
	if !isLang(f.Language) && f.Language != "und" || len(f.Language) != 3 {
		return nil, errs.Field("language", "invalid_language", `language must be a three-letter MARC code such as "eng" or "fre"`)
	}
	if f.Year != nil && (*f.Year < 1000 || *f.Year > now.Year()+5) {
		return nil, errs.Field("year", "invalid_year", fmt.Sprintf("year must be between 1000 and %d", now.Year()+5))
	}
	// leader/17 '7' minimal level, /18 'c' ISBD punctuation omitted.
	r := &marc.Record{Leader: "00000n" + lead + " a22000007c 4500"}
	r.Add(marc.Field{Tag: "005", Value: now.UTC().Format("20060102150405") + ".0"})
	year := "uuuu"
	dateType := "n"
	if f.Year != nil {
		year, dateType = fmt.Sprintf("%04d", *f.Year), "s"
	}
	form := byte(' ')
	if f.Format == FormatEbook {
		form = 'o'
	}
	f008 := []byte(now.UTC().Format("060102") + dateType + year + "    " + "xx " + strings.Repeat("|", 17) + f.Language + " d")
	f008[23] = form
	r.Add(marc.Field{Tag: "008", Value: string(f008)})
	if f.Format == FormatEbook {
		r.Add(marc.Field{Tag: "007", Value: "cr |||||||||||"})
	}
	for _, s := range f.ISBNs {
		r.Add(marc.Field{Tag: "020", Ind1: ' ', Ind2: ' ', Subfields: []marc.Subfield{sf('a', strings.TrimSpace(s))}})
	}
	for _, s := range f.ISSNs {
		r.Add(marc.Field{Tag: "022", Ind1: ' ', Ind2: ' ', Subfields: []marc.Subfield{sf('a', strings.TrimSpace(s))}})
	}
	if cn := strings.TrimSpace(f.CallNumber); cn != "" {
		r.Add(marc.Field{Tag: "090", Ind1: ' ', Ind2: ' ', Subfields: []marc.Subfield{sf('a', cn)}})
	}
	authors := slices.DeleteFunc(slices.Clone(f.Authors), func(s string) bool { return strings.TrimSpace(s) == "" })
	nameInd := func(n string) byte {
		if strings.Contains(n, ", ") {
			return '1' // surname first
		}
		return '0'
	}
	if len(authors) > 0 {
		a := strings.TrimSpace(authors[0])
		r.Add(marc.Field{Tag: "100", Ind1: nameInd(a), Ind2: ' ', Subfields: []marc.Subfield{sf('a', a)}})
	}
	t := marc.Field{Tag: "245", Ind1: '0', Ind2: nonFiling(f.Title), Subfields: []marc.Subfield{sf('a', f.Title)}}
	if len(authors) > 0 {
		t.Ind1 = '1'
	}
	if s := strings.TrimSpace(f.Subtitle); s != "" {
		t.Subfields = append(t.Subfields, sf('b', s))
	}
	if s := strings.TrimSpace(f.Responsibility); s != "" {
		t.Subfields = append(t.Subfields, sf('c', s))
	}
	r.Add(t)
	if s := strings.TrimSpace(f.Edition); s != "" {
		r.Add(marc.Field{Tag: "250", Ind1: ' ', Ind2: ' ', Subfields: []marc.Subfield{sf('a', s)}})
	}
	if f.Publisher != "" || f.Place != "" || f.Year != nil {
		p := marc.Field{Tag: "264", Ind1: ' ', Ind2: '1'}
		if s := strings.TrimSpace(f.Place); s != "" {
			p.Subfields = append(p.Subfields, sf('a', s))
		}
		if s := strings.TrimSpace(f.Publisher); s != "" {
			p.Subfields = append(p.Subfields, sf('b', s))
		}
		if f.Year != nil {
			p.Subfields = append(p.Subfields, sf('c', strconv.Itoa(*f.Year)))
		}
		r.Add(p)
	}
	for _, s := range f.Series {
		if s = strings.TrimSpace(s); s != "" {
			r.Add(marc.Field{Tag: "490", Ind1: '0', Ind2: ' ', Subfields: []marc.Subfield{sf('a', s)}})
		}
	}
	for _, s := range f.Notes {
		if s = strings.TrimSpace(s); s != "" {
			r.Add(marc.Field{Tag: "500", Ind1: ' ', Ind2: ' ', Subfields: []marc.Subfield{sf('a', s)}})
		}
	}
	for _, s := range f.Subjects {
		parts := strings.Split(s, "--")
		if strings.TrimSpace(parts[0]) == "" {
			continue
		}
		// Source not specified (ind2 4); "--" separates general subdivisions.
		fld := marc.Field{Tag: "650", Ind1: ' ', Ind2: '4', Subfields: []marc.Subfield{sf('a', strings.TrimSpace(parts[0]))}}
		for _, p := range parts[1:] {
			if p = strings.TrimSpace(p); p != "" {
				fld.Subfields = append(fld.Subfields, sf('x', p))
			}
		}
		r.Add(fld)
	}
	for _, a := range authors[min(1, len(authors)):] {
		a = strings.TrimSpace(a)
		r.Add(marc.Field{Tag: "700", Ind1: nameInd(a), Ind2: ' ', Subfields: []marc.Subfield{sf('a', a)}})
	}
	return r, nil
}

// NormalizeIdentifiers validates and normalises 020 (ISBN) and 022 (ISSN):
// valid $a values lose their hyphens (the qualifier moves to $q); invalid
// ones move to $z (cancelled/invalid), as MARC expects, and produce a
// warning rather than a refusal.
func NormalizeIdentifiers(r *marc.Record) []string {
	var warnings []string
	for _, f := range r.Get("020", "022") {
		out := f.Subfields[:0:0]
		for _, s := range f.Subfields {
			if s.Code != 'a' {
				out = append(out, s)
				continue
			}
			if f.Tag == "020" {
				isbn, err := ident.ParseISBN(s.Value)
				if err != nil {
					warnings = append(warnings, fmt.Sprintf("020 $a %q is not a valid ISBN (%v); kept in $z", s.Value, err))
					out = append(out, sf('z', s.Value))
					continue
				}
				v := isbn.ISBN13()
				if d := digitsOnly(s.Value); len(d) == 10 {
					v, _ = isbn.ISBN10()
				}
				out = append(out, sf('a', v))
				if q := isbn.Qualifier(); q != "" && f.Sub('q') == "" {
					out = append(out, sf('q', q))
				}
				continue
			}
			issn, err := ident.ParseISSN(s.Value)
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("022 $a %q is not a valid ISSN (%v); kept in $z", s.Value, err))
				out = append(out, sf('z', s.Value))
				continue
			}
			out = append(out, sf('a', issn.String()))
		}
		f.Subfields = out
	}
	return warnings
}

func digitsOnly(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), " ")
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' || c == 'x' || c == 'X' {
			b.WriteRune(c)
		}
	}
	return b.String()
}
