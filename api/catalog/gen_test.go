package catalog

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/catalog/ident"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

func TestMain(m *testing.M) { os.Exit(tenanttest.Main(m)) }

// genTenant signs up a library with `branches` branches (the main one and
// branches-1 more) and returns its id and a context carrying its owner.
func genTenant(tb testing.TB, env *tenanttest.Env, branches int) (uuid.UUID, context.Context) {
	tb.Helper()
	ctx := context.Background()
	res := env.Signup(tb, "gen")
	id := res.Tenant.ID
	ctx = tenants.WithPrincipal(ctx, &tenants.Principal{TenantID: id, UserID: res.User.ID, Email: res.User.Email,
		Grants: res.User.Roles})
	if branches > 1 {
		err := env.Pool.Tx(ctx, id, func(ctx context.Context, _ *gorm.DB) error {
			for i := 2; i <= branches; i++ {
				name, code := fmt.Sprintf("Branch %d", i), fmt.Sprintf("BR%d", i)
				if _, err := env.Tenants.CreateBranch(ctx, tenants.BranchInput{Name: &name, Code: &code}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("create branches: %v", err)
		}
	}
	return id, ctx
}

func TestGenerate(t *testing.T) {
	env := tenanttest.Get(t)
	tenant, ctx := genTenant(t, env, 3)
	other, otherCtx := genTenant(t, env, 1)
	const n = 300
	tx := func(ctx context.Context, id uuid.UUID, fn func(ctx context.Context, db *gorm.DB) error) {
		t.Helper()
		if err := env.Pool.Tx(ctx, id, fn); err != nil {
			t.Fatal(err)
		}
	}
	var progress []int
	tx(ctx, tenant, func(ctx context.Context, _ *gorm.DB) error {
		return Generate(ctx, n, 42, GenOptions{BatchSize: 128, Progress: func(done int) { progress = append(progress, done) }})
	})
	if !slices.Equal(progress, []int{128, 256, 300}) {
		t.Errorf("progress = %v, want [128 256 300]", progress)
	}
	tx(ctx, tenant, func(ctx context.Context, db *gorm.DB) error {
		var count, withISBN int64
		db.Raw(`SELECT count(*), count(*) FILTER (WHERE isbns <> '{}') FROM bibs`).Row().Scan(&count, &withISBN)
		if count != n {
			t.Errorf("%d bibs, want %d", count, n)
		}
		if share := float64(withISBN) / n; share < 0.65 || share > 0.92 {
			t.Errorf("%.0f%% of bibs have an ISBN, want about 80%%", share*100)
		}
		var isbns []string
		if err := db.Raw(`SELECT unnest(isbns) FROM bibs`).Scan(&isbns).Error; err != nil {
			return err
		}
		for _, s := range isbns {
			if isbn, err := ident.ParseISBN(s); err != nil || isbn.ISBN13() != s || !strings.HasPrefix(s, "978") {
				t.Errorf("generated ISBN %q is not a valid 978 ISBN-13 (%v)", s, err)
			}
		}
		var empty int64
		db.Raw(`SELECT count(*) FROM bibs b WHERE NOT EXISTS (SELECT 1 FROM bib_search s WHERE s.id = b.id AND s.search <> '') OR title = '' OR format = '' OR match_key = ''`).Scan(&empty)
		if empty != 0 {
			t.Errorf("%d bibs without search vector, title, format or match key", empty)
		}

		// Items: 0-5 a bib, only at this tenant's branches, all of them used.
		var items, stray, maxPerBib, branchesUsed, available int64
		db.Raw(`SELECT count(*), count(*) FILTER (WHERE status = 'available') FROM items`).Row().Scan(&items, &available)
		db.Raw(`SELECT count(*) FROM items i WHERE NOT EXISTS
			(SELECT 1 FROM branches b WHERE b.id = i.branch_id AND b.kind = 'branch')`).Scan(&stray)
		db.Raw(`SELECT coalesce(max(c), 0) FROM (SELECT count(*) AS c FROM items GROUP BY bib_id) x`).Scan(&maxPerBib)
		db.Raw(`SELECT count(DISTINCT branch_id) FROM items`).Scan(&branchesUsed)
		if items < n || stray != 0 || maxPerBib > 5 || branchesUsed != 3 {
			t.Errorf("items: %d (want >= %d), %d at no branch of the tenant, at most %d a bib (want <= 5), at %d branches (want 3)",
				items, n, stray, maxPerBib, branchesUsed)
		}
		if share := float64(available) / float64(items); share < 0.6 || share > 0.95 {
			t.Errorf("%.0f%% of items available, want most", share*100)
		}

		// A common generated word finds records, with facets.
		res, err := NewService(env.Tenants).Search(ctx, SearchRequest{Q: genNouns[0], Limit: 10,
			Facets: []string{"format", "language", "year", "subject", "author", "branch", "availability"}})
		if err != nil {
			return err
		}
		if res.Total < 10 || len(res.Results) != 10 || res.Fuzzy {
			t.Errorf("search %q: total %d, %d results, fuzzy %v", genNouns[0], res.Total, len(res.Results), res.Fuzzy)
		}
		for _, f := range []string{"format", "language", "year", "subject", "author", "branch", "availability"} {
			if len(res.Facets[f]) == 0 {
				t.Errorf("search %q: facet %s is empty", genNouns[0], f)
			}
		}
		return nil
	})

	// Again in the same tenant: barcodes continue (no unique violation).
	tx(ctx, tenant, func(ctx context.Context, db *gorm.DB) error {
		if err := Generate(ctx, 20, 43, GenOptions{}); err != nil {
			return err
		}
		var count int64
		db.Raw(`SELECT count(*) FROM bibs`).Scan(&count)
		if count != n+20 {
			t.Errorf("%d bibs after a second run, want %d", count, n+20)
		}
		return nil
	})
	// Nothing leaked into the other tenant; it generates its own.
	tx(otherCtx, other, func(ctx context.Context, db *gorm.DB) error {
		var count int64
		db.Raw(`SELECT count(*) FROM bibs`).Scan(&count)
		if count != 0 {
			t.Errorf("the other tenant sees %d bibs", count)
		}
		return Generate(ctx, 10, 42, GenOptions{NoItems: true})
	})

	if err := Generate(context.Background(), 1, 1, GenOptions{}); err == nil {
		t.Error("Generate without a tenant transaction succeeded")
	}
}

// genSample builds n records in memory.
func genSample(t *testing.T, n int, seed int64, vocab *realVocab) ([]*bibRow, [][]Item) {
	t.Helper()
	g := newGenerator(seed, vocab)
	g.setBranches([]uuid.UUID{uuid.New(), uuid.New(), uuid.New()})
	rows, items := make([]*bibRow, n), make([][]Item, n)
	for i := range rows {
		var err error
		if rows[i], items[i], err = g.record(uuid.Nil); err != nil {
			t.Fatal(err)
		}
	}
	return rows, items
}

func TestGeneratorIsDeterministic(t *testing.T) {
	a, _ := genSample(t, 50, 7, nil)
	b, _ := genSample(t, 50, 7, nil)
	c, _ := genSample(t, 50, 8, nil)
	same := 0
	for i := range a {
		if a[i].Title != b[i].Title || !slices.Equal(a[i].Authors, b[i].Authors) || !slices.Equal(a[i].ISBNs, b[i].ISBNs) {
			t.Fatalf("record %d differs between two runs with the same seed: %q / %q", i, a[i].Title, b[i].Title)
		}
		if a[i].Title == c[i].Title {
			same++
		}
	}
	if same > 10 {
		t.Errorf("%d of 50 titles equal with another seed", same)
	}

	// Seeds share one author population: a catalogue generated in chunks
	// (one seed each) keeps its prolific authors.
	x, _ := genSample(t, 1000, 1, nil)
	y, _ := genSample(t, 1000, 2, nil)
	inX := map[string]bool{}
	for _, r := range x {
		for _, a := range r.Authors {
			inX[a] = true
		}
	}
	shared := map[string]bool{}
	for _, r := range y {
		for _, a := range r.Authors {
			if inX[a] {
				shared[a] = true
			}
		}
	}
	if len(shared) < 120 {
		t.Errorf("only %d authors shared by two seeds' records", len(shared))
	}
}

func TestGeneratorDistributions(t *testing.T) {
	const n = 3000
	rows, items := genSample(t, n, 1, nil)
	count := map[string]int{}
	words := map[string]int{}
	for i, r := range rows {
		count["lang:"+r.Language]++
		count["format:"+r.Format]++
		if len(r.ISBNs) > 0 {
			count["isbn"]++
		}
		for _, s := range r.ISBNs {
			if isbn, err := ident.ParseISBN(s); err != nil || isbn.ISBN13() != s {
				t.Fatalf("invalid ISBN %q: %v", s, err)
			}
		}
		for _, s := range r.ISSNs {
			if _, err := ident.ParseISSN(s); err != nil {
				t.Fatalf("invalid ISSN %q: %v", s, err)
			}
		}
		if r.PubYear != nil && (*r.PubYear < 1900 || *r.PubYear > 2025) {
			t.Fatalf("year %d out of 1900-2025", *r.PubYear)
		}
		if r.PubYear != nil && *r.PubYear >= 2000 {
			count["recent"]++
		}
		if len(r.Subjects) > 5 || len(r.Authors) > 3 || len(items[i]) > 5 {
			t.Fatalf("%d subjects, %d authors, %d items: want at most 5, 3, 5", len(r.Subjects), len(r.Authors), len(items[i]))
		}
		if r.Format == FormatBook && len(r.Authors) == 0 {
			t.Fatalf("book %q without author", r.Title)
		}
		for _, it := range items[i] {
			count["items"]++
			count["status:"+it.Status]++
		}
		seen := map[string]bool{}
		for _, w := range tokens(strings.ToLower(r.Title)) {
			if !seen[w] {
				words[w]++
				seen[w] = true
			}
		}
	}
	between := func(what string, got int, lo, hi float64, of int) {
		t.Helper()
		if share := float64(got) / float64(of); share < lo || share > hi {
			t.Errorf("%s: %.1f%%, want %.0f-%.0f%%", what, share*100, lo*100, hi*100)
		}
	}
	between("English", count["lang:eng"], 0.64, 0.76, n)
	between("books", count["format:book"], 0.75, 0.85, n)
	between("with ISBN", count["isbn"], 0.70, 0.85, n)
	between("published since 2000", count["recent"], 0.5, 0.9, n)
	between("available items", count["status:available"], 0.7, 0.86, count["items"])
	between("checked-out items", count["status:checked_out"], 0.1, 0.22, count["items"])
	if count["lang:spa"] == 0 || count["format:ebook"] == 0 || count["format:video"] == 0 {
		t.Errorf("no Spanish, ebook or video records: %v", count)
	}
	// Zipf-like: the first noun is common, the last ones rare.
	if common, rare := words[genNouns[0]], words["alchemy"]; common < n/10 || rare > n/200 || common < 50*rare {
		t.Errorf("title words %q in %d titles, %q in %d: want a steep frequency curve", genNouns[0], common, "alchemy", rare)
	}
}

func TestGenerateSeededFromMARC(t *testing.T) {
	vocab, err := loadGenVocab("../../testdata/marc")
	if err != nil {
		t.Fatal(err)
	}
	if len(vocab.titles) < 20 || len(vocab.words) < 100 || len(vocab.authors) < 10 || len(vocab.subjects) < 10 {
		t.Fatalf("vocabulary from testdata/marc: %d titles, %d words, %d authors, %d subjects",
			len(vocab.titles), len(vocab.words), len(vocab.authors), len(vocab.subjects))
	}
	rows, _ := genSample(t, 1000, 3, vocab)
	realAuthors, realSubjects := 0, 0
	for _, r := range rows {
		for _, a := range r.Authors {
			if slices.Contains(vocab.authors, a) {
				realAuthors++
			}
		}
		for _, s := range r.Subjects {
			if slices.Contains(vocab.subjects, s) {
				realSubjects++
			}
		}
	}
	if realAuthors < 50 || realSubjects < 50 {
		t.Errorf("%d authors and %d subjects from the real records in 1,000 generated bibs; want about a third", realAuthors, realSubjects)
	}
	if _, err := loadGenVocab(t.TempDir()); err == nil {
		t.Error("a directory without MARC files gave a vocabulary")
	}
}
