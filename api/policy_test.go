package api_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api"
	"github.com/stacks-ils/stacks/api/circulation/policy"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

func polUSD(amount int64) map[string]any { return map[string]any{"amount": amount, "currency": "USD"} }

// addRule creates a rule (loan_days 14 unless the body says otherwise) and returns its id.
func polAddRule(t *testing.T, s *api.Server, token string, body map[string]any) string {
	t.Helper()
	if _, ok := body["loan_days"]; !ok {
		if _, ok := body["loan_hours"]; !ok {
			body["loan_days"] = 14
		}
	}
	r := call(t, s, "POST", "/api/v1/circulation/rules", token, body)
	want(t, r, 201)
	return r.Body["id"].(string)
}

func polIDs(t *testing.T, r resp) []string {
	t.Helper()
	var ids []string
	for _, it := range r.Body["items"].([]any) {
		m := it.(map[string]any)
		if id, ok := m["id"].(string); ok {
			ids = append(ids, id)
		} else {
			ids = append(ids, m["code"].(string))
		}
	}
	return ids
}

// fallbackRule returns the id of the rule the library was created with.
func polFallback(t *testing.T, s *api.Server, lib library) string {
	t.Helper()
	r := call(t, s, "GET", "/api/v1/circulation/rules", lib.Token, nil)
	want(t, r, 200)
	for _, it := range r.Body["items"].([]any) {
		m := it.(map[string]any)
		if m["branch_id"] == nil && m["patron_category"] == nil && m["item_type"] == nil {
			return m["id"].(string)
		}
	}
	t.Fatalf("no fallback rule: %s", r.Raw)
	return ""
}

func TestItemTypes_DefaultsAndCRUD(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "itypes", "library")

	r := call(t, s, "GET", "/api/v1/item-types", lib.Token, nil)
	want(t, r, 200)
	if got := polIDs(t, r); !slices.Equal(got, []string{"book", "dvd", "magazine", "reference"}) {
		t.Fatalf("default item types %v", got)
	}
	ref := call(t, s, "GET", "/api/v1/item-types/reference", lib.Token, nil)
	want(t, ref, 200)
	if ref.Body["loanable"] != false || ref.Body["replacement_cost"] != nil {
		t.Fatalf("reference: %s", ref.Raw)
	}

	c := call(t, s, "POST", "/api/v1/item-types", lib.Token, map[string]any{"code": "Ebook", "name": "E-book", "replacement_cost": polUSD(2500)})
	want(t, c, 201)
	if c.Body["code"] != "ebook" || c.Body["loanable"] != true || c.Body["replacement_cost"].(map[string]any)["amount"] != float64(2500) {
		t.Fatalf("created: %s", c.Raw)
	}
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"code taken", "POST", "/api/v1/item-types", map[string]any{"code": "dvd", "name": "Again"}, 409, "item_type_code_taken"},
		{"bad code", "POST", "/api/v1/item-types", map[string]any{"code": "no spaces", "name": "X"}, 422, "invalid_code"},
		{"no name", "POST", "/api/v1/item-types", map[string]any{"code": "x"}, 422, "required"},
		{"other currency", "POST", "/api/v1/item-types", map[string]any{"code": "x", "name": "X", "replacement_cost": map[string]any{"amount": 1, "currency": "EUR"}}, 422, "currency_mismatch"},
		{"negative cost", "PATCH", "/api/v1/item-types/ebook", map[string]any{"replacement_cost": polUSD(-1)}, 422, "invalid_amount"},
		{"unknown field in money", "PATCH", "/api/v1/item-types/ebook", map[string]any{"replacement_cost": map[string]any{"amount": 1, "currency": "USD", "x": 1}}, 400, "unknown_field"},
		{"code cannot change", "PATCH", "/api/v1/item-types/ebook", map[string]any{"code": "ebook2"}, 422, "code_immutable"},
		{"unknown type", "GET", "/api/v1/item-types/nope", nil, 404, "not_found"},
		{"unknown type patch", "PATCH", "/api/v1/item-types/nope", map[string]any{"name": "N"}, 404, "not_found"},
		{"unknown type delete", "DELETE", "/api/v1/item-types/nope", nil, 404, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want(t, call(t, s, tc.method, tc.path, lib.Token, tc.body), tc.status, tc.code)
		})
	}

	p := call(t, s, "PATCH", "/api/v1/item-types/ebook", lib.Token, map[string]any{"name": "Electronic book", "loanable": false, "replacement_cost": nil})
	want(t, p, 200)
	if p.Body["name"] != "Electronic book" || p.Body["loanable"] != false || p.Body["replacement_cost"] != nil {
		t.Fatalf("patched: %s", p.Raw)
	}

	// A type rules name cannot go; once the rule is gone it can.
	rule := polAddRule(t, s, lib.Token, map[string]any{"item_type": "ebook"})
	d := call(t, s, "DELETE", "/api/v1/item-types/ebook", lib.Token, nil)
	want(t, d, 409, "item_type_in_use")
	want(t, call(t, s, "DELETE", "/api/v1/circulation/rules/"+rule, lib.Token, nil), 204)
	want(t, call(t, s, "DELETE", "/api/v1/item-types/ebook", lib.Token, nil), 204)
	want(t, call(t, s, "GET", "/api/v1/item-types/ebook", lib.Token, nil), 404)

	// Reading needs catalog.read (everyone); writing circulation.rules.
	_, desk := addStaff(t, s, lib, "desk@"+lib.Slug+".example.org", "circulation", lib.MainID)
	want(t, call(t, s, "GET", "/api/v1/item-types", desk, nil), 200)
	want(t, call(t, s, "POST", "/api/v1/item-types", desk, map[string]any{"code": "x", "name": "X"}), 403)
}

