package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stacks-ils/stacks/api"
	"github.com/stacks-ils/stacks/api/catalog"
)

func titles(r resp) []string {
	var out []string
	for _, h := range r.Body["results"].([]any) {
		out = append(out, h.(map[string]any)["title"].(string))
	}
	return out
}

func search(t *testing.T, s *api.Server, token, query string) resp {
	t.Helper()
	r := call(t, s, "GET", "/api/v1/search?"+strings.NewReplacer(" ", "+", `"`, "%22").Replace(query), token, nil)
	want(t, r, 200)
	return r
}

func TestSearch_QueriesFacetsAndPaging(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "search", "library")
	east := addBranch(t, s, lib.Token, map[string]any{"name": "East", "code": "EAST"})["id"].(string)
	books := []map[string]any{
		{"title": "Harry Potter and the Philosopher's Stone", "authors": []string{"Rowling, J. K."}, "year": 1997, "language": "eng",
			"subjects": []string{"Wizards -- Fiction", "Magic -- Fiction"}, "isbns": []string{"0747532699"}},
		{"title": "Harry Potter and the Chamber of Secrets", "authors": []string{"Rowling, J. K."}, "year": 1998, "language": "eng",
			"subjects": []string{"Wizards -- Fiction"}},
		{"title": "Gödel, Escher, Bach", "authors": []string{"Hofstadter, Douglas R."}, "year": 1979, "language": "eng",
			"subjects": []string{"Artificial intelligence", "Logic, Symbolic and mathematical"}},
		{"title": "Le Petit Prince", "authors": []string{"Saint-Exupéry, Antoine de"}, "year": 1943, "language": "fre",
			"subjects": []string{"Princes -- Fiction"}, "notes": []string{"A pilot stranded in the desert meets a little prince."}},
		{"title": "Running with scissors", "authors": []string{"Burroughs, Augusten"}, "year": 2002, "language": "eng", "format": "audiobook"},
		{"title": "The Wizard of Oz", "authors": []string{"Baum, L. Frank"}, "year": 1900, "language": "eng", "subjects": []string{"Wizards -- Fiction"}},
	}
	ids := map[string]string{}
	for i, b := range books {
		id := createBib(t, s, lib.Token, b)["id"].(string)
		ids[b["title"].(string)] = id
		branch := lib.MainID
		if i%2 == 1 {
			branch = east
		}
		want(t, call(t, s, "POST", "/api/v1/items", lib.Token, map[string]any{"bib_id": id, "barcode": "S" + string(rune('A'+i)), "branch_id": branch}), 201)
	}
	// One copy of the Chamber of Secrets is out.
	want(t, call(t, s, "POST", "/api/v1/patrons", lib.Token, map[string]any{"card_number": "SEARCH1", "first_name": "Sam",
		"last_name": "Reader", "category": "adult", "home_branch_id": east, "expires_on": "2099-12-31"}), 201)
	want(t, call(t, s, "POST", "/api/v1/circulation/checkout", lib.Token, map[string]any{"patron_card": "SEARCH1",
		"item_barcode": "SB", "branch_id": east}), 201)

	cases := []struct {
		name  string
		q     string
		want  []string // titles that must be present
		not   []string // titles that must be absent
		total int
	}{
		{"keyword", "q=potter", []string{"Harry Potter and the Philosopher's Stone", "Harry Potter and the Chamber of Secrets"}, nil, 2},
		{"stemming", "q=run", []string{"Running with scissors"}, nil, 1},
		{"accent folding", "q=godel", []string{"Gödel, Escher, Bach"}, nil, 1},
		{"phrase", `q="chamber of secrets"`, []string{"Harry Potter and the Chamber of Secrets"}, nil, 1},
		{"field title", "q=title:wizard", []string{"The Wizard of Oz"}, []string{"Harry Potter and the Chamber of Secrets"}, 1},
		{"field subject", "q=subject:wizards", []string{"The Wizard of Oz", "Harry Potter and the Chamber of Secrets"}, nil, 3},
		{"field author", "q=author:rowling", []string{"Harry Potter and the Chamber of Secrets"}, nil, 2},
		{"boolean NOT", "q=wizards NOT potter", []string{"The Wizard of Oz"}, []string{"Harry Potter and the Chamber of Secrets"}, 1},
		{"boolean minus", "q=wizards -potter", []string{"The Wizard of Oz"}, nil, 1},
		{"boolean OR", "q=godel OR scissors", []string{"Gödel, Escher, Bach", "Running with scissors"}, nil, 2},
		{"prefix", "q=philosoph*", []string{"Harry Potter and the Philosopher's Stone"}, nil, 1},
		{"notes", "q=pilot desert", []string{"Le Petit Prince"}, nil, 1},
		{"isbn bare", "q=0-7475-3269-9", []string{"Harry Potter and the Philosopher's Stone"}, nil, 1},
		{"isbn field 13", "q=isbn:9780747532699", []string{"Harry Potter and the Philosopher's Stone"}, nil, 1},
		{"barcode", "q=barcode:SD", []string{"Le Petit Prince"}, nil, 1},
		{"filter format", "q=&filter=format:audiobook", []string{"Running with scissors"}, nil, 1},
		{"filter language", "filter=language:fre", []string{"Le Petit Prince"}, nil, 1},
		{"filter year range", "q=potter&filter=year:1990-1997", []string{"Harry Potter and the Philosopher's Stone"}, nil, 1},
		{"filter branch", "q=potter&filter=branch:" + east, []string{"Harry Potter and the Chamber of Secrets"}, nil, 1},
		{"filter available", "q=potter&filter=availability:available", []string{"Harry Potter and the Philosopher's Stone"}, nil, 1},
		{"typo tolerance", "q=" + url.QueryEscape("harry poter"), []string{"Harry Potter and the Philosopher's Stone"}, nil, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := search(t, s, lib.Token, tc.q)
			got := strings.Join(titles(r), "|")
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in %s", w, got)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("unexpected %q in %s", n, got)
				}
			}
			if int(r.Body["total"].(float64)) != tc.total {
				t.Errorf("total %v, want %d: %s", r.Body["total"], tc.total, got)
			}
		})
	}

	// A typo is corrected against the catalogue's own words, and said so.
	typo := search(t, s, lib.Token, "q="+url.QueryEscape("Harry Poter chamber"))
	if typo.Body["did_you_mean"] != "Harry potter chamber" || typo.Body["fuzzy"] != true || typo.Body["total"].(float64) != 1 {
		t.Fatalf("did you mean: %s", typo.Raw)
	}
	if nothing := search(t, s, lib.Token, "q=zzzzqqqq"); nothing.Body["total"].(float64) != 0 || nothing.Body["fuzzy"] != false {
		t.Fatalf("a query with no near word: %s", nothing.Raw)
	}

	// Facets with counts, and availability per branch on each hit.
	r := search(t, s, lib.Token, "q=wizards&facets=format,language,year,subject,author,branch,availability")
	facets := r.Body["facets"].(map[string]any)
	count := func(facet, value string) float64 {
		for _, v := range facets[facet].([]any) {
			if m := v.(map[string]any); m["value"] == value {
				return m["count"].(float64)
			}
		}
		return -1
	}
	checks := []struct {
		facet, value string
		n            float64
	}{
		{"subject", "Wizards -- Fiction", 3}, {"author", "Rowling, J. K.", 2}, {"format", "book", 3}, {"language", "eng", 3},
		{"year", "1990-1999", 2}, {"year", "1900-1909", 1}, {"branch", east, 2}, {"branch", lib.MainID, 1},
		{"availability", "available", 2}, {"availability", "all", 3},
	}
	for _, c := range checks {
		if got := count(c.facet, c.value); got != c.n {
			t.Errorf("facet %s=%s count %v, want %v (%v)", c.facet, c.value, got, c.n, facets[c.facet])
		}
	}
	for _, h := range r.Body["results"].([]any) {
		hit := h.(map[string]any)
		av := hit["availability"].(map[string]any)
		if hit["id"] == ids["Harry Potter and the Chamber of Secrets"] && (av["copies"] != float64(1) || av["available"] != float64(0) || len(av["by_branch"].([]any)) != 1) {
			t.Errorf("availability of the checked-out book: %v", av)
		}
	}

	// Keyset paging by title visits every record once, in title order.
	var seen []string
	q := "sort=title&limit=4"
	for page := 0; page < 5; page++ {
		r := search(t, s, lib.Token, q)
		seen = append(seen, titles(r)...)
		next, ok := r.Body["next_cursor"].(string)
		if !ok {
			break
		}
		q = "sort=title&limit=4&cursor=" + next
	}
	if len(seen) != len(books) || seen[0] != "Gödel, Escher, Bach" || seen[len(seen)-1] != "The Wizard of Oz" {
		t.Fatalf("title paging: %v", seen)
	}
	// Relevance paging too.
	p1 := search(t, s, lib.Token, "q=wizards&limit=2")
	next := p1.Body["next_cursor"].(string)
	p2 := search(t, s, lib.Token, "q=wizards&limit=2&cursor="+next)
	all := append(titles(p1), titles(p2)...)
	if len(all) != 3 || all[0] == all[2] || all[1] == all[2] {
		t.Fatalf("relevance paging: %v", all)
	}
	// Bad input is a 400 that says what is wrong.
	want(t, call(t, s, "GET", "/api/v1/search?q=x&filter=colour:red", lib.Token, nil), 400, "bad_filter")
	want(t, call(t, s, "GET", "/api/v1/search?q=x&facets=colour", lib.Token, nil), 400, "bad_facet")
	want(t, call(t, s, "GET", "/api/v1/search?q=x&sort=random", lib.Token, nil), 400, "bad_sort")
	want(t, call(t, s, "GET", "/api/v1/search?q=x&cursor=zzz", lib.Token, nil), 400, "bad_cursor")
	want(t, call(t, s, "GET", "/api/v1/search?q=((((", lib.Token, nil), 200)
}

