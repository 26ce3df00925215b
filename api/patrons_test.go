package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api"
	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

// newPatronServer builds the API with a patrons service the test keeps, for
// calls the HTTP API does not offer (IssueVerification).
func newPatronServer(t *testing.T) (*api.Server, *patrons.Service) {
	t.Helper()
	env := tenanttest.Get(t)
	counter, svc := env.Isolated(tenants.Options{})
	cat := catalog.NewService(svc)
	cat.SetJobs(syncJobs{cat}, slog.New(slog.DiscardHandler))
	ps := patrons.NewService(svc)
	s := api.New(api.Config{}, api.Deps{Log: slog.New(slog.DiscardHandler), Pool: env.Pool, Redis: env.Redis,
		Counter: counter, Tenants: svc, Catalog: cat, Patrons: ps})
	return s, ps
}

// patronsTx runs fn in a committed tenant transaction as the application
// role: the tests' way to set circulation state the API does not write yet.
func patronsTx(t *testing.T, tenantID string, fn func(ctx context.Context, tx *gorm.DB) error) {
	t.Helper()
	err := tenanttest.Get(t).Pool.Tx(context.Background(), uuid.MustParse(tenantID), fn)
	if err != nil {
		t.Fatal(err)
	}
}

func execTx(t *testing.T, tenantID, sql string, args ...any) {
	t.Helper()
	patronsTx(t, tenantID, func(_ context.Context, tx *gorm.DB) error { return tx.Exec(sql, args...).Error })
}

// addPatron creates a patron with defaults the body may override.
func addPatron(t *testing.T, s *api.Server, lib library, token string, body map[string]any) map[string]any {
	t.Helper()
	b := map[string]any{"first_name": "Test", "last_name": "Patron", "category": "adult", "home_branch_id": lib.MainID}
	for k, v := range body {
		b[k] = v
	}
	r := call(t, s, "POST", "/api/v1/patrons", token, b)
	want(t, r, 201)
	return r.Body
}

func blockCodes(t *testing.T, body map[string]any) []string {
	t.Helper()
	bl, ok := body["blocks"].([]any)
	if !ok {
		t.Fatalf("no blocks list: %v", body)
	}
	var out []string
	for _, b := range bl {
		out = append(out, b.(map[string]any)["code"].(string))
	}
	return out
}

func hasCode(codes []string, c string) bool {
	for _, x := range codes {
		if x == c {
			return true
		}
	}
	return false
}

func listIDs(t *testing.T, r resp) []string {
	t.Helper()
	want(t, r, 200)
	var ids []string
	for _, it := range r.Body["items"].([]any) {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	return ids
}

func TestPatronCategories_CRUD(t *testing.T) {
	s, _ := newPatronServer(t)
	lib := signup(t, s, "pcat", "library")

	// The library starts with adult and child.
	r := call(t, s, "GET", "/api/v1/patron-categories", lib.Token, nil)
	want(t, r, 200)
	var codes []string
	for _, it := range r.Body["items"].([]any) {
		codes = append(codes, it.(map[string]any)["code"].(string))
	}
	if strings.Join(codes, ",") != "adult,child" {
		t.Fatalf("default categories %v", codes)
	}

	r = call(t, s, "POST", "/api/v1/patron-categories", lib.Token, map[string]any{
		"code": "senior", "name": "Senior", "enrolment_months": 24, "min_age": 65, "max_loans": 30, "max_holds": 10,
		"fine_threshold": map[string]any{"amount": 1000, "currency": "USD"}, "max_overdue": 5, "max_lost": 2})
	want(t, r, 201)
	if ft := r.Body["fine_threshold"].(map[string]any); ft["amount"].(float64) != 1000 || ft["currency"] != "USD" {
		t.Fatalf("fine_threshold %v", ft)
	}
	if r.Body["min_age"].(float64) != 65 || r.Body["max_age"] != nil || r.Body["enrolment_months"].(float64) != 24 {
		t.Fatalf("category %s", r.Raw)
	}

	r = call(t, s, "GET", "/api/v1/patron-categories/senior", lib.Token, nil)
	want(t, r, 200)
	if r.Body["name"] != "Senior" || r.Body["max_lost"].(float64) != 2 {
		t.Fatalf("get %s", r.Raw)
	}

	// PATCH: absent fields stay, null clears a limit.
	r = call(t, s, "PATCH", "/api/v1/patron-categories/senior", lib.Token, map[string]any{
		"name": "Seniors", "max_loans": nil, "fine_threshold": nil})
	want(t, r, 200)
	if r.Body["name"] != "Seniors" || r.Body["max_loans"] != nil || r.Body["fine_threshold"] != nil || r.Body["max_holds"].(float64) != 10 {
		t.Fatalf("patch %s", r.Raw)
	}

	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"duplicate code", "POST", "/api/v1/patron-categories", map[string]any{"code": "adult", "name": "Adults again"}, 409, "category_code_taken"},
		{"rename onto existing", "PATCH", "/api/v1/patron-categories/senior", map[string]any{"code": "child"}, 409, "category_code_taken"},
		{"foreign currency", "POST", "/api/v1/patron-categories", map[string]any{"code": "eu", "name": "EU",
			"fine_threshold": map[string]any{"amount": 500, "currency": "EUR"}}, 422, "currency_mismatch"},
		{"negative threshold", "POST", "/api/v1/patron-categories", map[string]any{"code": "neg", "name": "Neg",
			"fine_threshold": map[string]any{"amount": -1, "currency": "USD"}}, 422, "invalid_money"},
		{"bad code", "POST", "/api/v1/patron-categories", map[string]any{"code": "Big Kids", "name": "x"}, 422, "invalid_code"},
		{"missing name", "POST", "/api/v1/patron-categories", map[string]any{"code": "x"}, 422, "required"},
		{"min over max", "POST", "/api/v1/patron-categories", map[string]any{"code": "teen", "name": "Teen", "min_age": 19, "max_age": 13}, 422, "invalid_age_range"},
		{"zero enrolment", "POST", "/api/v1/patron-categories", map[string]any{"code": "z", "name": "Z", "enrolment_months": 0}, 422, "invalid_limit"},
		{"negative limit", "PATCH", "/api/v1/patron-categories/senior", map[string]any{"max_loans": -3}, 422, "invalid_limit"},
		{"wrong type", "POST", "/api/v1/patron-categories", map[string]any{"code": "t", "name": "T", "max_loans": "many"}, 400, "wrong_type"},
		{"unknown field", "POST", "/api/v1/patron-categories", map[string]any{"code": "t", "name": "T", "colour": "red"}, 400, "unknown_field"},
		{"unknown category", "GET", "/api/v1/patron-categories/nope", nil, 404, ""},
		{"patch unknown", "PATCH", "/api/v1/patron-categories/nope", map[string]any{"name": "x"}, 404, ""},
		{"delete unknown", "DELETE", "/api/v1/patron-categories/nope", nil, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) { want(t, call(t, s, tc.method, tc.path, lib.Token, tc.body), tc.status, tc.code) })
	}

	// Deleting a category in use is refused; renaming cascades to patrons.
	p := addPatron(t, s, lib, lib.Token, map[string]any{"card_number": "CAT1", "category": "senior"})
	want(t, call(t, s, "DELETE", "/api/v1/patron-categories/senior", lib.Token, nil), 409, "category_in_use")
	want(t, call(t, s, "PATCH", "/api/v1/patron-categories/senior", lib.Token, map[string]any{"code": "elder"}), 200)
	r = call(t, s, "GET", "/api/v1/patrons/"+p["id"].(string), lib.Token, nil)
	want(t, r, 200)
	if r.Body["category"] != "elder" {
		t.Fatalf("renamed category did not cascade: %v", r.Body["category"])
	}
	// The self-registration category counts as a use.
	want(t, call(t, s, "DELETE", "/api/v1/patron-categories/adult", lib.Token, nil), 409, "category_in_use")

	want(t, call(t, s, "POST", "/api/v1/patron-categories", lib.Token, map[string]any{"code": "temp", "name": "Temporary"}), 201)
	want(t, call(t, s, "DELETE", "/api/v1/patron-categories/temp", lib.Token, nil), 204)
	want(t, call(t, s, "GET", "/api/v1/patron-categories/temp", lib.Token, nil), 404)

	// Read-only staff may read categories but not change them.
	_, viewer := addStaff(t, s, lib, "viewer@"+lib.Slug+".example.org", tenants.RoleReadonly, lib.RootID)
	want(t, call(t, s, "GET", "/api/v1/patron-categories", viewer, nil), 200)
	want(t, call(t, s, "POST", "/api/v1/patron-categories", viewer, map[string]any{"code": "v", "name": "V"}), 403, "forbidden")
}