func TestRules_CRUDAndErrors(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "rules", "library")

	// A new library has one fallback rule: 21 days, 3 renewals, no fines.
	l := call(t, s, "GET", "/api/v1/circulation/rules", lib.Token, nil)
	want(t, l, 200)
	if n := len(l.Body["items"].([]any)); n != 1 {
		t.Fatalf("want the fallback rule only: %s", l.Raw)
	}
	fb := l.Body["items"].([]any)[0].(map[string]any)
	if fb["loan_days"] != float64(21) || fb["renewals"] != float64(3) || fb["fine_per_day"] != nil || fb["processing_fee"] != nil {
		t.Fatalf("fallback: %v", fb)
	}

	body := map[string]any{"branch_id": nil, "patron_category": nil, "item_type": "dvd", "loan_days": 7, "loan_hours": nil,
		"max_loans": 10, "renewals": 2, "renewal_days": nil, "no_renewal_before_days": nil, "fine_per_day": polUSD(100),
		"fine_per_hour": nil, "grace_days": 0, "max_fine": polUSD(1000), "processing_fee": polUSD(500), "holds_allowed": true,
		"max_holds": 5, "hold_shelf_days": 7, "auto_renew": false, "notes": ""}
	c := call(t, s, "POST", "/api/v1/circulation/rules", lib.Token, body)
	want(t, c, 201)
	id := c.Body["id"].(string)
	if c.Body["item_type"] != "dvd" || c.Body["fine_per_day"].(map[string]any)["amount"] != float64(100) ||
		c.Body["max_fine"].(map[string]any)["currency"] != "USD" || c.Body["processing_fee"].(map[string]any)["amount"] != float64(500) ||
		c.Body["fine_per_hour"] != nil || c.Body["max_holds"] != float64(5) {
		t.Fatalf("created: %s", c.Raw)
	}

	with := func(changes map[string]any) map[string]any {
		b := map[string]any{"loan_days": 14}
		for k, v := range changes {
			b[k] = v
		}
		return b
	}
	other := uuid.New().String()
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"both loan periods", "POST", "/api/v1/circulation/rules", with(map[string]any{"item_type": "book", "loan_hours": 4}), 422, "invalid_loan_period"},
		{"no loan period", "POST", "/api/v1/circulation/rules", map[string]any{"item_type": "book"}, 422, "invalid_loan_period"},
		{"zero days", "POST", "/api/v1/circulation/rules", with(map[string]any{"item_type": "book", "loan_days": 0}), 422, "invalid_loan_period"},
		{"both fines", "POST", "/api/v1/circulation/rules", with(map[string]any{"item_type": "book", "fine_per_day": polUSD(1), "fine_per_hour": polUSD(1)}), 422, "invalid_fine"},
		{"other currency", "POST", "/api/v1/circulation/rules", with(map[string]any{"item_type": "book", "fine_per_day": map[string]any{"amount": 1, "currency": "EUR"}}), 422, "currency_mismatch"},
		{"unknown branch", "POST", "/api/v1/circulation/rules", with(map[string]any{"branch_id": other}), 422, "invalid_branch"},
		{"unknown category", "POST", "/api/v1/circulation/rules", with(map[string]any{"patron_category": "senior"}), 422, "unknown_category"},
		{"unknown item type", "POST", "/api/v1/circulation/rules", with(map[string]any{"item_type": "vinyl"}), 422, "unknown_item_type"},
		{"negative renewals", "POST", "/api/v1/circulation/rules", with(map[string]any{"item_type": "book", "renewals": -1}), 422, "invalid_renewals"},
		{"zero shelf days", "POST", "/api/v1/circulation/rules", with(map[string]any{"item_type": "book", "hold_shelf_days": 0}), 422, "invalid_hold_shelf_days"},
		{"fallback exists", "POST", "/api/v1/circulation/rules", with(nil), 409, "rule_exists"},
		{"unknown field", "POST", "/api/v1/circulation/rules", with(map[string]any{"loan_weeks": 2}), 400, "unknown_field"},
		{"wrong type", "POST", "/api/v1/circulation/rules", with(map[string]any{"renewals": "two"}), 400, "wrong_type"},
		{"no such rule", "GET", "/api/v1/circulation/rules/" + other, nil, 404, "not_found"},
		{"malformed id", "GET", "/api/v1/circulation/rules/nope", nil, 404, "not_found"},
		{"patch missing", "PATCH", "/api/v1/circulation/rules/" + other, map[string]any{"renewals": 1}, 404, "not_found"},
		{"delete missing", "DELETE", "/api/v1/circulation/rules/" + other, nil, 404, "not_found"},
		{"patch to both periods", "PATCH", "/api/v1/circulation/rules/" + id, map[string]any{"loan_days": 7, "loan_hours": 4}, 422, "invalid_loan_period"},
		{"patch to nothing", "PATCH", "/api/v1/circulation/rules/" + id, map[string]any{"loan_days": nil}, 422, "invalid_loan_period"},
		{"patch onto the fallback's keys", "PATCH", "/api/v1/circulation/rules/" + id, map[string]any{"item_type": nil}, 409, "rule_exists"},
		{"bad filter", "GET", "/api/v1/circulation/rules?branch_id=x", nil, 400, "bad_query"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want(t, call(t, s, tc.method, tc.path, lib.Token, tc.body), tc.status, tc.code)
		})
	}
	dup := call(t, s, "POST", "/api/v1/circulation/rules", lib.Token, map[string]any{"item_type": "DVD", "loan_days": 3})
	want(t, dup, 409, "rule_exists")
	if dup.Body["error"].(map[string]any)["details"].(map[string]any)["rule_id"] != id {
		t.Fatalf("rule_exists names the existing rule: %s", dup.Raw)
	}

	// PATCH: loan_hours replaces loan_days, fine_per_hour replaces fine_per_day, null clears.
	p := call(t, s, "PATCH", "/api/v1/circulation/rules/"+id, lib.Token, map[string]any{
		"loan_hours": 4, "fine_per_hour": polUSD(25), "max_fine": nil, "patron_category": "child", "branch_id": lib.MainID})
	want(t, p, 200)
	if p.Body["loan_days"] != nil || p.Body["loan_hours"] != float64(4) || p.Body["fine_per_day"] != nil ||
		p.Body["fine_per_hour"].(map[string]any)["amount"] != float64(25) || p.Body["max_fine"] != nil ||
		p.Body["patron_category"] != "child" || p.Body["branch_id"] != lib.MainID || p.Body["renewals"] != float64(2) {
		t.Fatalf("patched: %s", p.Raw)
	}
	g := call(t, s, "GET", "/api/v1/circulation/rules/"+id, lib.Token, nil)
	want(t, g, 200)
	if g.Body["fine_per_hour"] == nil || g.Body["loan_hours"] != float64(4) {
		t.Fatalf("read back: %s", g.Raw)
	}
	f := call(t, s, "GET", "/api/v1/circulation/rules?item_type=dvd&patron_category=child&branch_id="+lib.MainID, lib.Token, nil)
	want(t, f, 200)
	if ids := polIDs(t, f); !slices.Equal(ids, []string{id}) {
		t.Fatalf("filtered: %s", f.Raw)
	}
	pg := call(t, s, "GET", "/api/v1/circulation/rules?limit=1", lib.Token, nil)
	want(t, pg, 200)
	if len(pg.Body["items"].([]any)) != 1 || pg.Body["next_cursor"] == nil {
		t.Fatalf("page: %s", pg.Raw)
	}

	// Permissions: read with patrons.read (viewer), write with circulation.rules
	// at the rule's scope.
	_, viewer := addStaff(t, s, lib, "viewer@"+lib.Slug+".example.org", "readonly", lib.RootID)
	want(t, call(t, s, "GET", "/api/v1/circulation/rules/"+id, viewer, nil), 200)
	want(t, call(t, s, "POST", "/api/v1/circulation/rules", viewer, map[string]any{"item_type": "book", "loan_days": 3}), 403)
	want(t, call(t, s, "DELETE", "/api/v1/circulation/rules/"+id, viewer, nil), 403)
	east := addBranch(t, s, lib.Token, map[string]any{"name": "East", "code": "EAST"})["id"].(string)
	_, eastAdmin := addStaff(t, s, lib, "admin@east."+lib.Slug+".example.org", "admin", east)
	want(t, call(t, s, "POST", "/api/v1/circulation/rules", eastAdmin, map[string]any{"item_type": "book", "loan_days": 3}), 403)
	want(t, call(t, s, "PATCH", "/api/v1/circulation/rules/"+id, eastAdmin, map[string]any{"renewals": 0}), 403)
	want(t, call(t, s, "POST", "/api/v1/circulation/rules", eastAdmin, map[string]any{"branch_id": east, "item_type": "book", "loan_days": 3}), 201)

	want(t, call(t, s, "DELETE", "/api/v1/circulation/rules/"+id, lib.Token, nil), 204)
	want(t, call(t, s, "GET", "/api/v1/circulation/rules/"+id, lib.Token, nil), 404)
	// Even the fallback may go; lint then reports uncovered combinations.
	want(t, call(t, s, "DELETE", "/api/v1/circulation/rules/"+polFallback(t, s, lib), lib.Token, nil), 204)
}

