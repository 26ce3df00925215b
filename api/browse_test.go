package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api"
	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

// browsePage is one page of GET /api/v1/browse as "Heading (count)" strings.
type browsePage struct {
	Entries []string
	Next    string // "" when next_cursor is null
}

func browse(t *testing.T, s *api.Server, token, query string) browsePage {
	t.Helper()
	r := call(t, s, "GET", "/api/v1/browse?"+query, token, nil)
	want(t, r, 200)
	var p browsePage
	items, ok := r.Body["items"].([]any)
	if !ok {
		t.Fatalf("browse %s: no items array: %s", query, r.Raw)
	}
	for _, it := range items {
		m := it.(map[string]any)
		p.Entries = append(p.Entries, fmt.Sprintf("%s (%v)", m["heading"], m["count"]))
	}
	next, present := r.Body["next_cursor"]
	if !present {
		t.Fatalf("browse %s: next_cursor missing (must be null or a string): %s", query, r.Raw)
	}
	if next != nil {
		p.Next = next.(string)
	}
	return p
}

// browseAll follows next_cursor from the first page to the end.
func browseAll(t *testing.T, s *api.Server, token, query string) (entries []string, pages int) {
	t.Helper()
	p := browse(t, s, token, query)
	for {
		pages++
		entries = append(entries, p.Entries...)
		if p.Next == "" {
			return entries, pages
		}
		if pages > 50 {
			t.Fatalf("browse %s: cursor never ends", query)
		}
		p = browse(t, s, token, query+"&cursor="+url.QueryEscape(p.Next))
	}
}

func sameList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Fatalf("%s:\n got  %q\n want %q", what, got, want)
	}
}

func TestBrowse_SubjectsInFoldedOrderWithCounts(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "browse", "library")
	createBib(t, s, lib.Token, map[string]any{"title": "One", "subjects": []string{"Cats -- Fiction", "Cats"}})
	createBib(t, s, lib.Token, map[string]any{"title": "Two", "subjects": []string{"Cats", "Dogs"}})
	createBib(t, s, lib.Token, map[string]any{"title": "Three", "subjects": []string{"Çats accent", "Cats -- Fiction"}})
	createBib(t, s, lib.Token, map[string]any{"title": "Four", "subjects": []string{"Aardvarks", "CATS!"}})
	createBib(t, s, lib.Token, map[string]any{"title": "Five", "subjects": []string{"Zoology"}})

	// Folded keys: "cats" (CATS!, Cats: same key, ties in byte order of the
	// heading), "cats accent", "cats fiction", "dogs", "zoology".
	fromCat := []string{"CATS! (1)", "Cats (2)", "Çats accent (1)", "Cats -- Fiction (2)", "Dogs (1)", "Zoology (1)"}
	for _, from := range []string{"cat", "CAT", "Çat", "  cat", "Cat-"} {
		p := browse(t, s, lib.Token, "index=subject&from="+url.QueryEscape(from))
		sameList(t, "from "+from, p.Entries, fromCat)
		if p.Next != "" {
			t.Fatalf("from %q: a single page must have a null next_cursor", from)
		}
	}
	sameList(t, "from cats f", browse(t, s, lib.Token, "index=subject&from=cats+f").Entries,
		[]string{"Cats -- Fiction (2)", "Dogs (1)", "Zoology (1)"})
	sameList(t, "from cats accent (exact key)", browse(t, s, lib.Token, "index=subject&from=cats+accent").Entries,
		[]string{"Çats accent (1)", "Cats -- Fiction (2)", "Dogs (1)", "Zoology (1)"})
	sameList(t, "no from", browse(t, s, lib.Token, "index=subject").Entries, append([]string{"Aardvarks (1)"}, fromCat...))
	sameList(t, "past the end", browse(t, s, lib.Token, "index=subject&from=zzz").Entries, nil)
	// Subjects are not authors.
	sameList(t, "author index", browse(t, s, lib.Token, "index=author&from=cat").Entries, nil)
}