func TestPatrons_CreateGetPatch(t *testing.T) {
	s, _ := newPatronServer(t)
	lib := signup(t, s, "pcrud", "library")

	r := call(t, s, "POST", "/api/v1/patrons", lib.Token, map[string]any{
		"card_number": "21000000001", "first_name": "John", "last_name": "Smith", "email": "John.Smith@Example.ORG",
		"phone": "+1 555 0100", "address": map[string]any{"line1": "1 Main St", "city": "Springfield", "country": "US"},
		"category": "adult", "home_branch_id": lib.MainID, "birth_date": "1980-04-02", "notice_channel": "sms",
		"history_privacy": "keep_n_days", "history_days": 90, "pin": "4321", "notes": "prefers large print"})
	want(t, r, 201)
	id := r.Body["id"].(string)
	if r.Body["email"] != "john.smith@example.org" || r.Body["has_pin"] != true || r.Body["status"] != "active" ||
		r.Body["birth_date"] != "1980-04-02" || r.Body["notice_channel"] != "sms" || r.Body["history_days"].(float64) != 90 {
		t.Fatalf("created %s", r.Raw)
	}
	if strings.Contains(string(r.Raw), "pin_hash") || strings.Contains(string(r.Raw), "4321") || strings.Contains(string(r.Raw), "argon2") {
		t.Fatalf("the PIN leaks: %s", r.Raw)
	}
	// Default expiry: today (library time) + the category's 12 months.
	chicago, _ := time.LoadLocation("America/Chicago")
	wantExp := time.Now().In(chicago).AddDate(1, 0, 0).Format(time.DateOnly)
	if exp := r.Body["expires_on"].(string); exp != wantExp && !strings.HasSuffix(wantExp, "-03-01") {
		t.Fatalf("expires_on %s, want %s", exp, wantExp)
	}
	if a := r.Body["address"].(map[string]any); a["city"] != "Springfield" {
		t.Fatalf("address %v", a)
	}

	r = call(t, s, "GET", "/api/v1/patrons/"+id, lib.Token, nil)
	want(t, r, 200)
	if codes := blockCodes(t, r.Body); len(codes) != 0 {
		t.Fatalf("new patron is blocked: %v", codes)
	}
	st := r.Body["standing"].(map[string]any)
	if bal := st["balance"].(map[string]any); bal["amount"].(float64) != 0 || bal["currency"] != "USD" || st["loans"].(float64) != 0 {
		t.Fatalf("standing %v", st)
	}

	// The PIN was hashed with the tenants service: it verifies.
	patronsTx(t, lib.TenantID, func(_ context.Context, tx *gorm.DB) error {
		var hash string
		if err := tx.Raw(`SELECT pin_hash FROM patrons WHERE id = ?`, id).Row().Scan(&hash); err != nil {
			return err
		}
		if !tenants.VerifySecret("4321", hash) || tenants.VerifySecret("1234", hash) {
			t.Errorf("pin hash does not verify")
		}
		var key string
		if err := tx.Raw(`SELECT name_key FROM patrons WHERE id = ?`, id).Row().Scan(&key); err != nil {
			return err
		}
		if key != "smith john" {
			t.Errorf("name_key %q", key)
		}
		return nil
	})

	other := addPatron(t, s, lib, lib.Token, map[string]any{"card_number": "21000000002", "first_name": "Ann", "last_name": "Other"})

	// PATCH: names, pin cleared, privacy back to keep, explicit expiry.
	r = call(t, s, "PATCH", "/api/v1/patrons/"+id, lib.Token, map[string]any{
		"first_name": "Jon", "pin": "", "history_privacy": "keep", "expires_on": "2030-12-31", "guarantor_id": other["id"]})
	want(t, r, 200)
	if r.Body["first_name"] != "Jon" || r.Body["has_pin"] != false || r.Body["history_days"] != nil ||
		r.Body["expires_on"] != "2030-12-31" || r.Body["guarantor_id"] != other["id"] || r.Body["email"] != "john.smith@example.org" {
		t.Fatalf("patched %s", r.Raw)
	}
	if _, ok := r.Body["blocks"]; !ok {
		t.Fatalf("PATCH answers the patron view: %s", r.Raw)
	}
	r = call(t, s, "PATCH", "/api/v1/patrons/"+id, lib.Token, map[string]any{"guarantor_id": nil, "birth_date": ""})
	want(t, r, 200)
	if r.Body["guarantor_id"] != nil || r.Body["birth_date"] != nil {
		t.Fatalf("cleared %s", r.Raw)
	}
	// Card change: checked for uniqueness.
	want(t, call(t, s, "PATCH", "/api/v1/patrons/"+id, lib.Token, map[string]any{"card_number": "21000000002"}), 409, "card_number_taken")
	want(t, call(t, s, "PATCH", "/api/v1/patrons/"+id, lib.Token, map[string]any{"card_number": "21000000009"}), 200)
	// The name key follows the name.
	want(t, call(t, s, "PATCH", "/api/v1/patrons/"+id, lib.Token, map[string]any{"last_name": "Smythe"}), 200)
	if ids := listIDs(t, call(t, s, "GET", "/api/v1/patrons?q=smyth", lib.Token, nil)); len(ids) != 1 || ids[0] != id {
		t.Fatalf("search after rename: %v", ids)
	}

	// No DELETE: status inactive retires the record, and blocks it.
	want(t, call(t, s, "DELETE", "/api/v1/patrons/"+id, lib.Token, nil), 405)
	r = call(t, s, "PATCH", "/api/v1/patrons/"+id, lib.Token, map[string]any{"status": "inactive"})
	want(t, r, 200)
	if !hasCode(blockCodes(t, r.Body), "inactive") {
		t.Fatalf("inactive patron not blocked: %s", r.Raw)
	}

	for _, tc := range []struct {
		name string
		body map[string]any
		code string
	}{
		{"bad status", map[string]any{"status": "merged"}, "invalid_status"},
		{"empty last name", map[string]any{"last_name": " "}, "required"},
		{"bad email", map[string]any{"email": "nobody"}, "invalid_email"},
		{"self guarantor", map[string]any{"guarantor_id": id}, "invalid_guarantor"},
		{"days without keep_n_days", map[string]any{"history_days": 30}, "invalid_history_days"},
		{"short pin", map[string]any{"pin": "12"}, "invalid_pin"},
		{"bad expiry", map[string]any{"expires_on": "31/12/2030"}, "invalid_date"},
		{"unknown branch", map[string]any{"home_branch_id": uuid.NewString()}, "invalid_branch"},
	} {
		t.Run("patch "+tc.name, func(t *testing.T) {
			want(t, call(t, s, "PATCH", "/api/v1/patrons/"+id, lib.Token, tc.body), 422, tc.code)
		})
	}
	want(t, call(t, s, "PATCH", "/api/v1/patrons/"+uuid.NewString(), lib.Token, map[string]any{"notes": "x"}), 404)
	want(t, call(t, s, "GET", "/api/v1/patrons/"+uuid.NewString(), lib.Token, nil), 404)
	want(t, call(t, s, "GET", "/api/v1/patrons/not-an-id", lib.Token, nil), 404)
}

