package catalog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/catalog/callnumber"
	"github.com/stacks-ils/stacks/api/catalog/marc"
	"github.com/stacks-ils/stacks/tenants"
)

// GenOptions configures Generate.
type GenOptions struct {
	// MarcPath, when set, is a MARC file or a directory of them (ISO 2709,
	// MARCXML or MARC-in-JSON, detected per file) whose titles, names,
	// subjects, publishers and series are mixed into the built-in
	// vocabularies (about a third of the draws come from the real records).
	// Empty: only the built-in word lists of this file are used.
	MarcPath string
	// BatchSize is the number of bibs built and inserted at a time (default
	// 1000; one multi-row INSERT up to 2,000 bibs).
	BatchSize int
	// NoItems generates bibs without items.
	NoItems bool
	// Progress, when set, is called after each committed batch with the
	// number of bibs inserted so far.
	Progress func(done int)
}

// Generate inserts n realistic bibliographic records, with 0-5 items each
// spread over the tenant's branches, into the tenant of the transaction in
// ctx. The same seed gives the same records (ids and timestamps aside).
// Records are built as MARC (BibForm.Build), extracted as the API does
// (Extract) and inserted in multi-row INSERTs; the search vector is filled
// by the table's trigger. Barcodes continue after the highest generated
// barcode already present, so Generate can be called again for the same
// tenant, but not concurrently.
func Generate(ctx context.Context, n int, seed int64, opt GenOptions) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	tenant, err := tenants.CurrentTenant(ctx)
	if err != nil {
		return err
	}
	if n <= 0 {
		return nil
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 1000
	}
	var vocab *realVocab
	if opt.MarcPath != "" {
		if vocab, err = loadGenVocab(opt.MarcPath); err != nil {
			return err
		}
	}
	g := newGenerator(seed, vocab)
	if !opt.NoItems {
		var branches []uuid.UUID
		if err := db.Raw(`SELECT id FROM branches WHERE kind = 'branch' ORDER BY id`).Scan(&branches).Error; err != nil {
			return fmt.Errorf("generate: list branches: %w", err)
		}
		g.setBranches(branches)
		var last string
		if err := db.Raw(`SELECT coalesce(max(barcode), '') FROM items WHERE barcode >= '3' AND barcode < '4' AND barcode ~ '^3[0-9]{13}$'`).
			Scan(&last).Error; err != nil {
			return fmt.Errorf("generate: last barcode: %w", err)
		}
		if last != "" {
			g.nextBarcode, _ = strconv.ParseInt(last[1:], 10, 64)
		}
	}

	// Records are built in a second goroutine while the previous batch is
	// being inserted: Postgres (trigger, GIN maintenance) is the bottleneck.
	type batch struct {
		bibs  []*bibRow
		items []Item
		err   error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan batch, 2)
	go func() {
		defer close(batches)
		for done := 0; done < n; {
			size := min(opt.BatchSize, n-done)
			var b batch
			b.bibs = make([]*bibRow, 0, size)
			for range size {
				row, items, err := g.record(tenant)
				if err != nil {
					b.err = err
					break
				}
				b.bibs = append(b.bibs, row)
				if !opt.NoItems {
					b.items = append(b.items, items...)
				}
			}
			done += size
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
			if b.err != nil {
				return
			}
		}
	}()
	done := 0
	for b := range batches {
		if b.err != nil {
			return fmt.Errorf("generate: %w", b.err)
		}
		// 26 columns a bib: 2,000 rows a statement stay under the 65,535 parameters of one.
		if err := db.CreateInBatches(b.bibs, 2000).Error; err != nil {
			return fmt.Errorf("generate: insert bibs: %w", err)
		}
		// 16 columns an item: 4,000 rows stay under the 65,535 parameters of a statement.
		if len(b.items) > 0 {
			if err := db.CreateInBatches(b.items, 4000).Error; err != nil {
				return fmt.Errorf("generate: insert items: %w", err)
			}
		}
		done += len(b.bibs)
		if opt.Progress != nil {
			opt.Progress(done)
		}
	}
	return ctx.Err()
}

// ---------------------------------------------------------------------------
// The generator: one record at a time, deterministic for a seed.

type generator struct {
	r   *rand.Rand
	now time.Time

	noun, adj, proper, author, subject, subdiv, place, publisher, series *rand.Zipf

	authors     []string // the author population, most prolific first; filled as drawn
	real        *realVocab
	branches    []uuid.UUID
	branchCum   []float64
	nextBarcode int64
}

func newGenerator(seed int64, vocab *realVocab) *generator {
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	z := func(s, v float64, n int) *rand.Zipf { return rand.NewZipf(r, s, v, uint64(n-1)) }
	g := &generator{r: r, now: time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC), real: vocab,
		// P(rank k) ~ (v+k)^-s: the first noun ("history") is in about one
		// title in seven, the last ones in a few per ten thousand.
		noun:      z(1.1, 3, len(genNouns)),
		adj:       z(1.1, 2, len(genAdjectives)),
		proper:    z(1.05, 8, genProperCount),
		author:    z(1.05, 50, genAuthorCount),
		subject:   z(1.05, 4, len(genSubjects)),
		subdiv:    z(1.2, 1, len(genSubdivisions)),
		place:     z(1.2, 1, len(genPlaces)),
		publisher: z(1.1, 2, len(genPublishers)),
		series:    z(1.05, 2, len(genSeries)),
	}
	g.authors = make([]string, genAuthorCount)
	return g
}

const (
	genProperCount = 40 * 40 * 20 // invented names and places: the long tail of the vocabulary
	genAuthorCount = 100000
	realShare      = 0.33 // share of draws taken from real records when a MARC path is given
)

func (g *generator) setBranches(ids []uuid.UUID) {
	g.branches = ids
	g.branchCum = make([]float64, len(ids))
	sum := 0.0
	for i := range ids {
		sum += 1 / math.Sqrt(float64(i+1)) // the first branches hold more of the collection
		g.branchCum[i] = sum
	}
	for i := range g.branchCum {
		g.branchCum[i] /= sum
	}
}

func (g *generator) chance(p float64) bool { return g.r.Float64() < p }

// pick draws a key from weighted choices.
func pick[T any](g *generator, choices []weighted[T]) T {
	total := 0.0
	for _, c := range choices {
		total += c.w
	}
	x := g.r.Float64() * total
	for _, c := range choices {
		if x < c.w {
			return c.v
		}
		x -= c.w
	}
	return choices[len(choices)-1].v
}

type weighted[T any] struct {
	v T
	w float64
}