// Past the search cap, totals are estimates and say so; relevance paging
// still visits each ranked record once: with candidates from the index,
// and from the walk a large catalogue uses for dense queries (ProbeCatalogue
// 1 makes every catalogue large).
func TestSearch_CapMarksTotalsInexact(t *testing.T) {
	for _, tc := range []struct {
		name  string
		probe int
	}{{"index", 0}, {"walk", 1}} {
		t.Run(tc.name, func(t *testing.T) { testSearchCap(t, tc.probe) })
	}
}

func testSearchCap(t *testing.T, probe int) {
	s := newServerWithCatalog(t, func(c *catalog.Service) { c.SearchCap, c.ProbeCatalogue = 4, probe })
	lib := signup(t, s, fmt.Sprintf("searchcap%d", probe), "library")
	for i := 0; i < 7; i++ {
		createBib(t, s, lib.Token, map[string]any{"title": fmt.Sprintf("Common ground volume %d", i)})
	}
	createBib(t, s, lib.Token, map[string]any{"title": "Rare bird"})
	r := search(t, s, lib.Token, "q=common&facets=format")
	if r.Body["total_exact"] != false || r.Body["total"].(float64) < 5 {
		t.Fatalf("capped search: total %v exact %v", r.Body["total"], r.Body["total_exact"])
	}
	exact := search(t, s, lib.Token, "q=rare&facets=format")
	if exact.Body["total_exact"] != true || exact.Body["total"].(float64) != 1 {
		t.Fatalf("small search: %s", exact.Raw)
	}
	seen := map[string]bool{}
	q := "q=common&limit=3"
	for page := 0; page < 4; page++ {
		p := search(t, s, lib.Token, q)
		for _, h := range p.Body["results"].([]any) {
			id := h.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("record %s on two pages", id)
			}
			seen[id] = true
		}
		next, ok := p.Body["next_cursor"].(string)
		if !ok {
			break
		}
		q = "q=common&limit=3&cursor=" + next
	}
	if len(seen) != 4 {
		t.Fatalf("relevance paging saw %d records, want the 4 the cap ranks", len(seen))
	}
	// Title order is not capped: it walks the index.
	all := search(t, s, lib.Token, "q=common&sort=title&limit=10")
	if len(all.Body["results"].([]any)) != 7 {
		t.Fatalf("title-sorted search returned %d of 7", len(all.Body["results"].([]any)))
	}
}