func TestBrowse_PagingVisitsEachHeadingOnce(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "browsepg", "library")
	createBib(t, s, lib.Token, map[string]any{"title": "One", "subjects": []string{"Cats -- Fiction", "Cats", "cats."}})
	createBib(t, s, lib.Token, map[string]any{"title": "Two", "subjects": []string{"Cats", "Dogs", "Çats accent"}})
	createBib(t, s, lib.Token, map[string]any{"title": "Three", "subjects": []string{"Ants", "Birds", "Cats -- Fiction"}})
	all := []string{"Ants (1)", "Birds (1)", "Cats (2)", "cats (1)", "Çats accent (1)", "Cats -- Fiction (2)", "Dogs (1)"}
	sameList(t, "one page", browse(t, s, lib.Token, "index=subject&limit=500").Entries, all)

	for _, limit := range []int{1, 2, 3, 6, 7} {
		got, pages := browseAll(t, s, lib.Token, fmt.Sprintf("index=subject&limit=%d", limit))
		sameList(t, fmt.Sprintf("limit %d", limit), got, all)
		if want := (len(all) + limit - 1) / limit; pages != want {
			t.Fatalf("limit %d: %d pages, want %d (no empty last page)", limit, pages, want)
		}
	}
	// The cursor, not from, says where the next page starts.
	p1 := browse(t, s, lib.Token, "index=subject&from=cat&limit=2")
	sameList(t, "first page from cat", p1.Entries, []string{"Cats (2)", "cats (1)"})
	p2 := browse(t, s, lib.Token, "index=subject&from=cat&limit=2&cursor="+url.QueryEscape(p1.Next))
	sameList(t, "second page from cat", p2.Entries, []string{"Çats accent (1)", "Cats -- Fiction (2)"})
	p3 := browse(t, s, lib.Token, "index=subject&from=cat&limit=2&cursor="+url.QueryEscape(p2.Next))
	sameList(t, "last page from cat", p3.Entries, []string{"Dogs (1)"})
	if p3.Next != "" {
		t.Fatal("the last page must have a null next_cursor")
	}

	// Cursors are opaque and belong to their index.
	want(t, call(t, s, "GET", "/api/v1/browse?index=subject&cursor=not-a-cursor", lib.Token, nil), 400, "bad_cursor")
	want(t, call(t, s, "GET", "/api/v1/browse?index=subject&cursor=bm9wZQ", lib.Token, nil), 400, "bad_cursor")
	want(t, call(t, s, "GET", "/api/v1/browse?index=author&cursor="+url.QueryEscape(p1.Next), lib.Token, nil), 400, "bad_cursor")
	// Default and bounds of limit.
	want(t, call(t, s, "GET", "/api/v1/browse?index=subject&limit=0", lib.Token, nil), 400, "bad_limit")
	want(t, call(t, s, "GET", "/api/v1/browse?index=subject&limit=501", lib.Token, nil), 400, "bad_limit")
	for i := range 51 {
		createBib(t, s, lib.Token, map[string]any{"title": fmt.Sprintf("Many %d", i), "subjects": []string{fmt.Sprintf("Heading %02d", i)}})
	}
	if p := browse(t, s, lib.Token, "index=subject"); len(p.Entries) != 50 || p.Next == "" {
		t.Fatalf("default limit: %d entries, next %q; want 50 and a cursor", len(p.Entries), p.Next)
	}
}

func TestBrowse_FollowsRecordChanges(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "browsech", "library")
	one := createBib(t, s, lib.Token, map[string]any{"title": "One", "authors": []string{"Tolkien, J. R. R."},
		"subjects": []string{"Cats", "Dogs"}})
	two := createBib(t, s, lib.Token, map[string]any{"title": "Two", "subjects": []string{"Cats"}})
	sameList(t, "before", browse(t, s, lib.Token, "index=subject").Entries, []string{"Cats (2)", "Dogs (1)"})

	// Replacing a record with a new JSON form replaces its headings.
	r := call(t, s, "PUT", "/api/v1/bibs/"+one["id"].(string), lib.Token, map[string]any{"title": "One, revised",
		"authors": []string{"Le Guin, Ursula K."}, "subjects": []string{"Cats -- Fiction", "Emus"}})
	want(t, r, 200)
	sameList(t, "after PUT", browse(t, s, lib.Token, "index=subject").Entries,
		[]string{"Cats (1)", "Cats -- Fiction (1)", "Emus (1)"})
	sameList(t, "authors after PUT", browse(t, s, lib.Token, "index=author").Entries, []string{"Le Guin, Ursula K. (1)"})

	// A PUT that keeps the same headings keeps the same counts.
	r = call(t, s, "PUT", "/api/v1/bibs/"+one["id"].(string), lib.Token, map[string]any{"title": "One, retitled",
		"authors": []string{"Le Guin, Ursula K."}, "subjects": []string{"Cats -- Fiction", "Emus"}})
	want(t, r, 200)
	sameList(t, "after same-heading PUT", browse(t, s, lib.Token, "index=subject").Entries,
		[]string{"Cats (1)", "Cats -- Fiction (1)", "Emus (1)"})

	// Deleting a record removes its headings; a heading no record carries is gone.
	want(t, call(t, s, "DELETE", "/api/v1/bibs/"+two["id"].(string), lib.Token, nil), 204)
	sameList(t, "after DELETE", browse(t, s, lib.Token, "index=subject").Entries, []string{"Cats -- Fiction (1)", "Emus (1)"})
	want(t, call(t, s, "DELETE", "/api/v1/bibs/"+one["id"].(string), lib.Token, nil), 204)
	sameList(t, "all deleted", browse(t, s, lib.Token, "index=subject").Entries, nil)
	sameList(t, "no authors left", browse(t, s, lib.Token, "index=author").Entries, nil)
}