func (g *generator) noun1() string {
	if g.real != nil && len(g.real.words) > 0 && g.chance(realShare) {
		return g.real.word(g.r)
	}
	return genNouns[g.noun.Uint64()]
}

func (g *generator) adj1() string { return genAdjectives[g.adj.Uint64()] }

// properNoun invents a name (Kalmora, Venthis, ...) from syllables; rank 0
// is the most frequent.
func (g *generator) properNoun() string {
	k := int(g.proper.Uint64())
	// Scatter the ranks so frequent names do not all share a first syllable.
	k = (k*7919 + 13) % genProperCount
	a, b, c := k%40, (k/40)%40, k/1600
	s := genSyl1[a] + genSyl2[b] + genSyl3[c]
	return strings.ToUpper(s[:1]) + s[1:]
}

func (g *generator) place1() string { return genPlaces[g.place.Uint64()] }

// titlePlace is a place as a title says it: "New York", not "New York (N.Y.)".
func (g *generator) titlePlace() string {
	p, _, _ := strings.Cut(g.place1(), " (")
	return p
}

func capFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

func (g *generator) englishTitle(fiction bool) (title, subtitle string) {
	n, a := g.noun1, g.adj1
	if fiction {
		switch g.r.IntN(9) {
		case 0:
			title = g.properNoun()
		case 1:
			title = "The " + capFirst(a()) + " " + capFirst(n())
		case 2:
			title = "The " + capFirst(n()) + " of " + g.properNoun()
		case 3:
			title = capFirst(n()) + " and " + capFirst(n())
		case 4:
			title = "The " + g.properNoun() + " " + capFirst(n())
		case 5:
			title = capFirst(a()) + " " + capFirst(n())
		case 6:
			title = "A " + capFirst(n()) + " in " + g.properNoun()
		case 7:
			title = "The " + capFirst(n()) + "'s " + capFirst(n())
		default:
			title = capFirst(n()) + " of the " + capFirst(a()) + " " + capFirst(n())
		}
		if g.chance(0.25) {
			subtitle = "a novel"
		}
		return
	}
	switch g.r.IntN(10) {
	case 0, 1:
		title = capFirst(n())
	case 2:
		title = capFirst(a()) + " " + n()
	case 3:
		title = "The " + n() + " of " + n()
	case 4:
		title = capFirst(n()) + " and " + n()
	case 5:
		title = "A " + n() + " of " + n()
	case 6:
		title = capFirst(n()) + " in " + g.titlePlace()
	case 7:
		title = "The " + a() + " " + n()
	case 8:
		title = capFirst(a()) + " " + n() + " and " + n()
	default:
		title = "The " + n() + " of " + g.properNoun()
	}
	if g.chance(0.4) {
		switch g.r.IntN(7) {
		case 0:
			w := n()
			subtitle = article(w) + " " + w + " of " + n()
		case 1:
			subtitle = "an introduction"
		case 2:
			subtitle = a() + " " + n() + " and " + n()
		case 3:
			subtitle = n() + " in the " + []string{"eighteenth", "nineteenth", "twentieth", "twenty-first"}[g.r.IntN(4)] + " century"
		case 4:
			subtitle = "a guide to " + n()
		case 5:
			subtitle = n() + ", " + n() + " and " + n()
		default:
			subtitle = "the " + n() + " of " + g.titlePlace()
		}
	}
	return
}

func (g *generator) foreignTitle(lang string) string {
	words := genForeign[lang]
	w := func() string { return words[min(len(words)-1, int(g.r.ExpFloat64()*float64(len(words))/4))] }
	switch g.r.IntN(3) {
	case 0:
		return capFirst(w())
	case 1:
		return capFirst(w()) + " " + genForeignJoin[lang] + " " + w()
	default:
		return capFirst(w()) + " " + w() + " " + genForeignJoin[lang] + " " + w()
	}
}

// subjectHeading draws a heading; first is true for a record's first subject
// (a genre heading for fiction).
func (g *generator) subjectHeading(fiction, first bool) (string, int) {
	if g.real != nil && len(g.real.subjects) > 0 && g.chance(realShare) {
		return g.real.subjects[g.r.IntN(len(g.real.subjects))], 0
	}
	if fiction && (first || g.chance(0.2)) {
		return genFictionGenres[min(len(genFictionGenres)-1, int(g.r.ExpFloat64()*4))], 813
	}
	s := genSubjects[g.subject.Uint64()]
	h := s.heading
	if fiction {
		if g.chance(0.5) {
			h += " -- " + g.place1()
		}
		return h + " -- Fiction", s.ddc
	}
	if g.chance(0.3) {
		h += " -- " + g.place1()
	}
	if g.chance(0.5) {
		h += " -- " + genSubdivisions[g.subdiv.Uint64()]
	}
	if g.chance(0.08) {
		h += " -- " + []string{"20th century", "21st century", "19th century", "To 1500", "1945-"}[g.r.IntN(5)]
	}
	return h, s.ddc
}

func (g *generator) author1() string {
	if g.real != nil && len(g.real.authors) > 0 && g.chance(realShare) {
		return g.real.authors[g.r.IntN(len(g.real.authors))]
	}
	i := g.author.Uint64()
	if g.authors[i] == "" {
		g.authors[i] = genAuthorName(i)
	}
	return g.authors[i]
}

// genAuthorName is author number i of the one author population all seeds
// share, so that prolific authors stay prolific when a catalogue is
// generated in several calls (chunks with different seeds). Surnames and
// forenames follow Zipf-like weights (Smith, Johnson, ...; John, Mary, ...).
func genAuthorName(i uint64) string {
	r := rand.New(rand.NewPCG(0x5eed, i))
	name := genSurnames[cumPick(genSurnameCum, r.Float64())] + ", " + genForenames[cumPick(genForenameCum, r.Float64())]
	if r.IntN(3) == 0 {
		name += " " + string(rune('A'+r.IntN(26))) + "."
	}
	if r.IntN(4) == 0 {
		name += fmt.Sprintf(", %d-", 1920+r.IntN(80))
	}
	return name
}

var genSurnameCum, genForenameCum []float64 // cumulative weights, normalised to 1

func zipfCum(n int, s, v float64) []float64 {
	cum := make([]float64, n)
	sum := 0.0
	for k := range cum {
		sum += math.Pow(v+float64(k), -s)
		cum[k] = sum
	}
	for k := range cum {
		cum[k] /= sum
	}
	return cum
}

func cumPick(cum []float64, x float64) int {
	i, _ := slices.BinarySearch(cum, x)
	return min(i, len(cum)-1)
}

