package api_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/stacks-ils/stacks/api"
	"github.com/stacks-ils/stacks/api/catalog/marc"
)

const isoISBN = "9780306406157"

// isoRecord is one small MARC record in ISO 2709.
func isoRecord() []byte {
	b, err := marc.Marshal(&marc.Record{Leader: "00000nam a2200000 a 4500", Fields: []marc.Field{
		{Tag: "245", Ind1: '0', Ind2: '0', Subfields: []marc.Subfield{{Code: 'a', Value: "Isolation import"}}}}})
	if err != nil {
		panic(err)
	}
	return b
}

// fixture is the data of the victim tenant B that tenant A's owner probes.
type fixture struct {
	B         library
	BranchID  string // a branch of B (not the root)
	StaffID   string
	APIKeyID  string
	BibID     string
	ItemID    string
	Barcode   string
	JobID     string
	BIDs      []string // every id of B the suite created or knows
	BSnapshot map[string]string
}

// isolationCase says how A's owner probes one route with B's ids.
// Every mounted route must have a case (TestIsolationTableCoversEveryRoute):
// when you add a route, add its row here.
type isolationCase struct {
	Method, Path string
	// URL builds the request path with B's ids; nil means Path as is.
	URL func(f *fixture) string
	// Body builds the request body (it may reference B's ids).
	Body func(f *fixture) any
	// Status and Code are what A must get; 0 means "check the body".
	Status int
	Code   string
	// NotScoped explains routes that take no tenant ids at all.
	NotScoped string
}

