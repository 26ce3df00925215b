package catalog

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

// The condition search filters with (tsMatchSQL: the English query alone
// when no word was a stop word) must match exactly the records the full
// query (tsQuerySQL: English OR as written) matches, which ranking uses.
func TestSearchMatch_SameRecordsAsFullQuery(t *testing.T) {
	env := tenanttest.Get(t)
	tenant, ctx := genTenant(t, env, 1)
	titles := []string{
		"A history of the world war", "Histories of American cities", "The historic chamber of secrets",
		"Chamber in secrets", "World-war memories", "Running and runners", "Gödel, Escher, Bach",
		"Of mice and men", "The the", "Wars of the worlds",
	}
	svc := NewService(env.Tenants)
	err := env.Pool.Tx(ctx, tenant, func(ctx context.Context, _ *gorm.DB) error {
		for _, title := range titles {
			rec, err := BibForm{Title: title, Authors: []string{"Smith, Jo"}, Subjects: []string{"World War, 1939-1945"}}.Build(time.Now())
			if err != nil {
				return err
			}
			if _, err := svc.SaveRecord(ctx, rec, DupAdd); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"history", "histories", "historic", "world war", `"world war"`, `"chamber of secrets"`, "the world",
		"of", "the OR wars", "american OR chamber", "godel", "gödel", "running", "runners", "world-war",
		"author:smith", "title:history", "wars -history", "histor*", "the the",
	} {
		t.Run(q, func(t *testing.T) {
			tree, err := ParseQuery(q)
			if err != nil || tree == nil {
				t.Fatalf("parse %q: %v", q, err)
			}
			e := (&compiler{}).compile(tree, false)
			if e.ts == "" {
				t.Fatalf("%q did not compile to a text query", q)
			}
			var full, match []uuid.UUID
			err = env.Pool.Tx(ctx, tenant, func(ctx context.Context, db *gorm.DB) error {
				ts := e.ts
				args := []any{ts, ts, ts, ts, ts}
				if err := db.Raw(`SELECT id FROM bib_search WHERE search @@ `+tsQuerySQL+` ORDER BY id`, args...).Scan(&full).Error; err != nil {
					return err
				}
				return db.Raw(`SELECT id FROM bib_search WHERE `+tsSQL(ts).sql+` ORDER BY id`, args...).Scan(&match).Error
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%q: %d records", q, len(full))
			if !slices.Equal(full, match) {
				t.Fatalf("%q: full query matched %d records, the search condition %d", q, len(full), len(match))
			}
		})
	}
}

// Large catalogues take dense queries' candidates from a walk (see
// searchWhere). Below the cap both ways rank every match, so every kind of
// condition must give the same answer either way: this runs each through
// both statements.
func TestSearch_WalkAnswersAsIndex(t *testing.T) {
	env := tenanttest.Get(t)
	tenant, ctx := genTenant(t, env, 2)
	err := env.Pool.Tx(ctx, tenant, func(ctx context.Context, _ *gorm.DB) error {
		return Generate(ctx, 400, 7, GenOptions{})
	})
	if err != nil {
		t.Fatal(err)
	}
	index := NewService(env.Tenants)
	walk := NewService(env.Tenants)
	walk.ProbeCatalogue = 1
	var isbn, barcode string
	env.Pool.Tx(ctx, tenant, func(ctx context.Context, db *gorm.DB) error {
		db.Raw(`SELECT isbns[1] FROM bibs WHERE isbns <> '{}' ORDER BY id LIMIT 1`).Scan(&isbn)
		return db.Raw(`SELECT barcode FROM items ORDER BY id LIMIT 1`).Scan(&barcode).Error
	})
	facets := []string{"format", "language", "year", "subject", "author", "branch", "availability"}
	for _, req := range []SearchRequest{
		{Q: genNouns[0]},
		{Q: genNouns[0] + " " + genNouns[1]},
		{Q: `"world war"`},
		{Q: "author:smith"},
		{Q: genNouns[0] + " -" + genNouns[1]},
		{Q: genNouns[0][:4] + "*"},
		{Q: "title:" + genNouns[2] + " OR subject:" + genNouns[3]},
		{Q: "isbn:" + isbn},
		{Q: isbn},
		{Q: barcode},
		{Q: genNouns[0], Filters: []string{"format:book", "year:1900-2030"}},
		{Q: genNouns[0], Filters: []string{"availability:available"}},
		{Q: genNouns[0], Sort: "title"},
		{Q: "zzzqqq"},
	} {
		req.Facets, req.Limit = facets, 10
		t.Run(req.Q, func(t *testing.T) {
			var a, b *SearchResult
			err := env.Pool.Tx(ctx, tenant, func(ctx context.Context, _ *gorm.DB) error {
				var err error
				if a, err = index.Search(ctx, req); err != nil {
					return err
				}
				b, err = walk.Search(ctx, req)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if string(ja) != string(jb) {
				t.Fatalf("index and walk differ:\n%s\n%s", ja, jb)
			}
		})
	}
}

// Ranking ORs each positive leaf's English and as-written forms (rankSQL)
// instead of the whole query's two forms, which repeated every word that
// is the same both ways: the ranks must be the same, record by record.
func TestRankSQL_SameRanksAsWholeQuery(t *testing.T) {
	env := tenanttest.Get(t)
	tenant, ctx := genTenant(t, env, 1)
	err := env.Pool.Tx(ctx, tenant, func(ctx context.Context, _ *gorm.DB) error {
		return Generate(ctx, 600, 11, GenOptions{NoItems: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"american history", "history", `"world war"`, "author:smith", "science", "histories of america",
		"new world war", `"civil war" history`, "title:history OR subject:science", "history -war",
		"histor* american", "running the world", "children and women", "the history",
	} {
		t.Run(q, func(t *testing.T) {
			tree, err := ParseQuery(q)
			if err != nil || tree == nil {
				t.Fatalf("parse %q: %v", q, err)
			}
			c := &compiler{}
			c.compile(tree, false)
			if len(c.positive) == 0 {
				t.Fatalf("%q has no positive leaves", q)
			}
			all := "(" + strings.Join(c.positive, " | ") + ")"
			rank, args := rankSQL(c.positive)
			type row struct {
				ID         uuid.UUID
				Whole, New float32
			}
			var rows []row
			err = env.Pool.Tx(ctx, tenant, func(ctx context.Context, db *gorm.DB) error {
				return db.Raw(`SELECT id, ts_rank_cd(search, `+tsQuerySQL+`) AS whole, `+rank+` AS new FROM bib_search ORDER BY id`,
					append([]any{all, all, all, all, all}, args...)...).Scan(&rows).Error
			})
			if err != nil {
				t.Fatal(err)
			}
			ranked := 0
			for _, r := range rows {
				if r.Whole != r.New {
					t.Fatalf("%q: record %s ranks %v by the whole query, %v by rankSQL", q, r.ID, r.Whole, r.New)
				}
				if r.Whole > 0 {
					ranked++
				}
			}
			t.Logf("%q: %d of %d records rank above 0", q, ranked, len(rows))
			if ranked == 0 && q != "the history" {
				t.Fatalf("%q: no record ranks above 0; the test compares nothing", q)
			}
		})
	}
}

// Facets count records, not copies or array elements twice: each value's
// count must be the number of matching records that have it, whichever
// statement counted it (relevance through the index or the walk, or the
// title order's facets statement). Generated records have 0-5 copies of
// mixed status, so a record with two available copies is common.
func TestSearch_FacetsCountMatchingRecords(t *testing.T) {
	env := tenanttest.Get(t)
	tenant, ctx := genTenant(t, env, 3)
	err := env.Pool.Tx(ctx, tenant, func(ctx context.Context, _ *gorm.DB) error {
		return Generate(ctx, 300, 5, GenOptions{})
	})
	if err != nil {
		t.Fatal(err)
	}
	index := NewService(env.Tenants)
	walk := NewService(env.Tenants)
	walk.ProbeCatalogue = 1
	facetCond := map[string]string{
		"subject":      "subjects @> ARRAY[?]::text[]",
		"author":       "authors @> ARRAY[?]::text[]",
		"format":       "format = ?",
		"language":     "language = ?",
		"availability": "id IN (SELECT bib_id FROM items WHERE status = ?)",
	}
	for _, tc := range []struct {
		name string
		svc  *Service
		req  SearchRequest
	}{
		{"relevance", index, SearchRequest{Q: genNouns[0]}},
		{"relevance walk", walk, SearchRequest{Q: genNouns[0]}},
		{"relevance filtered", index, SearchRequest{Q: genNouns[0] + " OR " + genNouns[1], Filters: []string{"format:book"}}},
		{"title order", index, SearchRequest{Q: genNouns[0], Sort: "title"}},
		{"no query", index, SearchRequest{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.Facets, req.Limit = []string{"format", "language", "subject", "author", "availability"}, 10
			tree, err := ParseQuery(req.Q)
			if err != nil {
				t.Fatal(err)
			}
			where, args := "true", []any{}
			if tree != nil {
				e := (&compiler{}).compile(tree, false).toSQL()
				where, args = e.sql, e.args
			}
			fsql, fargs, err := filterSQL(req.Filters)
			if err != nil {
				t.Fatal(err)
			}
			if fsql != "" {
				where, args = "("+where+") AND "+fsql, append(args, fargs...)
			}
			err = env.Pool.Tx(ctx, tenant, func(ctx context.Context, db *gorm.DB) error {
				res, err := tc.svc.Search(ctx, req)
				if err != nil {
					return err
				}
				if !res.TotalExact || res.Total == 0 {
					t.Fatalf("total %d (exact %v): the test needs a small, exact result", res.Total, res.TotalExact)
				}
				checked := 0
				for facet, cond := range facetCond {
					for _, v := range res.Facets[facet] {
						if facet == "availability" && v.Value == "all" {
							if v.Count != res.Total {
								t.Errorf("availability all = %d, total %d", v.Count, res.Total)
							}
							continue
						}
						var want int64
						if err := db.Raw(`SELECT count(*) FROM bib_search WHERE (`+where+`) AND `+cond, append(append([]any{}, args...), v.Value)...).
							Scan(&want).Error; err != nil {
							return err
						}
						if v.Count != want {
							t.Errorf("facet %s=%q counts %d, %d matching records have it", facet, v.Value, v.Count, want)
						}
						checked++
					}
				}
				if checked < 10 {
					t.Fatalf("only %d facet values to check: %v", checked, res.Facets)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