// isbn13 returns a random, valid 978 ISBN-13 (no hyphens).
func (g *generator) isbn13() string {
	d := make([]byte, 13)
	copy(d, "978")
	for i := 3; i < 12; i++ {
		d[i] = byte('0' + g.r.IntN(10))
	}
	d[12] = isbn13Check(d[:12])
	return string(d)
}

func isbn13Check(d []byte) byte {
	sum := 0
	for i, c := range d {
		w := 1
		if i%2 == 1 {
			w = 3
		}
		sum += int(c-'0') * w
	}
	return byte('0' + (10-sum%10)%10)
}

func (g *generator) issn() string {
	d := make([]byte, 7)
	sum := 0
	for i := range d {
		d[i] = byte('0' + g.r.IntN(10))
		sum += int(d[i]-'0') * (8 - i)
	}
	c := (11 - sum%11) % 11
	check := byte('0' + c)
	if c == 10 {
		check = 'X'
	}
	return string(d[:4]) + "-" + string(d[4:]) + string(check)
}

func (g *generator) year() *int {
	if g.chance(0.03) {
		return nil
	}
	// Collections skew recent: an exponential tail back to 1900.
	y := 2025 - int(g.r.ExpFloat64()*16)
	if y < 1900 {
		y = 1900 + g.r.IntN(40)
	}
	return &y
}

func cutter(name string) string {
	f := Fold(name)
	if f == "" {
		return "XXX"
	}
	f = strings.ReplaceAll(f, " ", "")
	return strings.ToUpper(f[:min(3, len(f))])
}

// record builds one bib (as the API would store it) and its items.
func (g *generator) record(tenant uuid.UUID) (*bibRow, []Item, error) {
	format := pick(g, genFormats)
	lang := "eng"
	if g.real != nil && len(g.real.langs) > 0 && g.chance(realShare) {
		lang = g.real.langs[g.r.IntN(len(g.real.langs))]
	} else {
		lang = pick(g, genLanguages)
	}
	fiction := (format == FormatBook || format == FormatEbook || format == FormatAudiobook) && g.chance(0.35)
	juvenile := g.chance(0.15)
	f := BibForm{Format: format, Language: lang, Year: g.year()}

	// Title.
	switch {
	case g.real != nil && len(g.real.titles) > 0 && g.chance(0.05):
		f.Title = g.real.titles[g.r.IntN(len(g.real.titles))]
	case format == FormatSerial:
		f.Title = pick(g, []weighted[string]{{"Journal of " + g.noun1(), 3}, {capFirst(g.noun1()) + " review", 2},
			{capFirst(g.adj1()) + " " + g.noun1() + " quarterly", 1}, {g.titlePlace() + " " + g.noun1() + " news", 1}})
	case format == FormatMap:
		f.Title = pick(g, []weighted[string]{{g.titlePlace() + " road atlas", 1}, {"Map of " + g.titlePlace(), 2},
			{g.titlePlace() + ": " + g.noun1() + " map", 1}})
	case lang != "eng" && genForeign[lang] != nil && g.chance(0.8):
		f.Title = g.foreignTitle(lang)
	default:
		f.Title, f.Subtitle = g.englishTitle(fiction)
	}

	// Authors: 1-3 (serials and maps have none or one corporate body).
	nAuthors := pick(g, []weighted[int]{{1, 70}, {2, 20}, {3, 10}})
	if format == FormatSerial || format == FormatMap {
		nAuthors = g.r.IntN(2)
	}
	for len(f.Authors) < nAuthors {
		a := g.author1()
		if !slices.Contains(f.Authors, a) {
			f.Authors = append(f.Authors, a)
		}
	}
	if len(f.Authors) > 0 {
		names := make([]string, len(f.Authors))
		for i, a := range f.Authors {
			sur, fore, _ := strings.Cut(a, ", ")
			fore, _, _ = strings.Cut(fore, ", ")
			names[i] = strings.TrimSpace(fore + " " + sur)
		}
		verb := "by"
		if format == FormatVideo {
			verb = "directed by"
		}
		f.Responsibility = verb + " " + strings.Join(names, ", ")
	}

	// Subjects: 0-5.
	ddc := 0
	nSubj := pick(g, []weighted[int]{{0, 15}, {1, 30}, {2, 25}, {3, 15}, {4, 10}, {5, 5}})
	for i := range nSubj {
		h, d := g.subjectHeading(fiction, i == 0)
		if ddc == 0 {
			ddc = d
		}
		if !slices.Contains(f.Subjects, h) {
			f.Subjects = append(f.Subjects, h)
		}
	}
	if juvenile && len(f.Subjects) > 0 && !fiction {
		f.Subjects[0] += " -- Juvenile literature"
	}

	// Identifiers: ~80% of records have an ISBN, some two (hardback and paperback).
	switch format {
	case FormatSerial:
		if g.chance(0.9) {
			f.ISSNs = []string{g.issn()}
		}
	default:
		if g.chance(0.8) {
			f.ISBNs = []string{g.isbn13()}
			if g.chance(0.15) {
				f.ISBNs = append(f.ISBNs, g.isbn13())
			}
		}
	}

	// Publication.
	if g.real != nil && len(g.real.publishers) > 0 && g.chance(realShare) {
		f.Publisher = g.real.publishers[g.r.IntN(len(g.real.publishers))]
	} else {
		p := genPublishers[g.publisher.Uint64()]
		f.Publisher, f.Place = p.name, p.place
	}
	if g.chance(0.08) {
		f.Edition = []string{"2nd ed.", "3rd ed.", "Revised edition", "First edition", "4th ed.", "Large print edition"}[g.r.IntN(6)]
	}
	if g.chance(0.12) {
		if g.real != nil && len(g.real.series) > 0 && g.chance(realShare) {
			f.Series = []string{g.real.series[g.r.IntN(len(g.real.series))]}
		} else {
			f.Series = []string{genSeries[g.series.Uint64()] + " ; " + strconv.Itoa(1+g.r.IntN(60))}
		}
	}
	if !fiction && g.chance(0.35) {
		f.Notes = append(f.Notes, "Includes bibliographical references and index.")
	}
	if g.chance(0.25) {
		n := g.noun1()
		f.Notes = append(f.Notes, "A "+g.adj1()+" "+n+" of "+g.noun1()+" and "+g.noun1()+" in "+g.titlePlace()+".")
	}

	// Call number: Dewey from the first subject, FIC for fiction.
	main := f.Title
	if len(f.Authors) > 0 {
		main = f.Authors[0]
	}
	switch {
	case format == FormatSerial || format == FormatEbook:
	case fiction && juvenile:
		f.CallNumber = "J FIC " + cutter(main)
	case fiction:
		f.CallNumber = "FIC " + cutter(main)
	default:
		if ddc == 0 {
			ddc = g.r.IntN(1000)
		}
		cn := fmt.Sprintf("%03d", ddc)
		if g.chance(0.8) {
			cn += "." + strconv.Itoa(1+g.r.IntN(999))
			cn = strings.TrimRight(cn, "0")
		}
		cn += " " + cutter(main)
		switch format {
		case FormatVideo:
			cn = "DVD " + cn
		case FormatMusic:
			cn = "CD " + cn
		case FormatAudiobook:
			cn = "CD " + cn
		}
		if juvenile {
			cn = "J " + cn
		}
		f.CallNumber = cn
	}

	rec, err := f.Build(g.now)
	if err != nil {
		return nil, nil, fmt.Errorf("build %q: %w", f.Title, err)
	}
	id := tenants.NewID()
	setControlNumber(rec, id)
	row, err := rowFrom(tenant, id, rec, Extract(rec))
	if err != nil {
		return nil, nil, err
	}
	if len(g.branches) == 0 {
		return row, nil, nil
	}

	// Items.
	var nItems int
	switch format {
	case FormatEbook:
		nItems = pick(g, []weighted[int]{{0, 95}, {1, 5}})
	case FormatBook:
		nItems = pick(g, []weighted[int]{{0, 5}, {1, 40}, {2, 25}, {3, 15}, {4, 9}, {5, 6}})
	default:
		nItems = pick(g, []weighted[int]{{0, 10}, {1, 60}, {2, 20}, {3, 10}})
	}
	items := make([]Item, 0, nItems)
	itemType := genItemTypes[format]
	if itemType == "" {
		itemType = format
	}
	loc := "Adult Nonfiction"
	switch {
	case juvenile:
		loc = "Children's"
	case fiction:
		loc = "Adult Fiction"
	case format == FormatSerial:
		loc = "Periodicals"
	case format == FormatVideo || format == FormatMusic || format == FormatAudiobook:
		loc = "Media"
	case g.chance(0.05):
		loc = "Reference"
	}
	acquiredFrom := 2000
	if f.Year != nil && *f.Year > acquiredFrom {
		acquiredFrom = min(*f.Year, 2025)
	}
	for range nItems {
		g.nextBarcode++
		it := Item{TenantID: tenant, ID: tenants.NewID(), BibID: id, Barcode: fmt.Sprintf("3%013d", g.nextBarcode),
			BranchID: g.branches[cumPick(g.branchCum, g.r.Float64())], Location: loc, CallNumber: f.CallNumber,
			CallNumberSort: callnumber.Key(f.CallNumber), ItemType: itemType, Status: pick(g, genStatuses)}
		if g.chance(0.7) {
			amount, cur := int64(800+g.r.IntN(3700)), "USD"
			it.PriceAmount, it.PriceCurrency = &amount, &cur
		}
		if g.chance(0.9) {
			d := time.Date(acquiredFrom+g.r.IntN(2026-acquiredFrom), time.Month(1+g.r.IntN(12)), 1+g.r.IntN(28), 0, 0, 0, 0, time.UTC).
				Format(time.DateOnly)
			it.AcquiredOn = &d
		}
		items = append(items, it)
	}
	return row, items, nil
}