func isolationTable() []isolationCase {
	id := func(path string, pick func(f *fixture) string) func(f *fixture) string {
		return func(f *fixture) string { return strings.Replace(path, ":id", pick(f), 1) }
	}
	branch := func(f *fixture) string { return f.BranchID }
	staff := func(f *fixture) string { return f.StaffID }
	key := func(f *fixture) string { return f.APIKeyID }
	bib := func(f *fixture) string { return f.BibID }
	item := func(f *fixture) string { return f.ItemID }
	return []isolationCase{
		{Method: "GET", Path: "/healthz", NotScoped: "process health"},
		{Method: "GET", Path: "/readyz", NotScoped: "dependency health"},
		{Method: "GET", Path: "/metrics", NotScoped: "operator metrics, no tenant data"},
		{Method: "GET", Path: "/api/openapi.json", NotScoped: "static document"},
		{Method: "POST", Path: "/api/v1/signup", NotScoped: "creates a new tenant"},
		{Method: "POST", Path: "/api/v1/auth/login", NotScoped: "B's credentials are tested in TestLogin_TokenOfOneTenantIsUselessForAnother"},
		{Method: "POST", Path: "/api/v1/auth/logout", NotScoped: "acts on the caller's own session"},
		{Method: "GET", Path: "/api/v1/me"}, // list-style: body must not mention B
		{Method: "GET", Path: "/api/v1/tenant"},
		// Only ever A's own row: the body names no tenant id, and B's snapshot must not change.
		{Method: "PATCH", Path: "/api/v1/tenant", Body: func(*fixture) any { return map[string]any{"name": "A renamed"} }},

		{Method: "GET", Path: "/api/v1/branches"},
		{Method: "GET", Path: "/api/v1/branches", URL: func(f *fixture) string { return "/api/v1/branches?parent_id=" + f.B.RootID }},
		{Method: "POST", Path: "/api/v1/branches", Body: func(f *fixture) any {
			return map[string]any{"name": "x", "code": "XB", "parent_id": f.B.RootID}
		}, Status: 422, Code: "invalid_parent"},
		{Method: "GET", Path: "/api/v1/branches/:id", URL: id("/api/v1/branches/:id", branch), Status: 404},
		{Method: "PATCH", Path: "/api/v1/branches/:id", URL: id("/api/v1/branches/:id", branch),
			Body: func(*fixture) any { return map[string]any{"name": "pwned"} }, Status: 404},
		{Method: "DELETE", Path: "/api/v1/branches/:id", URL: id("/api/v1/branches/:id", branch), Status: 404},

		{Method: "GET", Path: "/api/v1/staff"},
		{Method: "POST", Path: "/api/v1/staff", Body: func(f *fixture) any {
			return map[string]any{"email": "spy@a.example.org", "password": "long enough pw 1",
				"roles": []map[string]any{{"role": "admin", "branch_id": f.B.RootID}}}
		}, Status: 422, Code: "invalid_branch"},
		{Method: "GET", Path: "/api/v1/staff/:id", URL: id("/api/v1/staff/:id", staff), Status: 404},
		{Method: "PATCH", Path: "/api/v1/staff/:id", URL: id("/api/v1/staff/:id", staff),
			Body: func(*fixture) any { return map[string]any{"status": "disabled"} }, Status: 404},
		{Method: "DELETE", Path: "/api/v1/staff/:id", URL: id("/api/v1/staff/:id", staff), Status: 404},

		{Method: "GET", Path: "/api/v1/api-keys"},
		{Method: "POST", Path: "/api/v1/api-keys", Body: func(f *fixture) any {
			return map[string]any{"name": "spy", "role": "readonly", "branch_id": f.B.MainID}
		}, Status: 422, Code: "invalid_branch"},
		{Method: "DELETE", Path: "/api/v1/api-keys/:id", URL: id("/api/v1/api-keys/:id", key), Status: 404},

		{Method: "GET", Path: "/api/v1/bibs"},
		// Duplicate detection must not see B's record with the same ISBN.
		{Method: "POST", Path: "/api/v1/bibs", Body: func(f *fixture) any {
			return map[string]any{"title": "A's own copy", "isbns": []string{isoISBN}}
		}, Status: 201},
		{Method: "GET", Path: "/api/v1/bibs/:id", URL: id("/api/v1/bibs/:id", bib), Status: 404},
		{Method: "PUT", Path: "/api/v1/bibs/:id", URL: id("/api/v1/bibs/:id", bib),
			Body: func(*fixture) any { return map[string]any{"title": "pwned"} }, Status: 404},
		{Method: "DELETE", Path: "/api/v1/bibs/:id", URL: id("/api/v1/bibs/:id", bib), Status: 404},
		{Method: "POST", Path: "/api/v1/bibs/:id/items", URL: id("/api/v1/bibs/:id/items", bib),
			Body: func(f *fixture) any { return map[string]any{"items": []map[string]any{{"barcode": "A-X1"}}} }, Status: 404},
		{Method: "GET", Path: "/api/v1/items"},
		{Method: "GET", Path: "/api/v1/items", URL: func(f *fixture) string { return "/api/v1/items?barcode=" + f.Barcode }},
		{Method: "POST", Path: "/api/v1/items", Body: func(f *fixture) any {
			return map[string]any{"bib_id": f.BibID, "barcode": "A-X2", "branch_id": f.B.MainID}
		}, Status: 422, Code: "invalid_bib"},
		{Method: "GET", Path: "/api/v1/items/:id", URL: id("/api/v1/items/:id", item), Status: 404},
		{Method: "PATCH", Path: "/api/v1/items/:id", URL: id("/api/v1/items/:id", item),
			Body: func(*fixture) any { return map[string]any{"status": "lost"} }, Status: 404},
		{Method: "GET", Path: "/api/v1/search", URL: func(f *fixture) string { return "/api/v1/search?q=zyzzyvaisolation&facets=format,branch" }},
		{Method: "GET", Path: "/api/v1/search", URL: func(f *fixture) string { return "/api/v1/search?q=barcode:" + f.Barcode }},
		{Method: "GET", Path: "/api/v1/search", URL: func(f *fixture) string { return "/api/v1/search?q=isbn:" + isoISBN + "&facets=author,subject" }},
		{Method: "GET", Path: "/api/v1/browse", URL: func(f *fixture) string { return "/api/v1/browse?index=subject&from=isolation" }},
		// An import into A that names B's branch as the default for items.
		{Method: "POST", Path: "/api/v1/imports/marc", URL: func(f *fixture) string { return "/api/v1/imports/marc?items_from=852&branch_id=" + f.B.MainID },
			Body: func(f *fixture) any { return rawBody{ContentType: "application/marc", Data: isoRecord()} }, Status: 422, Code: "invalid_branch"},
		{Method: "GET", Path: "/api/v1/jobs/:id", URL: id("/api/v1/jobs/:id", func(f *fixture) string { return f.JobID }), Status: 404},
		// A's export carries 001 = bib id: any B record in it would show B's id.
		{Method: "GET", Path: "/api/v1/exports/marc", URL: func(*fixture) string { return "/api/v1/exports/marc?format=marcxml&items=852" }},
	}
}