func TestPatrons_CreateErrors(t *testing.T) {
	s, _ := newPatronServer(t)
	lib := signup(t, s, "perr", "library")
	otherLib := signup(t, s, "perr-b", "library")
	addPatron(t, s, lib, lib.Token, map[string]any{"card_number": "TAKEN1"})
	foreign := addPatron(t, s, otherLib, otherLib.Token, map[string]any{"card_number": "FOREIGN1"})
	// Another tenant may use the same card number.
	addPatron(t, s, otherLib, otherLib.Token, map[string]any{"card_number": "TAKEN1"})

	base := func(over map[string]any) map[string]any {
		b := map[string]any{"card_number": "NEW-" + uuid.NewString()[:8], "first_name": "A", "last_name": "B",
			"category": "adult", "home_branch_id": lib.MainID}
		for k, v := range over {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"duplicate card", base(map[string]any{"card_number": "TAKEN1"}), 409, "card_number_taken"},
		{"missing card", base(map[string]any{"card_number": nil}), 422, "required"},
		{"bad card", base(map[string]any{"card_number": "has space"}), 422, "invalid_card_number"},
		{"missing last name", base(map[string]any{"last_name": nil}), 422, "required"},
		{"unknown category", base(map[string]any{"category": "martian"}), 422, "unknown_category"},
		{"missing category", base(map[string]any{"category": nil}), 422, "required"},
		{"other tenant's branch", base(map[string]any{"home_branch_id": otherLib.MainID}), 422, "invalid_branch"},
		{"unknown branch", base(map[string]any{"home_branch_id": uuid.NewString()}), 422, "invalid_branch"},
		{"missing branch", base(map[string]any{"home_branch_id": nil}), 422, "required"},
		{"adult as child", base(map[string]any{"category": "child", "birth_date": "1980-01-01"}), 422, "age_outside_category"},
		{"future birth", base(map[string]any{"birth_date": "2999-01-01"}), 422, "invalid_date"},
		{"bad birth date", base(map[string]any{"birth_date": "1980-13-01"}), 422, "invalid_date"},
		{"bad expiry", base(map[string]any{"expires_on": "soon"}), 422, "invalid_date"},
		{"invalid email", base(map[string]any{"email": "john@"}), 422, "invalid_email"},
		{"invalid email 2", base(map[string]any{"email": "John Smith <j@example.org>"}), 422, "invalid_email"},
		{"short pin", base(map[string]any{"pin": "123"}), 422, "invalid_pin"},
		{"long pin", base(map[string]any{"pin": strings.Repeat("9", 65)}), 422, "invalid_pin"},
		{"bad status", base(map[string]any{"status": "merged"}), 422, "invalid_status"},
		{"bad notice channel", base(map[string]any{"notice_channel": "pigeon"}), 422, "invalid_notice_channel"},
		{"bad privacy", base(map[string]any{"history_privacy": "forever"}), 422, "invalid_history_privacy"},
		{"keep_n_days without days", base(map[string]any{"history_privacy": "keep_n_days"}), 422, "required"},
		{"days out of range", base(map[string]any{"history_privacy": "keep_n_days", "history_days": 0}), 422, "invalid_history_days"},
		{"other tenant's guarantor", base(map[string]any{"guarantor_id": foreign["id"]}), 422, "invalid_guarantor"},
		{"too long name", base(map[string]any{"last_name": strings.Repeat("x", 201)}), 422, "too_long"},
		{"unknown field", base(map[string]any{"nickname": "Jo"}), 400, "unknown_field"},
		{"bad branch id", base(map[string]any{"home_branch_id": "main"}), 400, ""},
		{"wrong type", base(map[string]any{"history_days": "ninety"}), 400, "wrong_type"},
		{"malformed", `{"card_number": "X1",`, 400, "malformed_json"},
		{"not json", rawBody{ContentType: "text/plain", Data: []byte("card=1")}, 415, "unsupported_media_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want(t, call(t, s, "POST", "/api/v1/patrons", lib.Token, tc.body), tc.status, tc.code)
		})
	}

	// A child within the category's ages is fine; the category's age range
	// is checked in the library's time zone.
	kid := time.Now().AddDate(-10, 0, 0).Format(time.DateOnly)
	addPatron(t, s, lib, lib.Token, map[string]any{"card_number": "KID1", "category": "child", "birth_date": kid})
	// Changing the category of an adult to child checks the age too.
	adult := addPatron(t, s, lib, lib.Token, map[string]any{"card_number": "ADULT1", "birth_date": "1970-05-05"})
	want(t, call(t, s, "PATCH", "/api/v1/patrons/"+adult["id"].(string), lib.Token, map[string]any{"category": "child"}), 422, "age_outside_category")

	// Staff without patrons.write (cataloguers) cannot create patrons or even read them.
	_, cataloger := addStaff(t, s, lib, "cat@"+lib.Slug+".example.org", tenants.RoleCataloger, lib.RootID)
	want(t, call(t, s, "POST", "/api/v1/patrons", cataloger, base(nil)), 403, "forbidden")
	want(t, call(t, s, "GET", "/api/v1/patrons", cataloger, nil), 403, "forbidden")
	want(t, call(t, s, "POST", "/api/v1/patrons", "", base(nil)), 401)
}