// ---------------------------------------------------------------------------
// Real records as a seed.

type realVocab struct {
	titles, authors, subjects, publishers, series, langs []string
	words                                                []string // title words, one entry per occurrence
}

func (v *realVocab) word(r *rand.Rand) string { return v.words[r.IntN(len(v.words))] }

// loadGenVocab reads the MARC records under path (a file or a directory,
// every .mrc/.marc/.dat/.xml/.json file in it) leniently and collects their
// titles, title words, names, subject headings, publishers, series and
// languages. Records and files the codec rejects are skipped.
func loadGenVocab(path string) (*realVocab, error) {
	v := &realVocab{}
	seen := map[string]bool{}
	add := func(list *[]string, kind, s string) {
		s = strings.TrimSpace(s)
		if s == "" || !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) || len(s) > 200 || seen[kind+s] {
			return
		}
		seen[kind+s] = true
		*list = append(*list, s)
	}
	files := 0
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".mrc", ".marc", ".dat", ".xml", ".json":
		default:
			return nil
		}
		if d.IsDir() {
			return nil
		}
		recs, err := readMARCFile(p)
		if err != nil {
			return nil // not MARC, or unreadable: skip
		}
		files++
		for _, rec := range recs {
			f := Extract(rec)
			if f.Title != "[no title]" {
				add(&v.titles, "t", f.Title)
				for _, w := range tokens(f.Title) {
					lw := strings.ToLower(w)
					if utf8.RuneCountInString(lw) >= 3 && !genStop[lw] && !strings.ContainsAny(lw, "0123456789") &&
						!strings.ContainsRune(lw, utf8.RuneError) {
						v.words = append(v.words, lw) // every occurrence: frequent words stay frequent
					}
				}
			}
			for _, a := range f.Authors {
				add(&v.authors, "a", a)
			}
			for _, s := range f.Subjects {
				add(&v.subjects, "s", s)
			}
			add(&v.publishers, "p", f.Publisher)
			for _, s := range f.Series {
				add(&v.series, "r", s)
			}
			if f.Language != "" {
				v.langs = append(v.langs, f.Language)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read MARC seed %s: %w", path, err)
	}
	if len(v.titles) == 0 {
		return nil, fmt.Errorf("read MARC seed %s: no MARC records found in %d file(s)", path, files)
	}
	return v, nil
}