// policyTx runs fn in a tenant transaction of lib with a policy service.
func polTx(t *testing.T, lib library, fn func(ctx context.Context, svc *policy.Service) error) {
	t.Helper()
	env := tenanttest.Get(t)
	svc := policy.NewService(env.Tenants)
	err := env.Pool.Tx(context.Background(), uuid.MustParse(lib.TenantID), func(ctx context.Context, _ *gorm.DB) error {
		return fn(ctx, svc)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRules_ResolvePrecedence(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "prec", "consortium")
	// root (consortium) > north (library) > north-main (branch); root > south (library)
	north := addBranch(t, s, lib.Token, map[string]any{"name": "North", "code": "NORTH"})["id"].(string)
	northMain := addBranch(t, s, lib.Token, map[string]any{"name": "North Main", "code": "N-MAIN", "parent_id": north})["id"].(string)
	south := addBranch(t, s, lib.Token, map[string]any{"name": "South", "code": "SOUTH"})["id"].(string)

	rules := map[string]string{"fallback": polFallback(t, s, lib)}
	rules["north 28d"] = polAddRule(t, s, lib.Token, map[string]any{"branch_id": north, "loan_days": 28})
	rules["north-main 14d"] = polAddRule(t, s, lib.Token, map[string]any{"branch_id": northMain, "loan_days": 14})
	rules["dvd 7d"] = polAddRule(t, s, lib.Token, map[string]any{"item_type": "dvd", "loan_days": 7})
	rules["child 10d"] = polAddRule(t, s, lib.Token, map[string]any{"patron_category": "child", "loan_days": 10})
	rules["child dvd 3d"] = polAddRule(t, s, lib.Token, map[string]any{"patron_category": "child", "item_type": "dvd", "loan_days": 3})
	rules["north magazine 2d"] = polAddRule(t, s, lib.Token, map[string]any{"branch_id": north, "item_type": "magazine", "loan_days": 2})
	rules["north-main magazine 1d"] = polAddRule(t, s, lib.Token, map[string]any{"branch_id": northMain, "item_type": "magazine", "loan_days": 1})
	names := map[string]string{}
	for n, id := range rules {
		names[id] = n
	}

	cases := []struct {
		branch, category, itemType string
		want                       string
	}{
		{south, "adult", "book", "fallback"},
		{north, "adult", "book", "north 28d"},
		{northMain, "adult", "book", "north-main 14d"}, // deeper branch wins the tie
		{northMain, "adult", "dvd", "dvd 7d"},          // item type (4) beats branch (1)
		{northMain, "child", "book", "child 10d"},      // category (2) beats branch (1)
		{northMain, "child", "dvd", "child dvd 3d"},    // 6 beats everything
		{south, "child", "dvd", "child dvd 3d"},
		{south, "adult", "magazine", "fallback"},
		{north, "adult", "magazine", "north magazine 2d"},
		{northMain, "child", "magazine", "north-main magazine 1d"}, // 5 beats child (2); deeper beats north's 5
		{northMain, "adult", "unlisted-type", "north-main 14d"},
	}
	polTx(t, lib, func(ctx context.Context, svc *policy.Service) error {
		for _, tc := range cases {
			subj := policy.Subject{BranchID: uuid.MustParse(tc.branch), PatronCategory: tc.category, ItemType: tc.itemType}
			r, err := svc.Resolve(ctx, subj)
			if err != nil {
				t.Fatalf("%+v: %v", tc, err)
			}
			if names[r.ID.String()] != tc.want {
				t.Errorf("%s/%s at %s: won %q, want %q", tc.category, tc.itemType, tc.branch, names[r.ID.String()], tc.want)
			}
			ex, err := svc.Explain(ctx, subj)
			if err != nil {
				t.Fatal(err)
			}
			if ex.Rule == nil || ex.Rule.ID != r.ID {
				t.Errorf("%+v: Explain picked %v, Resolve %s", tc, ex.Rule, r.ID)
			}
			if n := len(ex.Candidates) + len(ex.NotMatching); n != len(rules) {
				t.Errorf("%+v: Explain lists %d rules, want %d", tc, n, len(rules))
			}
			for i, c := range ex.Candidates {
				if c.Won != (i == 0) || c.Why == "" {
					t.Errorf("candidate %d: %+v", i, c)
				}
			}
			for _, nm := range ex.NotMatching {
				if nm.Why == "" {
					t.Errorf("not matching without why: %+v", nm)
				}
			}
		}
		// The explanation says why in words.
		ex, err := svc.Explain(ctx, policy.Subject{BranchID: uuid.MustParse(northMain), PatronCategory: "adult", ItemType: "dvd"})
		if err != nil {
			return err
		}
		why := map[string]string{}
		for _, c := range ex.Candidates {
			why[names[c.Rule.ID.String()]] = c.Why
		}
		for _, nm := range ex.NotMatching {
			why[names[nm.RuleID.String()]] = nm.Why
		}
		if w := why["north-main 14d"]; !strings.Contains(w, "item type dvd (4) is more specific than branch N-MAIN (1)") {
			t.Errorf("why north-main lost: %q", w)
		}
		if w := why["north 28d"]; !strings.Contains(w, "beaten by rule "+rules["dvd 7d"]) {
			t.Errorf("why north lost: %q", w)
		}
		if w := why["child dvd 3d"]; w != "patron category is adult, rule wants child" {
			t.Errorf("why child dvd does not match: %q", w)
		}
		if w := why["north magazine 2d"]; w != "item type is dvd, rule wants magazine" {
			t.Errorf("why magazine does not match: %q", w)
		}
		exS, err := svc.Explain(ctx, policy.Subject{BranchID: uuid.MustParse(south), PatronCategory: "adult", ItemType: "book"})
		if err != nil {
			return err
		}
		for _, nm := range exS.NotMatching {
			if names[nm.RuleID.String()] == "north 28d" && !strings.Contains(nm.Why, "branch is SOUTH, rule is for NORTH") {
				t.Errorf("why north does not match at south: %q", nm.Why)
			}
		}
		// The caller's path is used as given.
		r, err := svc.Resolve(ctx, policy.Subject{BranchID: uuid.MustParse(northMain),
			BranchPath:     []uuid.UUID{uuid.MustParse(lib.RootID), uuid.MustParse(north), uuid.MustParse(northMain)},
			PatronCategory: "adult", ItemType: "book"})
		if err != nil || names[r.ID.String()] != "north-main 14d" {
			t.Errorf("with path: %v %v", r, err)
		}
		if _, err := svc.Resolve(ctx, policy.Subject{BranchID: uuid.New(), PatronCategory: "adult", ItemType: "book"}); err == nil ||
			!strings.Contains(err.Error(), "invalid_branch") {
			t.Errorf("unknown branch: %v", err)
		}
		return nil
	})

	// Without the fallback, a combination no rule matches is a 422 no_rule.
	want(t, call(t, s, "DELETE", "/api/v1/circulation/rules/"+rules["fallback"], lib.Token, nil), 204)
	polTx(t, lib, func(ctx context.Context, svc *policy.Service) error {
		_, err := svc.Resolve(ctx, policy.Subject{BranchID: uuid.MustParse(south), PatronCategory: "adult", ItemType: "book"})
		if err == nil || !strings.Contains(err.Error(), "no_rule") {
			t.Errorf("no rule: %v", err)
		}
		ex, err := svc.Explain(ctx, policy.Subject{BranchID: uuid.MustParse(south), PatronCategory: "adult", ItemType: "book"})
		if err != nil || ex.Rule != nil || len(ex.Candidates) != 0 || len(ex.NotMatching) != len(rules)-1 {
			t.Errorf("explain without a winner: %+v %v", ex, err)
		}
		return nil
	})
}

func polLint(t *testing.T, s *api.Server, lib library) (map[string][]map[string]any, resp) {
	t.Helper()
	r := call(t, s, "GET", "/api/v1/circulation/rules/lint", lib.Token, nil)
	want(t, r, 200)
	out := map[string][]map[string]any{}
	for _, p := range r.Body["problems"].([]any) {
		m := p.(map[string]any)
		out[m["kind"].(string)] = append(out[m["kind"].(string)], m)
	}
	return out, r
}

func TestRules_Lint(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "lint", "library")
	if probs, r := polLint(t, s, lib); len(probs) != 0 {
		t.Fatalf("a new library has no problems: %s", r.Raw)
	}
	// "Main: DVDs 10 days" never wins: adults' and children's DVD rules are
	// more specific for every patron category.
	shadowed := polAddRule(t, s, lib.Token, map[string]any{"branch_id": lib.MainID, "item_type": "dvd", "loan_days": 10})
	adultDVD := polAddRule(t, s, lib.Token, map[string]any{"patron_category": "adult", "item_type": "dvd", "loan_days": 7})
	childDVD := polAddRule(t, s, lib.Token, map[string]any{"patron_category": "child", "item_type": "dvd", "loan_days": 3})
	ref := polAddRule(t, s, lib.Token, map[string]any{"item_type": "reference", "loan_hours": 2})
	probs, r := polLint(t, s, lib)
	if len(probs["shadowed"]) != 1 || probs["shadowed"][0]["rule_id"] != shadowed {
		t.Fatalf("shadowed: %s", r.Raw)
	}
	by := probs["shadowed"][0]["shadowed_by"].([]any)
	if len(by) != 2 || !slices.Contains(by, any(adultDVD)) || !slices.Contains(by, any(childDVD)) {
		t.Fatalf("shadowed by: %s", r.Raw)
	}
	if len(probs["not_loanable"]) != 1 || probs["not_loanable"][0]["rule_id"] != ref {
		t.Fatalf("not loanable: %s", r.Raw)
	}
	if len(probs["uncovered"]) != 0 {
		t.Fatalf("uncovered with a fallback: %s", r.Raw)
	}

	// Without the fallback: adults' books (and more) have no rule.
	want(t, call(t, s, "DELETE", "/api/v1/circulation/rules/"+polFallback(t, s, lib), lib.Token, nil), 204)
	probs, r = polLint(t, s, lib)
	// One service point (Main) x {adult, child} x {book, magazine, unlisted}
	// (dvd is covered; reference is not loanable).
	if len(probs["uncovered"]) != 6 || r.Body["uncovered_total"] != float64(6) {
		t.Fatalf("uncovered: %s", r.Raw)
	}
	found := false
	for _, p := range probs["uncovered"] {
		c := p["combination"].(map[string]any)
		if c["branch_id"] == lib.MainID && c["patron_category"] == "adult" && c["item_type"] == "book" {
			found = true
		}
	}
	if !found {
		t.Fatalf("adult/book at Main uncovered: %s", r.Raw)
	}

	// The cap: many service points list at most 50 combinations but count all.
	for i := range 10 {
		addBranch(t, s, lib.Token, map[string]any{"name": fmt.Sprintf("B%d", i), "code": fmt.Sprintf("B%d", i)})
	}
	probs, r = polLint(t, s, lib)
	if len(probs["uncovered"]) != 50 || r.Body["uncovered_total"] != float64(66) {
		t.Fatalf("capped uncovered: %d listed, total %v", len(probs["uncovered"]), r.Body["uncovered_total"])
	}
}

func TestClosedDays_CRUDAndCalendar(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "cal", "library")
	// The library (root) has weekly hours; Main has none and inherits them.
	want(t, call(t, s, "PATCH", "/api/v1/branches/"+lib.RootID, lib.Token, map[string]any{"opening_hours": map[string]any{
		"mon": []map[string]string{{"opens": "09:00", "closes": "17:00"}},
		"tue": []map[string]string{{"opens": "09:00", "closes": "17:00"}},
		"wed": []map[string]string{{"opens": "09:00", "closes": "12:00"}, {"opens": "13:00", "closes": "17:00"}},
		"thu": []map[string]string{{"opens": "09:00", "closes": "17:00"}},
		"fri": []map[string]string{{"opens": "09:00", "closes": "17:00"}},
		"sat": []map[string]string{{"opens": "10:00", "closes": "14:00"}},
	}}), 200)
	// West has hours of its own: open on Sundays only.
	west := addBranch(t, s, lib.Token, map[string]any{"name": "West", "code": "WEST",
		"opening_hours": map[string]any{"sun": []map[string]string{{"opens": "12:00", "closes": "16:00"}}}})["id"].(string)

	xmas := call(t, s, "POST", "/api/v1/calendar/closed-days", lib.Token, map[string]any{"branch_id": nil, "day": "2026-12-25", "name": "Christmas"})
	want(t, xmas, 201)
	if xmas.Body["day"] != "2026-12-25" || xmas.Body["branch_id"] != nil || xmas.Body["name"] != "Christmas" {
		t.Fatalf("closed day: %s", xmas.Raw)
	}
	list := call(t, s, "POST", "/api/v1/calendar/closed-days", lib.Token, map[string]any{"branch_id": lib.MainID, "days": []string{"2026-12-24", "2026-12-31"}, "name": "Staff training"})
	want(t, list, 201)
	if n := len(list.Body["items"].([]any)); n != 2 {
		t.Fatalf("days: %s", list.Raw)
	}
	rng := call(t, s, "POST", "/api/v1/calendar/closed-days", lib.Token, map[string]any{"branch_id": west, "from": "2026-12-20", "to": "2026-12-22", "name": "Renovation"})
	want(t, rng, 201)
	if n := len(rng.Body["items"].([]any)); n != 3 {
		t.Fatalf("range: %s", rng.Raw)
	}

	cases := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"duplicate", "POST", "/api/v1/calendar/closed-days", map[string]any{"day": "2026-12-25"}, 409, "closed_day_exists"},
		{"duplicate in a range", "POST", "/api/v1/calendar/closed-days", map[string]any{"branch_id": lib.MainID, "from": "2026-12-30", "to": "2027-01-02"}, 409, "closed_day_exists"},
		{"bad date", "POST", "/api/v1/calendar/closed-days", map[string]any{"day": "25/12/2026"}, 422, "invalid_date"},
		{"two forms", "POST", "/api/v1/calendar/closed-days", map[string]any{"day": "2026-12-26", "days": []string{"2026-12-27"}}, 422, "invalid_days"},
		{"backwards range", "POST", "/api/v1/calendar/closed-days", map[string]any{"from": "2026-12-26", "to": "2026-12-01"}, 422, "invalid_days"},
		{"range too long", "POST", "/api/v1/calendar/closed-days", map[string]any{"from": "2026-01-01", "to": "2027-12-31"}, 422, "invalid_days"},
		{"unknown branch", "POST", "/api/v1/calendar/closed-days", map[string]any{"branch_id": uuid.NewString(), "day": "2026-12-26"}, 422, "invalid_branch"},
		{"delete missing", "DELETE", "/api/v1/calendar/closed-days/" + uuid.NewString(), nil, 404, "not_found"},
		{"calendar of no branch", "GET", "/api/v1/branches/" + uuid.NewString() + "/calendar", nil, 404, "not_found"},
		{"calendar too long", "GET", "/api/v1/branches/" + lib.MainID + "/calendar?from=2026-01-01&to=2027-02-05", nil, 400, "bad_query"},
		{"calendar bad date", "GET", "/api/v1/branches/" + lib.MainID + "/calendar?from=tomorrow", nil, 400, "bad_query"},
		{"list bad date", "GET", "/api/v1/calendar/closed-days?from=x", nil, 400, "bad_query"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want(t, call(t, s, tc.method, tc.path, lib.Token, tc.body), tc.status, tc.code)
		})
	}
	// The duplicate range added nothing: all or none.
	if r := call(t, s, "GET", "/api/v1/calendar/closed-days?branch_id="+lib.MainID, lib.Token, nil); len(r.Body["items"].([]any)) != 2 {
		t.Fatalf("Main's closed days: %s", r.Raw)
	}
	if r := call(t, s, "GET", "/api/v1/calendar/closed-days?branch_id=none", lib.Token, nil); len(r.Body["items"].([]any)) != 1 {
		t.Fatalf("library-wide closed days: %s", r.Raw)
	}
	if r := call(t, s, "GET", "/api/v1/calendar/closed-days?from=2026-12-22&to=2026-12-25", lib.Token, nil); len(r.Body["items"].([]any)) != 3 {
		t.Fatalf("closed days by date: %s", r.Raw)
	}

	cal := call(t, s, "GET", "/api/v1/branches/"+lib.MainID+"/calendar?from=2026-12-19&to=2026-12-28", lib.Token, nil)
	want(t, cal, 200)
	if cal.Body["timezone"] != "America/Chicago" || cal.Body["hours_from"] != lib.RootID {
		t.Fatalf("calendar: %s", cal.Raw)
	}
	days := map[string]map[string]any{}
	for _, d := range cal.Body["days"].([]any) {
		m := d.(map[string]any)
		days[m["date"].(string)] = m
	}
	if len(days) != 10 {
		t.Fatalf("10 days: %s", cal.Raw)
	}
	expect := []struct {
		date   string
		open   bool
		reason any
		hours  int
	}{
		{"2026-12-19", true, nil, 1}, // Saturday 10-14, inherited
		{"2026-12-20", false, "no opening hours on sunday", 0},
		{"2026-12-23", true, nil, 2}, // Wednesday with a lunch break
		{"2026-12-24", false, "Staff training", 0},
		{"2026-12-25", false, "Christmas", 0},
		{"2026-12-28", true, nil, 1},
	}
	for _, e := range expect {
		d := days[e.date]
		if d["open"] != e.open || d["closed_reason"] != e.reason || len(d["hours"].([]any)) != e.hours {
			t.Errorf("%s: %v, want open=%v reason=%v hours=%d", e.date, d, e.open, e.reason, e.hours)
		}
	}
	if h := days["2026-12-19"]["hours"].([]any)[0].(map[string]any); h["opens"] != "10:00" || h["closes"] != "14:00" {
		t.Errorf("Saturday hours %v", h)
	}
	// West: its own hours (Sundays), its own renovation, and the library's Christmas.
	wc := call(t, s, "GET", "/api/v1/branches/"+west+"/calendar?from=2026-12-20&to=2026-12-27", lib.Token, nil)
	want(t, wc, 200)
	wd := wc.Body["days"].([]any)
	if wc.Body["hours_from"] != west || wd[0].(map[string]any)["closed_reason"] != "Renovation" ||
		wd[5].(map[string]any)["closed_reason"] != "Christmas" || wd[7].(map[string]any)["open"] != true ||
		wd[6].(map[string]any)["closed_reason"] != "no opening hours on saturday" {
		t.Fatalf("West: %s", wc.Raw)
	}
	// The default range is 31 days from today.
	def := call(t, s, "GET", "/api/v1/branches/"+lib.MainID+"/calendar", lib.Token, nil)
	want(t, def, 200)
	if n := len(def.Body["days"].([]any)); n != 31 {
		t.Fatalf("default range: %d days", n)
	}

	// Service level: due dates use the same calendar.
	polTx(t, lib, func(ctx context.Context, svc *policy.Service) error {
		c, err := svc.Calendar(ctx, uuid.MustParse(lib.MainID), time.Date(2026, 12, 18, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 18, 0, 0, 0, 0, time.UTC))
		if err != nil {
			return err
		}
		loc := c.Location()
		due := c.DueAt(&policy.Rule{LoanDays: polInt(6)}, time.Date(2026, 12, 18, 10, 0, 0, 0, loc))
		if want := time.Date(2026, 12, 26, 23, 59, 59, 0, loc); !due.Equal(want) {
			t.Errorf("due %s, want %s (24 training, 25 Christmas)", due, want)
		}
		if len(c.BranchPath()) != 2 || !c.Open(time.Date(2026, 12, 28, 12, 0, 0, 0, loc)) {
			t.Errorf("calendar: %v", c.BranchPath())
		}
		return nil
	})

	// Permissions: any staff reads; branches.manage at the scope writes.
	_, desk := addStaff(t, s, lib, "desk@"+lib.Slug+".example.org", "circulation", lib.MainID)
	want(t, call(t, s, "GET", "/api/v1/calendar/closed-days", desk, nil), 200)
	want(t, call(t, s, "GET", "/api/v1/branches/"+lib.MainID+"/calendar", desk, nil), 200)
	want(t, call(t, s, "POST", "/api/v1/calendar/closed-days", desk, map[string]any{"day": "2026-12-26"}), 403)
	_, westAdmin := addStaff(t, s, lib, "admin@west."+lib.Slug+".example.org", "admin", west)
	want(t, call(t, s, "POST", "/api/v1/calendar/closed-days", westAdmin, map[string]any{"day": "2026-12-26"}), 403)
	want(t, call(t, s, "POST", "/api/v1/calendar/closed-days", westAdmin, map[string]any{"branch_id": west, "day": "2026-12-26"}), 201)
	want(t, call(t, s, "DELETE", "/api/v1/calendar/closed-days/"+xmas.Body["id"].(string), westAdmin, nil), 403)

	want(t, call(t, s, "DELETE", "/api/v1/calendar/closed-days/"+xmas.Body["id"].(string), lib.Token, nil), 204)
	want(t, call(t, s, "DELETE", "/api/v1/calendar/closed-days/"+xmas.Body["id"].(string), lib.Token, nil), 404)
	after := call(t, s, "GET", "/api/v1/branches/"+lib.MainID+"/calendar?from=2026-12-25&to=2026-12-25", lib.Token, nil)
	if d := after.Body["days"].([]any)[0].(map[string]any); d["open"] != true {
		t.Fatalf("Christmas removed: %s", after.Raw)
	}
}