func TestIsolationTableCoversEveryRoute(t *testing.T) {
	s := newServer(t, api.Config{})
	covered := map[string]bool{}
	for _, c := range isolationTable() {
		covered[c.Method+" "+c.Path] = true
	}
	var missing []string
	for _, r := range s.Routes() {
		if !covered[r.Method+" "+r.Path] {
			missing = append(missing, r.Method+" "+r.Path)
		}
	}
	// Fiber's own route table too: nothing mounted behind the registry's back.
	for _, r := range s.App.GetRoutes(true) {
		if r.Method != "HEAD" && !covered[r.Method+" "+r.Path] {
			missing = append(missing, r.Method+" "+r.Path)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Fatalf("routes without a row in isolationTable (add one):\n%s", strings.Join(missing, "\n"))
	}
}

// snapshot reads B's resources through B's own token.
func snapshot(t *testing.T, s *api.Server, f *fixture) map[string]string {
	out := map[string]string{}
	for _, p := range []string{"/api/v1/branches/" + f.BranchID, "/api/v1/staff/" + f.StaffID, "/api/v1/branches",
		"/api/v1/staff", "/api/v1/api-keys", "/api/v1/bibs/" + f.BibID, "/api/v1/items/" + f.ItemID, "/api/v1/search?q=zyzzyvaisolation"} {
		r := call(t, s, "GET", p, f.B.Token, nil)
		want(t, r, 200)
		out[p] = string(r.Raw)
	}
	return out
}

func TestIsolation_TenantACannotReachTenantB(t *testing.T) {
	s := newServer(t, api.Config{})
	a := signup(t, s, "iso-a", "consortium")
	b := signup(t, s, "iso-b", "consortium")
	f := &fixture{B: b}
	f.BranchID = addBranch(t, s, b.Token, map[string]any{"name": "B east", "code": "BEAST", "parent_id": b.RootID, "kind": "branch"})["id"].(string)
	f.StaffID, _ = addStaff(t, s, b, "clerk@"+b.Slug+".example.org", "circulation", f.BranchID)
	k := call(t, s, "POST", "/api/v1/api-keys", b.Token, map[string]any{"name": "b key", "role": "readonly", "branch_id": b.RootID})
	want(t, k, 201)
	f.APIKeyID = k.Body["id"].(string)
	bibR := call(t, s, "POST", "/api/v1/bibs", b.Token, map[string]any{"title": "Zyzzyvaisolation secrets",
		"authors": []string{"Bee, Tenant"}, "isbns": []string{isoISBN}, "subjects": []string{"Isolation"}})
	want(t, bibR, 201)
	f.BibID = bibR.Body["id"].(string)
	f.Barcode = "B-" + b.Slug
	itemR := call(t, s, "POST", "/api/v1/items", b.Token, map[string]any{"bib_id": f.BibID, "barcode": f.Barcode, "branch_id": f.BranchID})
	want(t, itemR, 201)
	f.ItemID = itemR.Body["id"].(string)
	jobR := call(t, s, "POST", "/api/v1/imports/marc", b.Token, rawBody{ContentType: "application/marc", Data: isoRecord()})
	want(t, jobR, 202)
	f.JobID = jobR.Body["job_id"].(string)
	f.BIDs = []string{b.TenantID, b.OwnerID, b.RootID, b.MainID, f.BranchID, f.StaffID, f.APIKeyID, f.BibID, f.ItemID, f.JobID}
	before := snapshot(t, s, f)

	for _, c := range isolationTable() {
		if c.NotScoped != "" {
			continue
		}
		url := c.Path
		if c.URL != nil {
			url = c.URL(f)
		}
		var body any
		if c.Body != nil {
			body = c.Body(f)
		}
		t.Run(c.Method+" "+url, func(t *testing.T) {
			r := call(t, s, c.Method, url, a.Token, body)
			if c.Status != 0 {
				want(t, r, c.Status, c.Code)
			} else if r.Status != 200 {
				t.Fatalf("status %d: %s", r.Status, r.Raw)
			}
			for _, id := range f.BIDs {
				if strings.Contains(string(r.Raw), id) {
					t.Fatalf("response mentions tenant B's id %s: %s", id, r.Raw)
				}
			}
		})
	}
	// Nothing of B changed, and B still works.
	after := snapshot(t, s, f)
	for p, v := range before {
		if after[p] != v {
			t.Errorf("B's %s changed during the probe:\nbefore %s\nafter  %s", p, v, after[p])
		}
	}
}