// readMARCFile reads every record of one file it can; broken records are
// skipped. A file yielding errors only is given up after 1,000 of them.
func readMARCFile(path string) ([]*marc.Record, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	br := bufio.NewReader(fh)
	format, err := marc.Detect(br)
	if err != nil {
		return nil, err
	}
	rd := marc.NewFormatReader(br, format, marc.ReadOptions{Lenient: true})
	var out []*marc.Record
	for bad := 0; bad < 1000 && len(out) < 1_000_000; {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *marc.ParseError
		if errors.As(err, &pe) {
			bad++
			continue
		}
		if err != nil {
			break
		}
		out = append(out, rec)
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// Built-in distributions and word lists. Lists are in frequency order: the
// generator draws ranks from Zipf distributions, so the first entries are
// common and the last ones rare.

var genFormats = []weighted[string]{{FormatBook, 80}, {FormatEbook, 7}, {FormatSerial, 3}, {FormatVideo, 3.5},
	{FormatAudiobook, 2.5}, {FormatMusic, 1.5}, {FormatMap, 0.6}, {FormatScore, 0.5}, {FormatImage, 0.1},
	{FormatKit, 0.1}, {FormatSoftware, 0.1}, {FormatManuscript, 0.05}, {FormatObject, 0.05}}

var genLanguages = []weighted[string]{{"eng", 70}, {"spa", 8}, {"fre", 5}, {"ger", 4}, {"ita", 2.5}, {"chi", 2},
	{"jpn", 1.5}, {"rus", 1.5}, {"por", 1.5}, {"ara", 1}, {"kor", 0.7}, {"vie", 0.5}, {"pol", 0.5}, {"heb", 0.3},
	{"dut", 0.3}, {"swe", 0.2}, {"lat", 0.2}, {"gre", 0.2}, {"hin", 0.2}, {"tur", 0.2}}

var genItemTypes = map[string]string{FormatBook: "book", FormatEbook: "ebook", FormatSerial: "magazine",
	FormatVideo: "dvd", FormatAudiobook: "audiobook", FormatMusic: "cd", FormatMap: "map", FormatScore: "score"}

var genStatuses = []weighted[string]{{"available", 78}, {"checked_out", 16}, {"in_transit", 1.5},
	{"on_hold_shelf", 1.5}, {"in_processing", 1}, {"missing", 0.7}, {"lost", 0.5}, {"damaged", 0.3}, {"withdrawn", 0.5}}

var genStop = map[string]bool{"the": true, "and": true, "for": true, "with": true, "from": true, "into": true,
	"les": true, "des": true, "del": true, "der": true, "die": true, "das": true, "und": true, "los": true, "las": true}

// genNouns: title nouns and topics, most frequent first.
var genNouns = strings.Split(strings.TrimSpace(`
history|life|world|war|art|story|love|science|guide|family|time|house|book|women|music|children|america|nature
city|food|design|death|power|light|water|people|politics|night|garden|health|home|god|education|business|culture
society|language|mind|body|faith|freedom|money|religion|philosophy|poetry|travel|sea|dreams|stories|secrets
journey|man|girl|boy|king|queen|earth|sun|moon|stars|fire|heart|blood|shadow|road|river|island|mountain|forest
empire|revolution|democracy|economics|economy|law|justice|rights|climate change|civil war|world war|human rights
technology|engineering|mathematics|physics|chemistry|biology|medicine|psychology|memory|identity|race|class
gender|environment|energy|animals|birds|dogs|cats|horses|flowers|trees|cooking|recipes|baking|wine|beer|coffee
sports|baseball|football|soccer|basketball|golf|running|yoga|fitness|nutrition|diet|weight|sleep|happiness|anxiety
leadership|management|marketing|finance|investing|wealth|poverty|work|careers|writing|reading|painting|photography
architecture|film|theater|dance|jazz|blues|songs|opera|poems|letters|essays|diaries|memoir|biography|lives|voices
crime|murder|mystery|detective|spy|war stories|adventure|fantasy|magic|dragons|witches|ghosts|monsters|vampires
space|universe|planets|galaxy|evolution|genetics|brain|cells|disease|cancer|pandemic|vaccines|hospitals|nursing
computers|programming|software|internet|data|artificial intelligence|robots|machines|networks|security|privacy
media|news|journalism|propaganda|advertising|television|radio|newspapers|books|libraries|museums|schools|teaching
learning|childhood|adolescence|parenting|marriage|divorce|friendship|community|neighbors|immigration|migration
borders|nations|states|cities|villages|farms|agriculture|land|soil|oceans|rivers|lakes|deserts|weather|storms
floods|earthquakes|volcanoes|geology|minerals|gold|silver|oil|coal|railroads|ships|aviation|flight|cars|bicycles
industry|labor|unions|slavery|colonialism|independence|peace|diplomacy|treaties|soldiers|battles|generals|navy
army|weapons|strategy|intelligence|terrorism|conflict|violence|prisons|police|courts|constitution|elections
parliament|presidents|monarchy|emperors|pharaohs|ancient egypt|ancient rome|ancient greece|middle ages
renaissance|reformation|enlightenment|romanticism|modernism|industrial revolution|cold war|great depression
holocaust|resistance|exile|refugees|diaspora|heritage|tradition|folklore|mythology|legends|saints|prophets
monks|temples|churches|cathedrals|castles|palaces|bridges|towers|gardens|parks|wilderness|conservation
ecology|sustainability|pollution|plastics|recycling|forests|jungles|savanna|arctic|antarctica|glaciers
whales|sharks|dolphins|insects|bees|butterflies|spiders|frogs|snakes|dinosaurs|fossils|archaeology|anthropology
sociology|linguistics|grammar|dictionary|translation|rhetoric|logic|ethics|aesthetics|metaphysics|theology
mysticism|meditation|prayer|pilgrimage|ritual|festivals|holidays|christmas|weddings|funerals|ghost stories
cartography|navigation|exploration|discovery|invention|inventors|patents|quilting|knitting|woodworking
pottery|calligraphy|origami|chess|puzzles|crosswords|gambling|astrology|tarot|alchemy|cryptography|lighthouses
`), "\n")

var genAdjectives = strings.Split(strings.TrimSpace(`
new|great|american|modern|little|last|complete|british|lost|secret|early|hidden|dark|first|global|old|ancient
practical|essential|illustrated|short|long|young|wild|black|white|red|golden|silent|broken|beautiful|strange
english|french|german|chinese|african|european|latin|russian|japanese|indian|natural|social|political
cultural|economic|human|public|private|invisible|forgotten|unfinished|impossible|perfect|simple|quiet|bright
deep|endless|final|free|future|green|blue|hungry|restless|sacred|urban|rural|northern|southern|western
eastern|radical|critical|classical|digital|visual|medieval|victorian|colonial|imperial|forbidden|wandering
`), "\n")

func init() {
	split := func(list []string) []string {
		var out []string
		for _, l := range list {
			for _, w := range strings.FieldsFunc(l, func(r rune) bool { return r == '|' || r == '\n' }) {
				if w = strings.TrimSpace(w); w != "" {
					out = append(out, w)
				}
			}
		}
		return out
	}
	genNouns = split(genNouns)
	genAdjectives = split(genAdjectives)
	genSurnames = split(genSurnames)
	genForenames = split(genForenames)
	genPlaces = split(genPlaces)
	genSubdivisions = split(genSubdivisions)
	genSeries = split(genSeries)
	genSurnameCum = zipfCum(len(genSurnames), 1.05, 10)
	genForenameCum = zipfCum(len(genForenames), 1.1, 3)
	for k, v := range genForeign {
		genForeign[k] = split(v)
	}
}

// Syllables of invented names: 40 x 40 x 20 = 32,000 of them.
var (
	genSyl1 = []string{"ka", "mor", "vel", "tar", "bel", "dra", "sil", "the", "ran", "gal", "ash", "bor", "cal", "den",
		"el", "fen", "gor", "hal", "ith", "jor", "kel", "lor", "mar", "nor", "or", "pel", "quin", "ros", "sar", "tal",
		"ul", "var", "wen", "xan", "yor", "zel", "ar", "bri", "cor", "dun"}
	genSyl2 = []string{"a", "e", "i", "o", "u", "an", "en", "in", "on", "ar", "er", "ir", "or", "al", "el", "il",
		"ol", "ath", "eth", "ith", "ad", "ed", "id", "od", "av", "ev", "iv", "ov", "ab", "eb", "ib", "ob", "ag",
		"eg", "ig", "og", "am", "em", "im", "om"}
	genSyl3 = []string{"ra", "dor", "mir", "wyn", "th", "ria", "nor", "dell", "gard", "ion", "ys", "ara", "ven",
		"wick", "ford", "ton", "mere", "holm", "dal", "ness"}
)

var genSurnames = []string{`Smith|Johnson|Williams|Brown|Jones|Garcia|Miller|Davis|Rodriguez|Martinez|Hernandez|Lopez
Gonzalez|Wilson|Anderson|Thomas|Taylor|Moore|Jackson|Martin|Lee|Perez|Thompson|White|Harris|Sanchez|Clark|Ramirez
Lewis|Robinson|Walker|Young|Allen|King|Wright|Scott|Torres|Nguyen|Hill|Flores|Green|Adams|Nelson|Baker|Hall|Rivera
Campbell|Mitchell|Carter|Roberts|Gomez|Phillips|Evans|Turner|Diaz|Parker|Cruz|Edwards|Collins|Reyes|Stewart|Morris
Morales|Murphy|Cook|Rogers|Gutierrez|Ortiz|Morgan|Cooper|Peterson|Bailey|Reed|Kelly|Howard|Ramos|Kim|Cox|Ward
Richardson|Watson|Brooks|Chavez|Wood|James|Bennett|Gray|Mendoza|Ruiz|Hughes|Price|Alvarez|Castillo|Sanders|Patel
Myers|Long|Ross|Foster|Jimenez|Powell|Jenkins|Perry|Russell|Sullivan|Bell|Coleman|Butler|Henderson|Barnes|Gonzales
Fisher|Vasquez|Simmons|Romero|Jordan|Patterson|Alexander|Hamilton|Graham|Reynolds|Griffin|Wallace|Moreno|West|Cole
Hayes|Bryant|Herrera|Gibson|Ellis|Tran|Medina|Aguilar|Stevens|Murray|Ford|Castro|Marshall|Owens|Harrison|Fernandez
McDonald|Woods|Washington|Kennedy|Wells|Vargas|Henry|Chen|Freeman|Webb|Tucker|Guzman|Burns|Crawford|Olson|Simpson
Porter|Hunter|Gordon|Mendez|Silva|Shaw|Snyder|Mason|Dixon|Muñoz|Hunt|Hicks|Holmes|Palmer|Wagner|Black|Robertson
Boyd|Rose|Stone|Salazar|Fox|Warren|Mills|Meyer|Rice|Schmidt|Garza|Daniels|Ferguson|Nichols|Stephens|Soto|Weaver
Ryan|Gardner|Payne|Grant|Dunn|Kelley|Spencer|Hawkins|Arnold|Pierce|Vazquez|Hansen|Peters|Santos|Hart|Bradley
Müller|Schmitt|Dubois|Lefèvre|Rossi|Russo|Bianchi|Novak|Kowalski|Ivanov|Petrov|Tanaka|Suzuki|Sato|Wang|Li|Zhang
Liu|Yamamoto|Nakamura|O'Brien|O'Connor|Gallagher|Doyle|Byrne|Lindqvist|Johansson|Andersson|Nielsen|Jensen
Østergaard|Fitzgerald|Achebe|Okafor|Mensah|Haddad|Khalil|Cohen|Levi|Friedman|Gómez|Núñez|Peña|Quiñones|Sørensen`}

var genForenames = []string{`John|Mary|James|Patricia|Robert|Jennifer|Michael|Linda|William|Elizabeth|David
Barbara|Richard|Susan|Joseph|Jessica|Thomas|Sarah|Charles|Karen|Christopher|Nancy|Daniel|Lisa|Matthew|Margaret
Anthony|Betty|Mark|Sandra|Donald|Ashley|Steven|Dorothy|Paul|Kimberly|Andrew|Emily|Joshua|Donna|Kenneth|Michelle
Kevin|Carol|Brian|Amanda|George|Melissa|Edward|Deborah|Ronald|Stephanie|Timothy|Rebecca|Jason|Laura|Jeffrey|Sharon
Ryan|Cynthia|Jacob|Kathleen|Gary|Amy|Nicholas|Shirley|Eric|Angela|Jonathan|Helen|Stephen|Anna|Larry|Brenda
Justin|Pamela|Scott|Nicole|Brandon|Samantha|Benjamin|Katherine|Samuel|Emma|Frank|Ruth|Gregory|Christine|Raymond
Catherine|Alexander|Debra|Patrick|Rachel|Jack|Carolyn|Dennis|Janet|Jerry|Virginia|Tyler|Maria|Aaron|Heather
Jose|Diane|Henry|Julie|Adam|Joyce|Douglas|Victoria|Nathan|Kelly|Peter|Christina|Zachary|Joan|Kyle|Evelyn|Walter
Lauren|Harold|Judith|Jeremy|Olivia|Ethan|Frances|Carl|Martha|Keith|Cheryl|Roger|Megan|Gerald|Andrea|Christian
Hannah|Terry|Jacqueline|Sean|Ann|Arthur|Jean|Austin|Alice|Noah|Kathryn|Lawrence|Gloria|Jesse|Teresa|Joe|Doris
Bryan|Sara|Billy|Janice|Jordan|Julia|Albert|Marie|Dylan|Madison|Bruce|Grace|Willie|Judy|Gabriel|Theresa|Alan
Beverly|Juan|Denise|Logan|Marilyn|Wayne|Amber|Ralph|Danielle|Roy|Abigail|Eugene|Brittany|Randy|Rose|Vincent
Diana|Russell|Natalie|Louis|Sophia|Philip|Alexis|Bobby|Lori|Johnny|Kayla|Bradley|Jane|Carlos|Pilar|Luis|Sofía
François|Amélie|Jürgen|Søren|Hiroshi|Yuki|Wei|Mei|Chinua|Ngozi|Kwame|Amara|Omar|Leila|Yosef|Miriam|Ingrid|Lars`}

var genPlaces = []string{`United States|Great Britain|England|France|Germany|China|Japan|California|New York (N.Y.)
Canada|Italy|Spain|Mexico|Russia (Federation)|India|Europe|Africa|Asia|Latin America|Texas|London (England)|Ireland
Paris (France)|Australia|Scotland|Brazil|Chicago (Ill.)|Middle East|Israel|Egypt|Greece|Rome (Italy)|Netherlands
Sweden|Norway|Poland|Korea|Vietnam|Argentina|Peru|Chile|Cuba|Florida|Virginia|Massachusetts|Pennsylvania|Ohio
Illinois|Washington (State)|Oregon|Alaska|Hawaii|Mississippi River|Rocky Mountains|Alps|Himalaya Mountains|Amazon River
Mediterranean Region|Caribbean Area|Pacific Ocean|Atlantic Ocean|Antarctica|Arctic regions|Siberia|Scandinavia
Balkan Peninsula|Iran|Iraq|Turkey|Nigeria|Kenya|South Africa|Ethiopia|Ghana|Morocco|Philippines|Indonesia|Thailand`}

var genSubdivisions = []string{`History|Fiction|Biography|Social aspects|Juvenile literature|Politics and government
Study and teaching|Economic aspects|Description and travel|Social life and customs|Pictorial works|Handbooks, manuals, etc.
Philosophy|Psychological aspects|Religious aspects|Moral and ethical aspects|Law and legislation|Dictionaries
Criticism and interpretation|Environmental aspects|Health aspects|Case studies|Research|Statistics|Poetry|Drama
Correspondence|Anecdotes|Humor|Periodicals|Maps|Guidebooks|Technological innovations|Management|Quotations
Encyclopedias|Bibliography|Textbooks|Sources|Congresses`}

var genSeries = []string{`Penguin classics|Oxford world's classics|Very short introductions|Everyman's library
Vintage international|Modern library|Library of America|For dummies|Lonely planet|DK eyewitness books|Cambridge companions
Routledge studies|Norton critical editions|Harper perennial|Picador classics|Dover thrift editions|Studies in history
New directions paperbook|Landmark books|Step into reading|I can read|Magic tree house|Goosebumps|Nancy Drew mystery stories
Hardy boys|Original Poirot|Inspector Maigret|Time-Life books|National Geographic kids|Smithsonian series
Yale series of younger poets|Harvard studies|Princeton legacy library|Chicago guides to writing|Wiley finance
Teach yourself|Rough guides|Fodor's travel|Idiot's guides|Complete works`}

// genForeign: a few common title words of other languages; the rest of the
// foreign-language records get English words (translations).
var genForeign = map[string][]string{
	"spa": {`historia|vida|mundo|amor|guerra|tiempo|casa|noche|libro|mujeres|cocina|arte|muerte|ciudad|mar|corazón
tierra|sombra|niños|viaje|cuentos|poemas|memoria|pueblo|camino|sueños|luz|agua|música|política|años|familia`},
	"fre": {`histoire|vie|monde|amour|guerre|temps|maison|nuit|livre|femmes|cuisine|art|mort|ville|mer|cœur|terre
ombre|enfants|voyage|contes|poèmes|mémoire|peuple|chemin|rêves|lumière|eau|musique|politique|années|famille`},
	"ger": {`Geschichte|Leben|Welt|Liebe|Krieg|Zeit|Haus|Nacht|Buch|Frauen|Küche|Kunst|Tod|Stadt|Meer|Herz|Erde
Schatten|Kinder|Reise|Märchen|Gedichte|Erinnerung|Volk|Weg|Träume|Licht|Wasser|Musik|Politik|Jahre|Familie`},
	"ita": {`storia|vita|mondo|amore|guerra|tempo|casa|notte|libro|donne|cucina|arte|morte|città|mare|cuore|terra
ombra|bambini|viaggio|racconti|poesie|memoria|popolo|cammino|sogni|luce|acqua|musica|politica|anni|famiglia`},
	"por": {`história|vida|mundo|amor|guerra|tempo|casa|noite|livro|mulheres|cozinha|arte|morte|cidade|mar|coração`},
}

var genForeignJoin = map[string]string{"spa": "y", "fre": "et", "ger": "und", "ita": "e", "por": "e"}

type genPublisher struct{ name, place string }

var genPublishers = []genPublisher{
	{"Penguin Books", "New York"}, {"HarperCollins", "New York"}, {"Random House", "New York"},
	{"Simon & Schuster", "New York"}, {"Oxford University Press", "Oxford"}, {"Macmillan", "London"},
	{"Hachette Book Group", "New York"}, {"Scholastic", "New York"}, {"Knopf", "New York"},
	{"Cambridge University Press", "Cambridge"}, {"Vintage Books", "New York"}, {"W. W. Norton & Company", "New York"},
	{"Little, Brown and Company", "Boston"}, {"Houghton Mifflin Harcourt", "Boston"}, {"Bloomsbury", "London"},
	{"St. Martin's Press", "New York"}, {"Routledge", "London"}, {"Wiley", "Hoboken, NJ"}, {"Doubleday", "New York"},
	{"Farrar, Straus and Giroux", "New York"}, {"Princeton University Press", "Princeton"},
	{"Yale University Press", "New Haven"}, {"University of Chicago Press", "Chicago"}, {"Viking", "New York"},
	{"Bantam Books", "New York"}, {"Ballantine Books", "New York"}, {"Tor", "New York"}, {"Pearson", "Boston"},
	{"McGraw-Hill", "New York"}, {"Springer", "Cham"}, {"Faber & Faber", "London"}, {"Chronicle Books", "San Francisco"},
	{"DK Publishing", "New York"}, {"National Geographic", "Washington, D.C."}, {"MIT Press", "Cambridge, MA"},
	{"Harvard University Press", "Cambridge, MA"}, {"Beacon Press", "Boston"}, {"Grove Press", "New York"},
	{"Gallimard", "Paris"}, {"Éditions du Seuil", "Paris"}, {"Suhrkamp", "Frankfurt am Main"}, {"Anagrama", "Barcelona"},
	{"Alfaguara", "Madrid"}, {"Einaudi", "Torino"}, {"Feltrinelli", "Milano"}, {"Rowohlt", "Reinbek"},
	{"Kodansha", "Tokyo"}, {"Graywolf Press", "Minneapolis"}, {"Coffee House Press", "Minneapolis"},
	{"Lonely Planet", "Footscray, Vic."}, {"Rand McNally", "Chicago"}, {"Criterion Collection", "New York"},
	{"Warner Home Video", "Burbank, CA"}, {"Naxos", "Franklin, TN"}, {"Brilliance Audio", "Grand Haven, MI"},
	{"Blackstone Audio", "Ashland, OR"}, {"Elsevier", "Amsterdam"}, {"Sage Publications", "Thousand Oaks, CA"},
	{"Candlewick Press", "Somerville, MA"}, {"Workman Publishing", "New York"},
}

var genFictionGenres = []string{"Detective and mystery stories", "Love stories", "Domestic fiction", "Thrillers (Fiction)",
	"Historical fiction", "Fantasy fiction", "Science fiction", "Psychological fiction", "Suspense fiction",
	"Adventure stories", "Humorous stories", "Horror fiction", "War stories", "Short stories", "Ghost stories",
	"Bildungsromans", "Western stories", "Epistolary fiction"}

type genSubject struct {
	heading string
	ddc     int
}

// genSubjects: LCSH-like topical headings with a Dewey class for call numbers.
var genSubjects = []genSubject{
	{"World War, 1939-1945", 940}, {"Cooking", 641}, {"Families", 306}, {"Women", 305}, {"Friendship", 158},
	{"Love stories", 813}, {"Detective and mystery stories", 813}, {"Christian life", 248}, {"Business", 650},
	{"Self-actualization (Psychology)", 158}, {"Presidents", 973}, {"Political science", 320}, {"Economics", 330},
	{"Mothers and daughters", 306}, {"Education", 370}, {"Success", 158}, {"Management", 658}, {"Cats", 636},
	{"Dogs", 636}, {"Children", 305}, {"Art", 700}, {"Music", 780}, {"Photography", 770}, {"Health", 613},
	{"Nutrition", 613}, {"Diet", 613}, {"Mental health", 616}, {"Depression, Mental", 616}, {"Cancer", 616},
	{"Medicine", 610}, {"Science", 500}, {"Physics", 530}, {"Astronomy", 520}, {"Outer space", 520}, {"Evolution (Biology)", 576},
	{"Genetics", 576}, {"Animals", 590}, {"Birds", 598}, {"Dinosaurs", 567}, {"Ecology", 577}, {"Climatic changes", 551},
	{"Environmental protection", 363}, {"Natural history", 508}, {"Gardening", 635}, {"Vegetable gardening", 635},
	{"Baking", 641}, {"Vegetarian cooking", 641}, {"Wine and wine making", 641}, {"Travel", 910}, {"Voyages and travels", 910},
	{"Architecture", 720}, {"Interior decoration", 747}, {"Painting", 750}, {"Artists", 709}, {"Sculpture", 730},
	{"Motion pictures", 791}, {"Television programs", 791}, {"Rock music", 781}, {"Jazz", 781}, {"Poetry", 808},
	{"American poetry", 811}, {"English poetry", 821}, {"American fiction", 813}, {"English fiction", 823},
	{"Short stories", 808}, {"Authors, American", 810}, {"Authors, English", 820}, {"Literature", 800},
	{"Philosophy", 100}, {"Ethics", 170}, {"Psychology", 150}, {"Emotions", 152}, {"Memory", 153}, {"Religion", 200},
	{"Bible", 220}, {"Christianity", 230}, {"Islam", 297}, {"Judaism", 296}, {"Buddhism", 294}, {"Spirituality", 204},
	{"Meditation", 158}, {"Mythology", 398}, {"Folklore", 398}, {"Fairy tales", 398}, {"Social problems", 361},
	{"Race relations", 305}, {"African Americans", 305}, {"Immigrants", 304}, {"Emigration and immigration", 325},
	{"Civil rights", 323}, {"Human rights", 323}, {"Feminism", 305}, {"Poverty", 362}, {"Crime", 364}, {"Criminal justice", 364},
	{"Law", 340}, {"Constitutional law", 342}, {"Terrorism", 363}, {"Military history", 355}, {"Soldiers", 355},
	{"United States. Army", 355}, {"Spies", 327}, {"International relations", 327}, {"Globalization", 337},
	{"Finance, Personal", 332}, {"Investments", 332}, {"Money", 332}, {"Leadership", 658}, {"Marketing", 658},
	{"Entrepreneurship", 658}, {"Computer programming", 5}, {"Computers", 4}, {"Internet", 4}, {"Artificial intelligence", 6},
	{"Computer security", 5}, {"Data mining", 6}, {"Mathematics", 510}, {"Algebra", 512}, {"Statistics", 519},
	{"Engineering", 620}, {"Inventions", 609}, {"Technology", 600}, {"Automobiles", 629}, {"Aeronautics", 629},
	{"Railroads", 385}, {"Ships", 623}, {"Sports", 796}, {"Baseball", 796}, {"Football", 796}, {"Soccer", 796},
	{"Physical fitness", 613}, {"Yoga", 613}, {"Parenting", 649}, {"Child rearing", 649}, {"Pregnancy", 618},
	{"Marriage", 306}, {"Aging", 305}, {"Death", 306}, {"Grief", 155}, {"Schools", 371}, {"Teaching", 371},
	{"Reading", 428}, {"English language", 420}, {"Spanish language", 460}, {"Language and languages", 400},
	{"Communication", 302}, {"Mass media", 302}, {"Journalism", 70}, {"Libraries", 27}, {"Books and reading", 28},
	{"Archaeology", 930}, {"Antiquities", 930}, {"Civilization", 909}, {"Middle Ages", 909}, {"Egypt", 932},
	{"Rome", 937}, {"Greece", 938}, {"Indians of North America", 970}, {"Slavery", 306}, {"Holocaust, Jewish (1939-1945)", 940},
	{"World War, 1914-1918", 940}, {"Cold War", 909}, {"Vietnam War, 1961-1975", 959}, {"Revolutions", 303},
	{"Kings and rulers", 920}, {"Queens", 920}, {"Explorers", 910}, {"Scientists", 509}, {"Inventors", 609},
	{"Ghosts", 133}, {"Magic", 133}, {"Vampires", 398}, {"Dragons", 398}, {"Horses", 636}, {"Whales", 599},
	{"Insects", 595}, {"Oceans", 551}, {"Weather", 551}, {"Volcanoes", 551}, {"Earthquakes", 551}, {"Geology", 550},
	{"Knitting", 746}, {"Quilting", 746}, {"Woodwork", 684}, {"Chess", 794}, {"Crossword puzzles", 793},
	{"Humor", 817}, {"Comic books, strips, etc.", 741}, {"Graphic novels", 741},
}