func polInt(v int) *int { return &v }

func TestPolicy_TenantIsolation(t *testing.T) {
	s := newServer(t, api.Config{})
	a := signup(t, s, "pola", "library")
	b := signup(t, s, "polb", "library")
	bRule := polAddRule(t, s, b.Token, map[string]any{"branch_id": b.MainID, "item_type": "dvd"})
	bFallback := polFallback(t, s, b)
	want(t, call(t, s, "POST", "/api/v1/item-types", b.Token, map[string]any{"code": "b-only", "name": "B only"}), 201)
	bDay := call(t, s, "POST", "/api/v1/calendar/closed-days", b.Token, map[string]any{"branch_id": b.MainID, "day": "2026-12-24"})
	want(t, bDay, 201)
	bDayID := bDay.Body["id"].(string)

	for _, id := range []string{bRule, bFallback} {
		want(t, call(t, s, "GET", "/api/v1/circulation/rules/"+id, a.Token, nil), 404)
		want(t, call(t, s, "PATCH", "/api/v1/circulation/rules/"+id, a.Token, map[string]any{"renewals": 9}), 404)
		want(t, call(t, s, "DELETE", "/api/v1/circulation/rules/"+id, a.Token, nil), 404)
	}
	want(t, call(t, s, "GET", "/api/v1/item-types/b-only", a.Token, nil), 404)
	want(t, call(t, s, "PATCH", "/api/v1/item-types/b-only", a.Token, map[string]any{"name": "Mine"}), 404)
	want(t, call(t, s, "DELETE", "/api/v1/item-types/b-only", a.Token, nil), 404)
	want(t, call(t, s, "DELETE", "/api/v1/calendar/closed-days/"+bDayID, a.Token, nil), 404)
	want(t, call(t, s, "GET", "/api/v1/branches/"+b.MainID+"/calendar", a.Token, nil), 404)
	// B's ids inside A's bodies name nothing of A's.
	want(t, call(t, s, "POST", "/api/v1/circulation/rules", a.Token, map[string]any{"branch_id": b.MainID, "loan_days": 3}), 422, "invalid_branch")
	want(t, call(t, s, "POST", "/api/v1/circulation/rules", a.Token, map[string]any{"item_type": "b-only", "loan_days": 3}), 422, "unknown_item_type")
	want(t, call(t, s, "POST", "/api/v1/calendar/closed-days", a.Token, map[string]any{"branch_id": b.MainID, "day": "2026-12-24"}), 422, "invalid_branch")

	// Lists and lint show nothing of B's.
	for _, path := range []string{"/api/v1/circulation/rules", "/api/v1/calendar/closed-days", "/api/v1/item-types",
		"/api/v1/circulation/rules/lint", "/api/v1/branches/" + a.MainID + "/calendar"} {
		r := call(t, s, "GET", path, a.Token, nil)
		want(t, r, 200)
		for _, bid := range []string{bRule, bFallback, bDayID, b.MainID, b.RootID, "b-only"} {
			if strings.Contains(string(r.Raw), bid) {
				t.Errorf("%s shows B's %s: %s", path, bid, r.Raw)
			}
		}
	}
	// B's data is unchanged.
	g := call(t, s, "GET", "/api/v1/circulation/rules/"+bRule, b.Token, nil)
	want(t, g, 200)
	if g.Body["renewals"] != float64(0) {
		t.Fatalf("B's rule changed: %s", g.Raw)
	}
	// Resolve in A's transaction never sees B's rules.
	polTx(t, a, func(ctx context.Context, svc *policy.Service) error {
		if _, err := svc.Resolve(ctx, policy.Subject{BranchID: uuid.MustParse(b.MainID), PatronCategory: "adult", ItemType: "dvd"}); err == nil {
			t.Error("A resolved a rule at B's branch")
		}
		r, err := svc.Resolve(ctx, policy.Subject{BranchID: uuid.MustParse(a.MainID),
			BranchPath: []uuid.UUID{uuid.MustParse(b.RootID), uuid.MustParse(b.MainID)}, PatronCategory: "adult", ItemType: "dvd"})
		if err != nil || r.ID.String() == bRule || r.ID.String() == bFallback {
			t.Errorf("A resolved %v, %v", r, err)
		}
		return nil
	})
}