func TestBrowse_Authors(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "browseau", "library")
	createBib(t, s, lib.Token, map[string]any{"title": "The Hobbit", "authors": []string{"Tolkien, J. R. R.", "Anderson, Douglas A."},
		"subjects": []string{"Tolkien, J. R. R."}})
	createBib(t, s, lib.Token, map[string]any{"title": "Silmarillion", "authors": []string{"Tolkien, J. R. R.", "Tolkien, Christopher"}})
	createBib(t, s, lib.Token, map[string]any{"title": "Fräulein", "authors": []string{"Tölle, Anna"}})
	createBib(t, s, lib.Token, map[string]any{"title": "Anonymous"})

	sameList(t, "authors from tol", browse(t, s, lib.Token, "index=author&from=tol").Entries,
		[]string{"Tolkien, Christopher (1)", "Tolkien, J. R. R. (2)", "Tölle, Anna (1)"})
	sameList(t, "authors from Tolkien, J", browse(t, s, lib.Token, "index=author&from="+url.QueryEscape("Tolkien, J")).Entries,
		[]string{"Tolkien, J. R. R. (2)", "Tölle, Anna (1)"})
	sameList(t, "every author", browse(t, s, lib.Token, "index=author").Entries,
		[]string{"Anderson, Douglas A. (1)", "Tolkien, Christopher (1)", "Tolkien, J. R. R. (2)", "Tölle, Anna (1)"})
	// The same text as a subject counts in the subject index only.
	sameList(t, "subjects", browse(t, s, lib.Token, "index=subject").Entries, []string{"Tolkien, J. R. R. (1)"})
}

func TestBrowse_OtherTenantsHeadingsNeverAppear(t *testing.T) {
	s := newServer(t, api.Config{})
	a := signup(t, s, "browse-a", "library")
	b := signup(t, s, "browse-b", "library")
	createBib(t, s, a.Token, map[string]any{"title": "A1", "authors": []string{"Shared, Author"}, "subjects": []string{"Cats", "Shared heading"}})
	createBib(t, s, b.Token, map[string]any{"title": "B1", "authors": []string{"Shared, Author"}, "subjects": []string{"Cats", "Shared heading"}})
	createBib(t, s, b.Token, map[string]any{"title": "B2", "authors": []string{"Bee, Only"}, "subjects": []string{"Cats", "B secret"}})

	sameList(t, "A's subjects", browse(t, s, a.Token, "index=subject").Entries, []string{"Cats (1)", "Shared heading (1)"})
	sameList(t, "A's authors", browse(t, s, a.Token, "index=author").Entries, []string{"Shared, Author (1)"})
	sameList(t, "B's subjects", browse(t, s, b.Token, "index=subject").Entries, []string{"B secret (1)", "Cats (2)", "Shared heading (1)"})
	// A cursor built from B's headings only positions A's browse in A's own rows.
	pb := browse(t, s, b.Token, "index=subject&limit=1")
	sameList(t, "A with B's cursor", browse(t, s, a.Token, "index=subject&cursor="+url.QueryEscape(pb.Next)).Entries,
		[]string{"Cats (1)", "Shared heading (1)"})
	// Paging through A never reaches B's rows.
	got, _ := browseAll(t, s, a.Token, "index=subject&limit=1")
	sameList(t, "A paged", got, []string{"Cats (1)", "Shared heading (1)"})
}

func TestBrowse_BadRequests(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "browsebad", "library")
	for _, q := range []string{"", "index=", "index=title", "index=Subject", "index=subject,author"} {
		want(t, call(t, s, "GET", "/api/v1/browse?"+q, lib.Token, nil), 400, "bad_query")
	}
	// Text PostgreSQL cannot take is a 400, not a 500.
	for _, from := range []string{"%FF", "cat%00s"} {
		want(t, call(t, s, "GET", "/api/v1/browse?index=subject&from="+from, lib.Token, nil), 400, "bad_query")
	}
	want(t, call(t, s, "GET", "/api/v1/browse?index=subject", "", nil), 401)
	// Read-only staff may browse.
	_, viewer := addStaff(t, s, lib, "viewer@"+lib.Slug+".example.org", "readonly", lib.RootID)
	want(t, call(t, s, "GET", "/api/v1/browse?index=author&from=a", viewer, nil), 200)
}