func TestPatronSearch(t *testing.T) {
	s, _ := newPatronServer(t)
	lib := signup(t, s, "psearch", "library")
	other := signup(t, s, "psearch-b", "library")
	north := addBranch(t, s, lib.Token, map[string]any{"name": "North", "code": "NORTH", "parent_id": lib.RootID, "kind": "branch"})["id"].(string)

	john := addPatron(t, s, lib, lib.Token, map[string]any{"card_number": "S-1001", "first_name": "John", "last_name": "Smith", "email": "john@example.org"})["id"].(string)
	jane := addPatron(t, s, lib, lib.Token, map[string]any{"card_number": "S-1002", "first_name": "Jane", "last_name": "Smithers", "home_branch_id": north})["id"].(string)
	jose := addPatron(t, s, lib, lib.Token, map[string]any{"card_number": "S-1003", "first_name": "José", "last_name": "García Márquez", "category": "child"})["id"].(string)
	olga := addPatron(t, s, lib, lib.Token, map[string]any{"card_number": "S-1004", "first_name": "Olga", "last_name": "Ó'Brien", "status": "inactive"})["id"].(string)
	// Tenant B has a John Smith with the same card number and email.
	bJohn := addPatron(t, s, other, other.Token, map[string]any{"card_number": "S-1001", "first_name": "John", "last_name": "Smith", "email": "john@example.org"})["id"].(string)

	find := func(q string) []string {
		t.Helper()
		return listIDs(t, call(t, s, "GET", "/api/v1/patrons?q="+url.QueryEscape(q), lib.Token, nil))
	}
	same := func(got []string, want ...string) bool {
		if len(got) != len(want) {
			return false
		}
		m := map[string]bool{}
		for _, g := range got {
			m[g] = true
		}
		for _, w := range want {
			if !m[w] {
				return false
			}
		}
		return true
	}
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"smi", []string{john, jane}},
		{"SMITH", []string{john, jane}},
		{"smith jo", []string{john}},
		{"jo smith", []string{john}},
		{"john smith", []string{john}},
		{"Smith, John", []string{john}},
		{"smithers", []string{jane}},
		{"garcia", []string{jose}},
		{"jose garcia marquez", []string{jose}},
		{"garcia m", []string{jose}},
		{"García Márquez, José", []string{jose}},
		{"obrien", []string{olga}},
		{"o'brien olga", []string{olga}},
		{"S-1001", []string{john}},
		{"s-1001", nil}, // card numbers are exact
		{"john@example.org", []string{john}},
		{"JOHN@Example.org", []string{john}},
		{"nobody@example.org", nil},
		{"zzz", nil},
	} {
		t.Run(tc.q, func(t *testing.T) {
			if got := find(tc.q); !same(got, tc.want...) {
				t.Fatalf("q=%q: got %v, want %v", tc.q, got, tc.want)
			}
		})
	}
	// Tenant B's patrons never appear, and B sees only its own.
	all := listIDs(t, call(t, s, "GET", "/api/v1/patrons?limit=500", lib.Token, nil))
	for _, id := range all {
		if id == bJohn {
			t.Fatal("tenant B's patron listed for A")
		}
	}
	if len(all) != 4 {
		t.Fatalf("A lists %d patrons, want 4", len(all))
	}
	if got := listIDs(t, call(t, s, "GET", "/api/v1/patrons?q=smith", other.Token, nil)); !same(got, bJohn) {
		t.Fatalf("B finds %v", got)
	}
	want(t, call(t, s, "GET", "/api/v1/patrons/"+bJohn, lib.Token, nil), 404)

	// Filters.
	if got := listIDs(t, call(t, s, "GET", "/api/v1/patrons?home_branch_id="+north, lib.Token, nil)); !same(got, jane) {
		t.Fatalf("branch filter %v", got)
	}
	if got := listIDs(t, call(t, s, "GET", "/api/v1/patrons?category=child", lib.Token, nil)); !same(got, jose) {
		t.Fatalf("category filter %v", got)
	}
	if got := listIDs(t, call(t, s, "GET", "/api/v1/patrons?status=inactive", lib.Token, nil)); !same(got, olga) {
		t.Fatalf("status filter %v", got)
	}
	if got := listIDs(t, call(t, s, "GET", "/api/v1/patrons?q=smi&status=active&home_branch_id="+lib.MainID, lib.Token, nil)); !same(got, john) {
		t.Fatalf("combined filters %v", got)
	}
	want(t, call(t, s, "GET", "/api/v1/patrons?home_branch_id=main", lib.Token, nil), 400, "bad_query")
	want(t, call(t, s, "GET", "/api/v1/patrons?status=gone", lib.Token, nil), 400, "bad_query")
	want(t, call(t, s, "GET", "/api/v1/patrons?limit=0", lib.Token, nil), 400, "bad_limit")
	want(t, call(t, s, "GET", "/api/v1/patrons?cursor=zz", lib.Token, nil), 400, "bad_cursor")

	// Keyset pages.
	r := call(t, s, "GET", "/api/v1/patrons?q=smi&limit=1", lib.Token, nil)
	first := listIDs(t, r)
	cur, _ := r.Body["next_cursor"].(string)
	if len(first) != 1 || cur == "" {
		t.Fatalf("page 1: %s", r.Raw)
	}
	r = call(t, s, "GET", "/api/v1/patrons?q=smi&limit=1&cursor="+cur, lib.Token, nil)
	second := listIDs(t, r)
	if len(second) != 1 || second[0] == first[0] || r.Body["next_cursor"] != nil {
		t.Fatalf("page 2: %s", r.Raw)
	}
	// Read-only staff may search patrons.
	_, viewer := addStaff(t, s, lib, "viewer@"+lib.Slug+".example.org", tenants.RoleReadonly, lib.RootID)
	if got := listIDs(t, call(t, s, "GET", "/api/v1/patrons?q=smith+jo", viewer, nil)); !same(got, john) {
		t.Fatalf("viewer finds %v", got)
	}
}