// inTenantTx runs fn in a tenant transaction as the application role and
// rolls it back.
func inTenantTx(t *testing.T, tenantID string, fn func(tx *gorm.DB)) {
	t.Helper()
	rollback := errors.New("rollback")
	err := tenanttest.Get(t).Pool.Tx(context.Background(), uuid.MustParse(tenantID), func(_ context.Context, tx *gorm.DB) error {
		fn(tx)
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatal(err)
	}
}

// The sort key the trigger stores (app.heading_key) agrees with catalog.Fold
// on headings in Latin, Greek and Cyrillic scripts, precomposed or not.
// (Known differences, out of these cases: unaccent also expands ligatures
// and letters without a decomposition, "Straße" -> "strasse", "Œ" -> "oe",
// "ø" -> "o", "ł" -> "l", which Fold keeps; and Fold drops the breve of
// Cyrillic "й", which unaccent keeps.)
func TestBrowse_HeadingKeyAgreesWithFold(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "browsekey", "library")
	inTenantTx(t, lib.TenantID, func(tx *gorm.DB) {
		for _, h := range []string{"Cats -- Fiction", "Çats accent", "CATS!", "  Tolkien, J. R. R.  ", "Gödel, Escher, Bach",
			"Re\u0301sume\u0301s", "São Paulo (Brazil) -- History -- 20th century", "Dostoevsky, Fyodor, 1821-1881",
			"Пушкин, Александр Сергеевич", "Фёдор", "Ελληνική γλώσσα", "Éducation -- Québec (Province)", "", "--"} {
			var key string
			if err := tx.Raw(`SELECT app.heading_key(?)`, h).Row().Scan(&key); err != nil {
				t.Fatal(err)
			}
			if f := catalog.Fold(h); key != f {
				t.Errorf("heading %q: app.heading_key %q, catalog.Fold %q", h, key, f)
			}
		}
	})
}

type planNode struct {
	NodeType   string     `json:"Node Type"`
	IndexName  string     `json:"Index Name"`
	IndexCond  string     `json:"Index Cond"`
	ActualRows float64    `json:"Actual Rows"`
	Plans      []planNode `json:"Plans"`
}

func (n planNode) walk(f func(planNode)) {
	f(n)
	for _, c := range n.Plans {
		c.walk(f)
	}
}

// Browsing reads the browse index from the start key and stops after the
// page: under row-level security the keyset condition is still an index
// condition (text comparisons are leakproof), and no Sort is needed.
// Planner choices between index and sequential scans depend on statistics
// the application role cannot gather, so those scans are disabled; what is
// tested is that the index can serve the query and stops early.
func TestBrowse_QueryReadsOnlyThePage(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "browseplan", "library")
	inTenantTx(t, lib.TenantID, func(tx *gorm.DB) {
		err := tx.Exec(`INSERT INTO bibs (tenant_id, id, marc, title, title_sort, format, match_key, subjects)
			SELECT ?, gen_random_uuid(), '{}', 't', 't', 'book', 'k', ARRAY['Heading ' || lpad(i::text, 4, '0')]
			FROM generate_series(1, 3000) i`, lib.TenantID).Error
		if err != nil {
			t.Fatal(err)
		}
		tx.Exec(`SET LOCAL enable_seqscan = off`)
		tx.Exec(`SET LOCAL enable_bitmapscan = off`)
		// The query of catalog.Service.Browse (first page form).
		var raw string
		err = tx.Raw(`EXPLAIN (ANALYZE, FORMAT JSON) SELECT sort_key, heading, count(*) AS count FROM bib_headings
			WHERE kind = ? AND (sort_key, heading) >= (app.heading_key(?), '')
			GROUP BY sort_key, heading ORDER BY sort_key, heading LIMIT ?`, "subject", "Heading 2000", 11).Row().Scan(&raw)
		if err != nil {
			t.Fatal(err)
		}
		var plan []struct{ Plan planNode }
		if err := json.Unmarshal([]byte(raw), &plan); err != nil {
			t.Fatal(err)
		}
		var scan *planNode
		plan[0].Plan.walk(func(n planNode) {
			if n.NodeType == "Sort" || n.NodeType == "Seq Scan" {
				t.Errorf("plan has a %s node:\n%s", n.NodeType, raw)
			}
			if n.IndexName == "bib_headings_browse_idx" {
				scan = &n
			}
		})
		if plan[0].Plan.NodeType != "Limit" || scan == nil {
			t.Fatalf("want Limit over a scan of bib_headings_browse_idx:\n%s", raw)
		}
		if !strings.Contains(scan.IndexCond, "ROW(sort_key, heading) >=") {
			t.Errorf("the keyset condition is not an index condition: %q", scan.IndexCond)
		}
		if scan.ActualRows > 12 {
			t.Errorf("the index scan read %v rows for a page of 11", scan.ActualRows)
		}
	})
}