// The name search is range conditions on the (tenant_id, name_key) b-tree:
// under RLS, as the application role, the plan of the list query still
// uses that index (and the card-number key, OR-ed in a bitmap).
func TestPatronSearch_UsesNameIndexUnderRLS(t *testing.T) {
	s, _ := newPatronServer(t)
	lib := signup(t, s, "pplan", "library")
	patronsTx(t, lib.TenantID, func(_ context.Context, tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO patrons (tenant_id, id, card_number, last_name, name_key, home_branch_id, category, expires_on)
			SELECT app.current_tenant_id(), gen_random_uuid(), 'P' || g, 'N' || g, md5(g::text), ?, 'adult', '2030-01-01'
			FROM generate_series(1, 3000) g`, lib.MainID).Error; err != nil {
			return err
		}
		rows, err := tx.Raw(`EXPLAIN SELECT * FROM patrons WHERE (card_number = ? OR (name_key >= ? AND name_key < ?)
			OR (name_key >= ? AND name_key < ?)) ORDER BY id LIMIT 51`,
			"smith", "jo smith", "jo smiti", "smith jo", "smith jp").Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			plan = append(plan, line)
		}
		if p := strings.Join(plan, "\n"); !strings.Contains(p, "patrons_name_idx") || strings.Contains(p, "Seq Scan") {
			t.Errorf("name search does not use patrons_name_idx:\n%s", p)
		}
		return nil
	})
}

func TestPatronBlocks(t *testing.T) {
	s, _ := newPatronServer(t)
	lib := signup(t, s, "pblock", "library")
	p := addPatron(t, s, lib, lib.Token, map[string]any{"card_number": "B-1", "first_name": "Bo", "last_name": "Block"})
	id := p["id"].(string)
	get := func() map[string]any {
		t.Helper()
		r := call(t, s, "GET", "/api/v1/patrons/"+id, lib.Token, nil)
		want(t, r, 200)
		return r.Body
	}

	// Manual block: appears with its reason, then lifted (the row stays).
	r := call(t, s, "POST", "/api/v1/patrons/"+id+"/blocks", lib.Token, map[string]any{"reason": "Damaged three books"})
	want(t, r, 201)
	blockID := r.Body["id"].(string)
	if r.Body["created_by"] != lib.OwnerID || r.Body["lifted_at"] != nil {
		t.Fatalf("block %s", r.Raw)
	}
	body := get()
	bl := body["blocks"].([]any)
	if len(bl) != 1 || bl[0].(map[string]any)["code"] != "manual" || bl[0].(map[string]any)["block_id"] != blockID ||
		!strings.Contains(bl[0].(map[string]any)["message"].(string), "Damaged three books") {
		t.Fatalf("blocks %v", bl)
	}
	// A block that ends in the future shows its end.
	until := time.Now().AddDate(0, 0, 10).Format(time.DateOnly)
	r = call(t, s, "POST", "/api/v1/patrons/"+id+"/blocks", lib.Token, map[string]any{"reason": "Cooling off", "ends_on": until})
	want(t, r, 201)
	timed := r.Body["id"].(string)
	if r.Body["ends_on"] != until {
		t.Fatalf("ends_on %v", r.Body["ends_on"])
	}
	if n := len(blockCodes(t, get())); n != 2 {
		t.Fatalf("%d blocks, want 2", n)
	}
	want(t, call(t, s, "DELETE", "/api/v1/patrons/"+id+"/blocks/"+blockID, lib.Token, nil), 204)
	want(t, call(t, s, "DELETE", "/api/v1/patrons/"+id+"/blocks/"+timed, lib.Token, nil), 204)
	if codes := blockCodes(t, get()); len(codes) != 0 {
		t.Fatalf("lifted blocks still listed: %v", codes)
	}
	want(t, call(t, s, "DELETE", "/api/v1/patrons/"+id+"/blocks/"+blockID, lib.Token, nil), 409, "block_lifted")
	want(t, call(t, s, "DELETE", "/api/v1/patrons/"+id+"/blocks/"+uuid.NewString(), lib.Token, nil), 404)
	patronsTx(t, lib.TenantID, func(_ context.Context, tx *gorm.DB) error {
		var lifted struct {
			N        int
			LiftedBy string
		}
		err := tx.Raw(`SELECT count(*) AS n, max(lifted_by::text) AS lifted_by FROM patron_blocks WHERE patron_id = ? AND lifted_at IS NOT NULL`, id).Scan(&lifted).Error
		if lifted.N != 2 || lifted.LiftedBy != lib.OwnerID {
			t.Errorf("lifted rows: %+v", lifted)
		}
		return err
	})
	for _, tc := range []struct {
		name string
		body any
		code string
	}{
		{"no reason", map[string]any{"reason": " "}, "required"},
		{"past end", map[string]any{"reason": "x", "ends_on": "2001-01-01"}, "invalid_date"},
		{"bad end", map[string]any{"reason": "x", "ends_on": "next week"}, "invalid_date"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want(t, call(t, s, "POST", "/api/v1/patrons/"+id+"/blocks", lib.Token, tc.body), 422, tc.code)
		})
	}
	want(t, call(t, s, "POST", "/api/v1/patrons/"+uuid.NewString()+"/blocks", lib.Token, map[string]any{"reason": "x"}), 404)

	// An expired card.
	exp := addPatron(t, s, lib, lib.Token, map[string]any{"card_number": "B-2", "expires_on": "2020-06-30"})
	r = call(t, s, "GET", "/api/v1/patrons/"+exp["id"].(string), lib.Token, nil)
	want(t, r, 200)
	if codes := blockCodes(t, r.Body); len(codes) != 1 || codes[0] != "expired" {
		t.Fatalf("expired card blocks %v", codes)
	}

	// Automatic blocks from the standing against the category's thresholds.
	want(t, call(t, s, "PATCH", "/api/v1/patron-categories/adult", lib.Token, map[string]any{
		"fine_threshold": map[string]any{"amount": 500, "currency": "USD"}, "max_overdue": 1, "max_lost": 1}), 200)
	execTx(t, lib.TenantID, `INSERT INTO fee_entries (tenant_id, id, patron_id, kind, charge_type, amount, currency)
		VALUES (app.current_tenant_id(), ?, ?, 'charge', 'manual', 650, 'USD')`, uuid.New(), id)
	body = get()
	if codes := blockCodes(t, body); len(codes) != 1 || codes[0] != "fines" {
		t.Fatalf("fines blocks %v", codes)
	}
	if bal := body["standing"].(map[string]any)["balance"].(map[string]any); bal["amount"].(float64) != 650 {
		t.Fatalf("balance %v", bal)
	}
	// A payment below the threshold lifts it.
	execTx(t, lib.TenantID, `INSERT INTO fee_entries (tenant_id, id, patron_id, kind, method, amount, currency)
		VALUES (app.current_tenant_id(), ?, ?, 'payment', 'cash', 200, 'USD')`, uuid.New(), id)
	if codes := blockCodes(t, get()); len(codes) != 0 {
		t.Fatalf("blocks after payment %v", codes)
	}

	// One overdue loan and one lost loan.
	bib := call(t, s, "POST", "/api/v1/bibs", lib.Token, map[string]any{"title": "Block Party", "authors": []string{"Loan, A."}})
	want(t, bib, 201)
	bibID := bib.Body["id"].(string)
	var items []string
	for _, bc := range []string{"BLK-1", "BLK-2"} {
		it := call(t, s, "POST", "/api/v1/items", lib.Token, map[string]any{"bib_id": bibID, "barcode": bc, "branch_id": lib.MainID})
		want(t, it, 201)
		items = append(items, it.Body["id"].(string))
	}
	loan := `INSERT INTO loans (tenant_id, id, item_id, patron_id, patron_category, item_type, bib_id, branch_id, status,
		checked_out_at, due_at, renewals_allowed, lost_at) VALUES (app.current_tenant_id(), ?, ?, ?, 'adult', 'book', ?, ?, ?, ?, ?, 0, ?)`
	past := time.Now().Add(-72 * time.Hour)
	execTx(t, lib.TenantID, loan, uuid.New(), items[0], id, bibID, lib.MainID, "active", past.Add(-21*24*time.Hour), past, nil)
	execTx(t, lib.TenantID, loan, uuid.New(), items[1], id, bibID, lib.MainID, "lost", past.Add(-60*24*time.Hour), past, past)
	body = get()
	codes := blockCodes(t, body)
	if !hasCode(codes, "overdue") || !hasCode(codes, "lost") || hasCode(codes, "fines") {
		t.Fatalf("loan blocks %v", codes)
	}
	st := body["standing"].(map[string]any)
	if st["loans"].(float64) != 2 || st["overdue"].(float64) != 1 || st["lost"].(float64) != 1 {
		t.Fatalf("standing %v", st)
	}
	// Clearing the thresholds clears the automatic blocks.
	want(t, call(t, s, "PATCH", "/api/v1/patron-categories/adult", lib.Token, map[string]any{"max_overdue": nil, "max_lost": nil}), 200)
	if codes := blockCodes(t, get()); len(codes) != 0 {
		t.Fatalf("blocks without thresholds %v", codes)
	}
}

func TestPatrons_BranchScope(t *testing.T) {
	s, _ := newPatronServer(t)
	lib := signup(t, s, "pscope", "library")
	x := addBranch(t, s, lib.Token, map[string]any{"name": "X", "code": "XB", "parent_id": lib.RootID, "kind": "branch"})["id"].(string)
	_, clerk := addStaff(t, s, lib, "clerk@"+lib.Slug+".example.org", tenants.RoleCirculation, x)

	// At their own branch: yes. At another: 403 forbidden_branch.
	mine := addPatron(t, s, lib, clerk, map[string]any{"card_number": "X-1", "home_branch_id": x})
	r := call(t, s, "POST", "/api/v1/patrons", clerk, map[string]any{"card_number": "Y-1", "last_name": "Y",
		"category": "adult", "home_branch_id": lib.MainID})
	want(t, r, 403, "forbidden_branch")
	theirs := addPatron(t, s, lib, lib.Token, map[string]any{"card_number": "Y-2"})["id"].(string)

	// Reading is not branch-scoped (patrons are shared in the library).
	want(t, call(t, s, "GET", "/api/v1/patrons/"+theirs, clerk, nil), 200)
	// Changing is.
	want(t, call(t, s, "PATCH", "/api/v1/patrons/"+theirs, clerk, map[string]any{"notes": "x"}), 403, "forbidden_branch")
	want(t, call(t, s, "POST", "/api/v1/patrons/"+theirs+"/blocks", clerk, map[string]any{"reason": "x"}), 403, "forbidden_branch")
	// Moving one's own patron out of one's subtree is refused too.
	want(t, call(t, s, "PATCH", "/api/v1/patrons/"+mine["id"].(string), clerk, map[string]any{"home_branch_id": lib.MainID}), 403, "forbidden_branch")
	want(t, call(t, s, "PATCH", "/api/v1/patrons/"+mine["id"].(string), clerk, map[string]any{"notes": "regular"}), 200)
	// Merging needs both records in scope.
	want(t, call(t, s, "POST", "/api/v1/patrons/"+mine["id"].(string)+"/merge", clerk, map[string]any{"from_patron_id": theirs}), 403, "forbidden_branch")
}

func TestPatrons_Merge(t *testing.T) {
	s, _ := newPatronServer(t)
	lib := signup(t, s, "pmerge", "library")
	other := signup(t, s, "pmerge-b", "library")
	keep := addPatron(t, s, lib, lib.Token, map[string]any{"card_number": "M-1", "first_name": "Mary", "last_name": "Major"})["id"].(string)
	dup := addPatron(t, s, lib, lib.Token, map[string]any{"card_number": "M-2", "first_name": "Mary", "last_name": "Major"})["id"].(string)
	child := addPatron(t, s, lib, lib.Token, map[string]any{"card_number": "M-3", "first_name": "Minnie", "last_name": "Major", "guarantor_id": dup})["id"].(string)
	foreign := addPatron(t, s, other, other.Token, map[string]any{"card_number": "M-9"})["id"].(string)

	fee := uuid.New()
	execTx(t, lib.TenantID, `INSERT INTO fee_entries (tenant_id, id, patron_id, kind, charge_type, amount, currency)
		VALUES (app.current_tenant_id(), ?, ?, 'charge', 'damage', 1200, 'USD')`, fee, dup)
	r := call(t, s, "POST", "/api/v1/patrons/"+dup+"/blocks", lib.Token, map[string]any{"reason": "Owes a book"})
	want(t, r, 201)
	blockID := r.Body["id"].(string)

	for _, tc := range []struct {
		name   string
		to     string
		body   any
		status int
		code   string
	}{
		{"into itself", keep, map[string]any{"from_patron_id": keep}, 422, "merge_into_self"},
		{"missing from", keep, map[string]any{}, 422, "required"},
		{"unknown from", keep, map[string]any{"from_patron_id": uuid.NewString()}, 422, "invalid_patron"},
		{"other tenant's from", keep, map[string]any{"from_patron_id": foreign}, 422, "invalid_patron"},
		{"unknown target", uuid.NewString(), map[string]any{"from_patron_id": dup}, 404, ""},
		{"other tenant's target", foreign, map[string]any{"from_patron_id": dup}, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want(t, call(t, s, "POST", "/api/v1/patrons/"+tc.to+"/merge", lib.Token, tc.body), tc.status, tc.code)
		})
	}

	r = call(t, s, "POST", "/api/v1/patrons/"+keep+"/merge", lib.Token, map[string]any{"from_patron_id": dup})
	want(t, r, 200)
	if r.Body["id"] != keep {
		t.Fatalf("merge answers %s", r.Raw)
	}
	if bal := r.Body["standing"].(map[string]any)["balance"].(map[string]any); bal["amount"].(float64) != 1200 {
		t.Fatalf("fee not moved: %v", bal)
	}
	found := false
	for _, b := range r.Body["blocks"].([]any) {
		if b.(map[string]any)["block_id"] == blockID {
			found = true
		}
	}
	if !found {
		t.Fatalf("manual block not moved: %v", r.Body["blocks"])
	}
	r = call(t, s, "GET", "/api/v1/patrons/"+dup, lib.Token, nil)
	want(t, r, 200)
	if r.Body["status"] != "merged" || r.Body["merged_into"] != keep || !hasCode(blockCodes(t, r.Body), "merged") {
		t.Fatalf("merged record %s", r.Raw)
	}
	if bal := r.Body["standing"].(map[string]any)["balance"].(map[string]any); bal["amount"].(float64) != 0 {
		t.Fatalf("fee left on the duplicate: %v", bal)
	}
	r = call(t, s, "GET", "/api/v1/patrons/"+child, lib.Token, nil)
	if r.Body["guarantor_id"] != keep {
		t.Fatalf("guarantor link not moved: %v", r.Body["guarantor_id"])
	}
	patronsTx(t, lib.TenantID, func(_ context.Context, tx *gorm.DB) error {
		var owner string
		err := tx.Raw(`SELECT patron_id::text FROM fee_entries WHERE id = ?`, fee).Row().Scan(&owner)
		if owner != keep {
			t.Errorf("fee entry belongs to %s", owner)
		}
		return err
	})

	// A merged record cannot be merged again, changed or merged into.
	want(t, call(t, s, "POST", "/api/v1/patrons/"+keep+"/merge", lib.Token, map[string]any{"from_patron_id": dup}), 409, "patron_merged")
	want(t, call(t, s, "POST", "/api/v1/patrons/"+dup+"/merge", lib.Token, map[string]any{"from_patron_id": child}), 409, "patron_merged")
	want(t, call(t, s, "PATCH", "/api/v1/patrons/"+dup, lib.Token, map[string]any{"notes": "x"}), 409, "patron_merged")
	// Its card number still finds it.
	if ids := listIDs(t, call(t, s, "GET", "/api/v1/patrons?q=M-2", lib.Token, nil)); len(ids) != 1 || ids[0] != dup {
		t.Fatalf("merged card search %v", ids)
	}
}

func setSelfRegistration(t *testing.T, tenantID, mode string) {
	t.Helper()
	execTx(t, tenantID, `UPDATE circ_settings SET self_registration = ?`, mode)
}

var cardNumberRe = regexp.MustCompile(`^[0-9]{14}$`)

func TestSelfRegistration(t *testing.T) {
	s, _ := newPatronServer(t)
	lib := signup(t, s, "selfreg", "library")
	other := signup(t, s, "selfreg-b", "library")
	form := func(over map[string]any) map[string]any {
		b := map[string]any{"library": lib.Slug, "first_name": "Rita", "last_name": "Reader",
			"email": fmt.Sprintf("rita-%s@example.org", uuid.NewString()[:6]), "pin": "2468"}
		for k, v := range over {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}

	t.Run("off", func(t *testing.T) {
		setSelfRegistration(t, lib.TenantID, "off")
		want(t, call(t, s, "POST", "/api/v1/opac/register", "", form(nil)), 403, "self_registration_disabled")
	})

	t.Run("staff approval", func(t *testing.T) {
		setSelfRegistration(t, lib.TenantID, "staff_approval")
		r := call(t, s, "POST", "/api/v1/opac/register", "", form(map[string]any{"phone": "555-0101", "birth_date": "1990-02-03"}))
		want(t, r, 201)
		if r.Body["status"] != "pending" || !cardNumberRe.MatchString(r.Body["card_number"].(string)) {
			t.Fatalf("registration %s", r.Raw)
		}
		for _, secret := range []string{"token", "pin", "hash"} {
			if strings.Contains(string(r.Raw), secret) {
				t.Fatalf("registration answer mentions %s: %s", secret, r.Raw)
			}
		}
		id := r.Body["patron_id"].(string)
		g := call(t, s, "GET", "/api/v1/patrons/"+id, lib.Token, nil)
		want(t, g, 200)
		if g.Body["home_branch_id"] != lib.MainID || g.Body["category"] != "adult" || g.Body["has_pin"] != true ||
			!hasCode(blockCodes(t, g.Body), "pending") {
			t.Fatalf("registered patron %s", g.Raw)
		}
		// Pending registrations are found by status.
		if ids := listIDs(t, call(t, s, "GET", "/api/v1/patrons?status=pending", lib.Token, nil)); !containsStr(ids, id) {
			t.Fatalf("pending list %v", ids)
		}
		// Read-only staff cannot approve; staff with patrons.write can, once.
		_, viewer := addStaff(t, s, lib, "viewer@"+lib.Slug+".example.org", tenants.RoleReadonly, lib.RootID)
		want(t, call(t, s, "POST", "/api/v1/patrons/"+id+"/approve", viewer, nil), 403, "forbidden")
		a := call(t, s, "POST", "/api/v1/patrons/"+id+"/approve", lib.Token, nil)
		want(t, a, 200)
		if a.Body["status"] != "active" || len(blockCodes(t, a.Body)) != 0 {
			t.Fatalf("approved %s", a.Raw)
		}
		want(t, call(t, s, "POST", "/api/v1/patrons/"+id+"/approve", lib.Token, nil), 409, "not_pending")
		want(t, call(t, s, "POST", "/api/v1/patrons/"+uuid.NewString()+"/approve", lib.Token, nil), 404)
	})

	t.Run("email verification", func(t *testing.T) {
		setSelfRegistration(t, lib.TenantID, "email_verification")
		r := call(t, s, "POST", "/api/v1/opac/register", "", form(nil))
		want(t, r, 201)
		if r.Body["status"] != "pending" || r.Body["verification"] != "email" || strings.Contains(string(r.Raw), "token") {
			t.Fatalf("registration %s", r.Raw)
		}
		id := r.Body["patron_id"].(string)
		patronsTx(t, lib.TenantID, func(_ context.Context, tx *gorm.DB) error {
			var n int
			err := tx.Raw(`SELECT count(*) FROM patrons WHERE id = ? AND verify_token_hash IS NOT NULL AND octet_length(verify_token_hash) = 32`, id).Row().Scan(&n)
			if n != 1 {
				t.Errorf("no token hash stored")
			}
			return err
		})
		// The code went out in a verification notice (the outbox, written
		// with the registration); take it from there.
		nr := call(t, s, "GET", "/api/v1/notices?kind=verification&patron_id="+id, lib.Token, nil)
		want(t, nr, 200)
		items := nr.Body["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("verification notices: %s", nr.Raw)
		}
		body := items[0].(map[string]any)["body_text"].(string)
		_, after, _ := strings.Cut(body, "enter this code where you registered:")
		token := strings.Fields(after)[0]
		// The token is the library's: another library does not know it.
		want(t, call(t, s, "POST", "/api/v1/opac/verify-email", "", map[string]any{"library": other.Slug, "token": token}), 422, "invalid_token")
		want(t, call(t, s, "POST", "/api/v1/opac/verify-email", "", map[string]any{"library": lib.Slug, "token": "forged"}), 422, "invalid_token")
		v := call(t, s, "POST", "/api/v1/opac/verify-email", "", map[string]any{"library": lib.Slug, "token": token})
		want(t, v, 200)
		if v.Body["status"] != "active" || v.Body["patron_id"] != id {
			t.Fatalf("verified %s", v.Raw)
		}
		g := call(t, s, "GET", "/api/v1/patrons/"+id, lib.Token, nil)
		if g.Body["status"] != "active" || g.Body["email_verified_at"] == nil || len(blockCodes(t, g.Body)) != 0 {
			t.Fatalf("verified patron %s", g.Raw)
		}
		// A token works once.
		want(t, call(t, s, "POST", "/api/v1/opac/verify-email", "", map[string]any{"library": lib.Slug, "token": token}), 422, "invalid_token")
	})

	t.Run("errors", func(t *testing.T) {
		setSelfRegistration(t, lib.TenantID, "staff_approval")
		for _, tc := range []struct {
			name   string
			path   string
			body   any
			status int
			code   string
		}{
			{"unknown library", "/api/v1/opac/register", form(map[string]any{"library": "no-such-library-xyz"}), 404, "library_not_found"},
			{"missing library", "/api/v1/opac/register", form(map[string]any{"library": nil}), 422, "required"},
			{"missing email", "/api/v1/opac/register", form(map[string]any{"email": nil}), 422, "required"},
			{"bad email", "/api/v1/opac/register", form(map[string]any{"email": "rita"}), 422, "invalid_email"},
			{"missing last name", "/api/v1/opac/register", form(map[string]any{"last_name": nil}), 422, "required"},
			{"missing pin", "/api/v1/opac/register", form(map[string]any{"pin": nil}), 422, "required"},
			{"short pin", "/api/v1/opac/register", form(map[string]any{"pin": "12"}), 422, "invalid_pin"},
			{"other library's branch", "/api/v1/opac/register", form(map[string]any{"home_branch_id": other.MainID}), 422, "invalid_branch"},
			{"too young for adult", "/api/v1/opac/register", form(map[string]any{"birth_date": "2999-01-01"}), 422, "invalid_date"},
			{"unknown field", "/api/v1/opac/register", form(map[string]any{"status": "active"}), 400, "unknown_field"},
			{"verify unknown library", "/api/v1/opac/verify-email", map[string]any{"library": "no-such-library-xyz", "token": "x"}, 404, "library_not_found"},
			{"verify missing token", "/api/v1/opac/verify-email", map[string]any{"library": lib.Slug}, 422, "required"},
		} {
			t.Run(tc.name, func(t *testing.T) { want(t, call(t, s, "POST", tc.path, "", tc.body), tc.status, tc.code) })
		}
		// The category's ages apply: child-only self-registration refuses adults.
		execTx(t, lib.TenantID, `UPDATE circ_settings SET self_registration_category = 'child'`)
		want(t, call(t, s, "POST", "/api/v1/opac/register", "", form(map[string]any{"birth_date": "1970-01-01"})), 422, "age_outside_category")
		execTx(t, lib.TenantID, `UPDATE circ_settings SET self_registration_category = 'adult'`)
		// A chosen home branch of the library is kept.
		north := addBranch(t, s, lib.Token, map[string]any{"name": "North", "code": "NORTH", "parent_id": lib.RootID, "kind": "branch"})["id"].(string)
		r := call(t, s, "POST", "/api/v1/opac/register", "", form(map[string]any{"home_branch_id": north}))
		want(t, r, 201)
		g := call(t, s, "GET", "/api/v1/patrons/"+r.Body["patron_id"].(string), lib.Token, nil)
		if g.Body["home_branch_id"] != north {
			t.Fatalf("home branch %v", g.Body["home_branch_id"])
		}
	})
}

func containsStr(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// A new patron with an email address is welcomed with their card number;
// one registering online who waits for approval is told so; one who must
// confirm their address gets only the verification mail.
func TestWelcomeNotice(t *testing.T) {
	s, _ := newPatronServer(t)
	lib := signup(t, s, "welcome", "library")
	welcomes := func(patronID string) []any {
		r := call(t, s, "GET", "/api/v1/notices?kind=welcome&patron_id="+patronID, lib.Token, nil)
		want(t, r, 200)
		return r.Body["items"].([]any)
	}
	p := addPatron(t, s, lib, lib.Token, map[string]any{"card_number": "W-1", "first_name": "Wanda", "last_name": "Elcome",
		"email": "wanda@example.org", "category": "adult", "home_branch_id": lib.MainID})
	ws := welcomes(p["id"].(string))
	if len(ws) != 1 {
		t.Fatalf("welcome notices: %v", ws)
	}
	w := ws[0].(map[string]any)
	if w["to"] != "wanda@example.org" || !strings.HasPrefix(w["subject"].(string), "Welcome to ") ||
		!strings.Contains(w["body_text"].(string), "card number is W-1") || strings.Contains(w["body_text"].(string), "activate") {
		t.Fatalf("welcome: %v", w)
	}
	if q := addPatron(t, s, lib, lib.Token, map[string]any{"card_number": "W-2", "last_name": "Nomail", "category": "adult",
		"home_branch_id": lib.MainID}); len(welcomes(q["id"].(string))) != 0 {
		t.Fatalf("a patron without an address was welcomed")
	}

	setSelfRegistration(t, lib.TenantID, "staff_approval")
	r := call(t, s, "POST", "/api/v1/opac/register", "", map[string]any{"library": lib.Slug, "first_name": "Otto", "last_name": "Pending",
		"email": "otto@example.org", "pin": "2468"})
	want(t, r, 201)
	if ws := welcomes(r.Body["patron_id"].(string)); len(ws) != 1 || !strings.Contains(ws[0].(map[string]any)["body_text"].(string), "activate your card") {
		t.Fatalf("pending welcome: %v", ws)
	}
	setSelfRegistration(t, lib.TenantID, "email_verification")
	r = call(t, s, "POST", "/api/v1/opac/register", "", map[string]any{"library": lib.Slug, "first_name": "Vic", "last_name": "Verify",
		"email": "vic@example.org", "pin": "2468"})
	want(t, r, 201)
	if ws := welcomes(r.Body["patron_id"].(string)); len(ws) != 0 {
		t.Fatalf("a patron who must verify got a welcome too: %v", ws)
	}
}
