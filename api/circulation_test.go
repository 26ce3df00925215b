package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api"
	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/circulation"
	"github.com/stacks-ils/stacks/api/circulation/policy"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

// desk is a signed-up library with a branch, a catalogue and patrons, seen
// from its owner.
type desk struct {
	t   *testing.T
	s   *api.Server
	lib library
	n   int
}

func newDesk(t *testing.T, s *api.Server, prefix string) *desk {
	return &desk{t: t, s: s, lib: signup(t, s, prefix, "library")}
}

// item creates a record with one copy at branch and returns the item.
func (d *desk) item(branch, itemType string) map[string]any {
	d.t.Helper()
	d.n++
	bib := createBib(d.t, d.s, d.lib.Token, map[string]any{"title": fmt.Sprintf("Circulation title %d", d.n)})
	r := call(d.t, d.s, "POST", "/api/v1/items", d.lib.Token, map[string]any{
		"bib_id": bib["id"], "barcode": fmt.Sprintf("I%05d", d.n), "branch_id": branch, "item_type": itemType})
	want(d.t, r, 201)
	return r.Body
}

// copyOf adds another copy of the item's record.
func (d *desk) copyOf(item map[string]any, branch string) map[string]any {
	d.t.Helper()
	d.n++
	r := call(d.t, d.s, "POST", "/api/v1/items", d.lib.Token, map[string]any{
		"bib_id": item["bib_id"], "barcode": fmt.Sprintf("I%05d", d.n), "branch_id": branch, "item_type": item["item_type"]})
	want(d.t, r, 201)
	return r.Body
}

// patron registers an adult patron at branch.
func (d *desk) patron(branch string, extra map[string]any) map[string]any {
	d.t.Helper()
	d.n++
	body := map[string]any{"card_number": fmt.Sprintf("P%05d", d.n), "first_name": "Pat", "last_name": fmt.Sprintf("Ron%d", d.n),
		"email": fmt.Sprintf("p%d@example.org", d.n), "category": "adult", "home_branch_id": branch, "expires_on": "2099-12-31"}
	for k, v := range extra {
		body[k] = v
	}
	r := call(d.t, d.s, "POST", "/api/v1/patrons", d.lib.Token, body)
	want(d.t, r, 201)
	return r.Body
}

func (d *desk) checkout(token string, p, it map[string]any, branch string, extra map[string]any) resp {
	d.t.Helper()
	body := map[string]any{"patron_card": p["card_number"], "item_barcode": it["barcode"], "branch_id": branch}
	for k, v := range extra {
		body[k] = v
	}
	return call(d.t, d.s, "POST", "/api/v1/circulation/checkout", token, body)
}

func (d *desk) checkin(token string, it map[string]any, branch string, extra map[string]any) resp {
	d.t.Helper()
	body := map[string]any{"item_barcode": it["barcode"], "branch_id": branch}
	for k, v := range extra {
		body[k] = v
	}
	return call(d.t, d.s, "POST", "/api/v1/circulation/checkin", token, body)
}

func (d *desk) rule(body map[string]any) map[string]any {
	d.t.Helper()
	r := call(d.t, d.s, "POST", "/api/v1/circulation/rules", d.lib.Token, body)
	want(d.t, r, 201)
	return r.Body
}

func (d *desk) itemStatus(it map[string]any) string {
	d.t.Helper()
	r := call(d.t, d.s, "GET", "/api/v1/items/"+it["id"].(string), d.lib.Token, nil)
	want(d.t, r, 200)
	return r.Body["status"].(string)
}

func (d *desk) sql(q string, args ...any) {
	d.t.Helper()
	env := tenanttest.Get(d.t)
	id := mustUUID(d.t, d.lib.TenantID)
	if err := env.Pool.Tx(context.Background(), id, func(ctx context.Context, tx *gorm.DB) error {
		return tx.Exec(q, args...).Error
	}); err != nil {
		d.t.Fatal(err)
	}
}

func money(amount int64) map[string]any { return map[string]any{"amount": amount, "currency": "USD"} }

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

func TestCirculation_CheckoutAndCheckin(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "circ")
	it := d.item(d.lib.MainID, "book")
	p := d.patron(d.lib.MainID, nil)

	r := d.checkout(d.lib.Token, p, it, d.lib.MainID, nil)
	want(t, r, 201)
	loan := obj(r.Body["loan"])
	for _, k := range []string{"id", "item_id", "patron_id", "checked_out_at", "due_at", "rule_id", "renewals_left"} {
		if _, ok := loan[k]; !ok {
			t.Fatalf("loan has no %s: %s", k, r.Raw)
		}
	}
	if loan["renewals_left"] != float64(3) || loan["item_id"] != it["id"] || loan["patron_id"] != p["id"] {
		t.Fatalf("loan: %s", r.Raw)
	}
	// The fallback rule lends for 21 days; due at the end of the day in the
	// library's time zone (America/Chicago).
	due, _ := time.Parse(time.RFC3339, loan["due_at"].(string))
	chicago, _ := time.LoadLocation("America/Chicago")
	local := due.In(chicago)
	wantDay := time.Now().In(chicago).AddDate(0, 0, 21).Format(time.DateOnly)
	if local.Format(time.DateOnly) != wantDay || local.Hour() != 23 || local.Minute() != 59 {
		t.Fatalf("due %s (local %s), want end of %s", due, local, wantDay)
	}
	if st := d.itemStatus(it); st != "checked_out" {
		t.Fatalf("item status %s after checkout", st)
	}
	// The patron's account shows the loan.
	r = call(t, s, "GET", "/api/v1/patrons/"+p["id"].(string)+"/loans", d.lib.Token, nil)
	want(t, r, 200)
	if items := r.Body["items"].([]any); len(items) != 1 || obj(items[0])["barcode"] != it["barcode"] {
		t.Fatalf("patron loans: %s", r.Raw)
	}

	r = d.checkin(d.lib.Token, it, d.lib.MainID, nil)
	want(t, r, 200)
	if r.Body["route"] != "shelf" || r.Body["fine"] != nil || obj(r.Body["loan"])["status"] != "returned" {
		t.Fatalf("checkin: %s", r.Raw)
	}
	if st := d.itemStatus(it); st != "available" {
		t.Fatalf("item status %s after checkin", st)
	}
	// Checking in an item that is not on loan is fine.
	r = d.checkin(d.lib.Token, it, d.lib.MainID, nil)
	want(t, r, 200)
	if r.Body["route"] != "shelf" || r.Body["loan"] != nil {
		t.Fatalf("second checkin: %s", r.Raw)
	}
	// Borrowing history is kept by default.
	r = call(t, s, "GET", "/api/v1/patrons/"+p["id"].(string)+"/loans?status=history", d.lib.Token, nil)
	want(t, r, 200)
	if len(r.Body["items"].([]any)) != 1 {
		t.Fatalf("history: %s", r.Raw)
	}
	// The audit log has both actions.
	r = call(t, s, "GET", "/api/v1/circulation/audit?item_id="+it["id"].(string), d.lib.Token, nil)
	want(t, r, 200)
	if n := len(r.Body["items"].([]any)); n != 3 {
		t.Fatalf("%d audit entries, want 3 (checkout, checkin, checkin): %s", n, r.Raw)
	}
}

func TestCheckout_Refusals(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "refuse")
	east := addBranch(t, s, d.lib.Token, map[string]any{"name": "East", "code": "EAST", "parent_id": d.lib.RootID})["id"].(string)
	_, clerk := addStaff(t, s, d.lib, "clerk@refuse.example.org", tenants.RoleCirculation, d.lib.MainID)
	main := d.lib.MainID

	type tc struct {
		name   string
		setup  func() (token string, body map[string]any)
		status int
		code   string
	}
	cases := []tc{
		{"unknown patron", func() (string, map[string]any) {
			it := d.item(main, "book")
			return d.lib.Token, map[string]any{"patron_card": "NOPE", "item_barcode": it["barcode"], "branch_id": main}
		}, 422, "patron_not_found"},
		{"unknown item", func() (string, map[string]any) {
			p := d.patron(main, nil)
			return d.lib.Token, map[string]any{"patron_card": p["card_number"], "item_barcode": "NOPE", "branch_id": main}
		}, 422, "item_not_found"},
		{"item out to someone else", func() (string, map[string]any) {
			it, a, b := d.item(main, "book"), d.patron(main, nil), d.patron(main, nil)
			want(t, d.checkout(d.lib.Token, a, it, main, nil), 201)
			return d.lib.Token, map[string]any{"patron_card": b["card_number"], "item_barcode": it["barcode"], "branch_id": main}
		}, 409, "item_not_available"},
		{"item already out to this patron", func() (string, map[string]any) {
			it, a := d.item(main, "book"), d.patron(main, nil)
			want(t, d.checkout(d.lib.Token, a, it, main, nil), 201)
			return d.lib.Token, map[string]any{"patron_card": a["card_number"], "item_barcode": it["barcode"], "branch_id": main}
		}, 409, "item_already_on_loan_to_patron"},
		{"item withdrawn", func() (string, map[string]any) {
			it, a := d.item(main, "book"), d.patron(main, nil)
			want(t, call(t, s, "PATCH", "/api/v1/items/"+it["id"].(string), d.lib.Token, map[string]any{"status": "withdrawn"}), 200)
			return d.lib.Token, map[string]any{"patron_card": a["card_number"], "item_barcode": it["barcode"], "branch_id": main}
		}, 409, "item_not_available"},
		{"reference item", func() (string, map[string]any) {
			it, a := d.item(main, "reference"), d.patron(main, nil)
			return d.lib.Token, map[string]any{"patron_card": a["card_number"], "item_barcode": it["barcode"], "branch_id": main}
		}, 422, "item_not_loanable"},
		{"expired card", func() (string, map[string]any) {
			it, a := d.item(main, "book"), d.patron(main, map[string]any{"expires_on": "2020-01-31"})
			return d.lib.Token, map[string]any{"patron_card": a["card_number"], "item_barcode": it["barcode"], "branch_id": main}
		}, 409, "patron_expired"},
		{"manual block", func() (string, map[string]any) {
			it, a := d.item(main, "book"), d.patron(main, nil)
			want(t, call(t, s, "POST", "/api/v1/patrons/"+a["id"].(string)+"/blocks", d.lib.Token, map[string]any{"reason": "Unpaid damage"}), 201)
			return d.lib.Token, map[string]any{"patron_card": a["card_number"], "item_barcode": it["barcode"], "branch_id": main}
		}, 409, "patron_blocked"},
		{"item on hold for another patron", func() (string, map[string]any) {
			it, a, b := d.item(main, "book"), d.patron(main, nil), d.patron(main, nil)
			want(t, call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": b["id"], "item_id": it["id"], "pickup_branch_id": main}), 201)
			return d.lib.Token, map[string]any{"patron_card": a["card_number"], "item_barcode": it["barcode"], "branch_id": main}
		}, 409, "item_on_hold_for_other"},
		{"future time", func() (string, map[string]any) {
			it, a := d.item(main, "book"), d.patron(main, nil)
			return d.lib.Token, map[string]any{"patron_card": a["card_number"], "item_barcode": it["barcode"], "branch_id": main,
				"at": time.Now().Add(time.Hour).Format(time.RFC3339)}
		}, 422, "future_time"},
		{"clerk may not backdate", func() (string, map[string]any) {
			it, a := d.item(main, "book"), d.patron(main, nil)
			return clerk, map[string]any{"patron_card": a["card_number"], "item_barcode": it["barcode"], "branch_id": main,
				"at": time.Now().Add(-time.Hour).Format(time.RFC3339)}
		}, 403, "backdate_not_allowed"},
		{"clerk at another branch", func() (string, map[string]any) {
			it, a := d.item(east, "book"), d.patron(main, nil)
			return clerk, map[string]any{"patron_card": a["card_number"], "item_barcode": it["barcode"], "branch_id": east}
		}, 403, "forbidden_branch"},
		{"unknown branch", func() (string, map[string]any) {
			it, a := d.item(main, "book"), d.patron(main, nil)
			return d.lib.Token, map[string]any{"patron_card": a["card_number"], "item_barcode": it["barcode"], "branch_id": "0190e0d5-9a2b-7c3d-8e4f-5a6b7c8d9e0f"}
		}, 422, "invalid_branch"},
		{"clerk may not override", func() (string, map[string]any) {
			it, a := d.item(main, "reference"), d.patron(main, nil)
			return clerk, map[string]any{"patron_card": a["card_number"], "item_barcode": it["barcode"], "branch_id": main,
				"override": map[string]any{"reason": "please"}}
		}, 403, "override_not_allowed"},
		{"override needs a reason", func() (string, map[string]any) {
			it, a := d.item(main, "reference"), d.patron(main, nil)
			return d.lib.Token, map[string]any{"patron_card": a["card_number"], "item_barcode": it["barcode"], "branch_id": main,
				"override": map[string]any{"reason": " "}}
		}, 422, "override_reason_required"},
		{"checked-out item cannot be overridden", func() (string, map[string]any) {
			it, a, b := d.item(main, "book"), d.patron(main, nil), d.patron(main, nil)
			want(t, d.checkout(d.lib.Token, a, it, main, nil), 201)
			return d.lib.Token, map[string]any{"patron_card": b["card_number"], "item_barcode": it["barcode"], "branch_id": main,
				"override": map[string]any{"reason": "sure"}}
		}, 409, "item_not_available"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			token, body := c.setup()
			r := call(t, s, "POST", "/api/v1/circulation/checkout", token, body)
			want(t, r, c.status, c.code)
			if msg := obj(r.Body["error"])["message"]; msg == "" || msg == nil {
				t.Fatalf("no message a clerk can read: %s", r.Raw)
			}
		})
	}

	t.Run("loan limit from a rule", func(t *testing.T) {
		d.rule(map[string]any{"item_type": "dvd", "loan_days": 7, "max_loans": 1, "renewals": 1})
		p := d.patron(main, nil)
		want(t, d.checkout(d.lib.Token, p, d.item(main, "dvd"), main, nil), 201)
		r := d.checkout(d.lib.Token, p, d.item(main, "dvd"), main, nil)
		want(t, r, 409, "loan_limit_reached")
		// Books are not DVDs: the DVD limit does not count them.
		want(t, d.checkout(d.lib.Token, p, d.item(main, "book"), main, nil), 201)
	})

	t.Run("owner overrides with a reason, audited", func(t *testing.T) {
		it, p := d.item(main, "reference"), d.patron(main, nil)
		r := d.checkout(d.lib.Token, p, it, main, map[string]any{"override": map[string]any{"reason": "Teacher needs it overnight"}})
		want(t, r, 201)
		loanID := obj(r.Body["loan"])["id"].(string)
		a := call(t, s, "GET", "/api/v1/circulation/audit?loan_id="+loanID, d.lib.Token, nil)
		want(t, a, 200)
		e := obj(a.Body["items"].([]any)[0])
		if e["override_reason"] != "Teacher needs it overnight" || fmt.Sprint(e["override_codes"]) != "[item_not_loanable]" || e["staff_id"] != d.lib.OwnerID {
			t.Fatalf("audit entry: %s", a.Raw)
		}
	})
}

func TestCheckin_OverdueFineFromRule(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "fine")
	main := d.lib.MainID
	d.rule(map[string]any{"item_type": "dvd", "loan_days": 7, "renewals": 0, "fine_per_day": money(25), "max_fine": money(150)})
	cases := []struct {
		name     string
		daysAgo  int
		wantFine any
	}{
		{"on time", 5, nil},
		{"3 days late", 10, float64(75)},
		{"capped", 40, float64(150)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			it, p := d.item(main, "dvd"), d.patron(main, nil)
			at := time.Now().AddDate(0, 0, -c.daysAgo).Format(time.RFC3339)
			want(t, d.checkout(d.lib.Token, p, it, main, map[string]any{"at": at}), 201)
			r := d.checkin(d.lib.Token, it, main, nil)
			want(t, r, 200)
			var got any
			if f := obj(r.Body["fine"]); f != nil {
				got = f["amount"]
			}
			if got != c.wantFine {
				t.Fatalf("fine %v, want %v: %s", got, c.wantFine, r.Raw)
			}
			f := call(t, s, "GET", "/api/v1/patrons/"+p["id"].(string)+"/fines", d.lib.Token, nil)
			want(t, f, 200)
			bal := obj(f.Body["balance"])
			wantBal := c.wantFine
			if wantBal == nil {
				wantBal = float64(0)
			}
			if bal["amount"] != wantBal || bal["currency"] != "USD" {
				t.Fatalf("balance %v, want %v", bal, wantBal)
			}
		})
	}
	t.Run("returned_at in the future", func(t *testing.T) {
		it := d.item(main, "dvd")
		r := d.checkin(d.lib.Token, it, main, map[string]any{"returned_at": time.Now().Add(time.Hour).Format(time.RFC3339)})
		want(t, r, 422, "future_time")
	})
}

func TestRenewals(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "renew")
	main := d.lib.MainID
	d.rule(map[string]any{"item_type": "dvd", "loan_days": 7, "renewals": 1, "renewal_days": 7})
	d.rule(map[string]any{"item_type": "magazine", "loan_days": 14, "renewals": 5, "no_renewal_before_days": 3})
	p := d.patron(main, nil)

	dvd := d.item(main, "dvd")
	r := d.checkout(d.lib.Token, p, dvd, main, map[string]any{"at": time.Now().AddDate(0, 0, -6).Format(time.RFC3339)})
	want(t, r, 201)
	loanID := obj(r.Body["loan"])["id"].(string)
	oldDue := obj(r.Body["loan"])["due_at"].(string)
	r = call(t, s, "POST", "/api/v1/loans/"+loanID+"/renew", d.lib.Token, nil)
	want(t, r, 200)
	l := obj(r.Body["loan"])
	if l["renewals_left"] != float64(0) || l["due_at"] == oldDue || l["rule_id"] == nil {
		t.Fatalf("renewed loan: %s", r.Raw)
	}
	r = call(t, s, "POST", "/api/v1/loans/"+loanID+"/renew", d.lib.Token, nil)
	want(t, r, 409, "no_renewals_left")

	mag := d.item(main, "magazine")
	r = d.checkout(d.lib.Token, p, mag, main, nil)
	want(t, r, 201)
	magLoan := obj(r.Body["loan"])["id"].(string)
	r = call(t, s, "POST", "/api/v1/loans/"+magLoan+"/renew", d.lib.Token, nil)
	want(t, r, 409, "renewal_too_soon")

	book := d.item(main, "book")
	other := d.patron(main, nil)
	r = d.checkout(d.lib.Token, p, book, main, nil)
	want(t, r, 201)
	bookLoan := obj(r.Body["loan"])["id"].(string)
	want(t, call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": other["id"], "bib_id": book["bib_id"], "pickup_branch_id": main}), 201)
	r = call(t, s, "POST", "/api/v1/loans/"+bookLoan+"/renew", d.lib.Token, nil)
	want(t, r, 409, "item_on_hold")

	// Renew-all reports each loan.
	r = call(t, s, "POST", "/api/v1/patrons/"+p["id"].(string)+"/renew-all", d.lib.Token, nil)
	want(t, r, 200)
	if r.Body["renewed"] != float64(0) || r.Body["refused"] != float64(3) {
		t.Fatalf("renew-all: %s", r.Raw)
	}
	codes := map[string]bool{}
	for _, x := range r.Body["results"].([]any) {
		codes[obj(obj(x)["error"])["code"].(string)] = true
	}
	for _, c := range []string{"no_renewals_left", "renewal_too_soon", "item_on_hold"} {
		if !codes[c] {
			t.Fatalf("renew-all results miss %s: %s", c, r.Raw)
		}
	}
	// A returned loan cannot be renewed.
	want(t, d.checkin(d.lib.Token, dvd, main, nil), 200)
	want(t, call(t, s, "POST", "/api/v1/loans/"+loanID+"/renew", d.lib.Token, nil), 409, "loan_not_active")
}

// A hold placed for pickup at another branch: the returned copy travels
// there, waits on the hold shelf, and goes only to the patron who asked.
func TestHolds_TransitToPickupBranchAndTrap(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "holds")
	main := d.lib.MainID
	east := addBranch(t, s, d.lib.Token, map[string]any{"name": "East", "code": "EAST", "parent_id": d.lib.RootID})["id"].(string)
	it := d.item(main, "book")
	borrower, waiter, third := d.patron(main, nil), d.patron(east, nil), d.patron(main, nil)

	want(t, d.checkout(d.lib.Token, borrower, it, main, nil), 201)
	r := call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": waiter["id"], "bib_id": it["bib_id"], "pickup_branch_id": east})
	want(t, r, 201)
	hold := r.Body
	if hold["status"] != "pending" || hold["position"] != float64(1) {
		t.Fatalf("hold: %s", r.Raw)
	}
	r = call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": third["id"], "bib_id": it["bib_id"], "pickup_branch_id": main})
	want(t, r, 201)
	if r.Body["position"] != float64(2) {
		t.Fatalf("second hold position: %s", r.Raw)
	}
	// The same patron twice: refused.
	want(t, call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": waiter["id"], "bib_id": it["bib_id"], "pickup_branch_id": east}), 409, "hold_exists")

	// Returned at MAIN: it travels to EAST for the first hold.
	r = d.checkin(d.lib.Token, it, main, nil)
	want(t, r, 200)
	if r.Body["route"] != "transit" || obj(r.Body["transit"])["to_branch_id"] != east || obj(r.Body["hold"])["id"] != hold["id"] {
		t.Fatalf("checkin at main: %s", r.Raw)
	}
	if st := d.itemStatus(it); st != "in_transit" {
		t.Fatalf("item %s, want in_transit", st)
	}
	r = call(t, s, "GET", "/api/v1/transits?branch_id="+east+"&direction=incoming", d.lib.Token, nil)
	want(t, r, 200)
	if items := r.Body["items"].([]any); len(items) != 1 || obj(items[0])["barcode"] != it["barcode"] {
		t.Fatalf("incoming transits at east: %s", r.Raw)
	}
	// Received at EAST: on the hold shelf with a pickup deadline.
	r = d.checkin(d.lib.Token, it, east, nil)
	want(t, r, 200)
	h := obj(r.Body["hold"])
	if r.Body["route"] != "hold_shelf" || h["status"] != "waiting" || h["shelf_expires_at"] == nil {
		t.Fatalf("checkin at east: %s", r.Raw)
	}
	r = call(t, s, "GET", "/api/v1/transits?branch_id="+east, d.lib.Token, nil)
	want(t, r, 200)
	if len(r.Body["items"].([]any)) != 0 {
		t.Fatalf("transit still open: %s", r.Raw)
	}
	// Someone else cannot take it; the waiting patron can, which fills the hold.
	want(t, d.checkout(d.lib.Token, third, it, east, nil), 409, "item_on_hold_for_other")
	r = d.checkout(d.lib.Token, waiter, it, east, nil)
	want(t, r, 201)
	if obj(r.Body["hold"])["status"] != "fulfilled" {
		t.Fatalf("checkout to the waiting patron: %s", r.Raw)
	}
	// The third patron is now first in the queue.
	r = call(t, s, "GET", "/api/v1/patrons/"+third["id"].(string)+"/holds", d.lib.Token, nil)
	want(t, r, 200)
	if items := r.Body["items"].([]any); len(items) != 1 || obj(items[0])["position"] != float64(1) {
		t.Fatalf("third patron's holds: %s", r.Raw)
	}
}

func TestHolds_RulesLimitsPullListCancel(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "hlim")
	main := d.lib.MainID
	d.rule(map[string]any{"item_type": "magazine", "loan_days": 7, "holds_allowed": false})
	d.rule(map[string]any{"item_type": "dvd", "loan_days": 7, "max_holds": 1})
	p := d.patron(main, nil)

	mag := d.item(main, "magazine")
	want(t, call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": p["id"], "bib_id": mag["bib_id"], "pickup_branch_id": main}), 422, "holds_not_allowed")
	ref := d.item(main, "reference")
	want(t, call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": p["id"], "bib_id": ref["bib_id"], "pickup_branch_id": main}), 422, "item_not_loanable")
	dvd1, dvd2 := d.item(main, "dvd"), d.item(main, "dvd")
	r := call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": p["id"], "bib_id": dvd1["bib_id"], "pickup_branch_id": main})
	want(t, r, 201)
	holdID := r.Body["id"].(string)
	want(t, call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": p["id"], "bib_id": dvd2["bib_id"], "pickup_branch_id": main}), 409, "hold_limit_reached")
	want(t, call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": p["id"], "bib_id": dvd2["bib_id"], "item_id": dvd2["id"], "pickup_branch_id": main}), 422, "bib_or_item")

	// The copy on the shelf is on the pull list.
	r = call(t, s, "GET", "/api/v1/holds/pull-list?branch_id="+main, d.lib.Token, nil)
	want(t, r, 200)
	if items := r.Body["items"].([]any); len(items) != 1 || obj(items[0])["barcode"] != dvd1["barcode"] || obj(items[0])["hold_id"] != holdID {
		t.Fatalf("pull list: %s", r.Raw)
	}
	// Suspended holds are not pulled; resumed ones are.
	want(t, call(t, s, "PATCH", "/api/v1/holds/"+holdID, d.lib.Token, map[string]any{"suspended_until": "2099-01-01"}), 200)
	r = call(t, s, "GET", "/api/v1/holds/pull-list?branch_id="+main, d.lib.Token, nil)
	want(t, r, 200)
	if len(r.Body["items"].([]any)) != 0 {
		t.Fatalf("suspended hold pulled: %s", r.Raw)
	}
	want(t, call(t, s, "PATCH", "/api/v1/holds/"+holdID, d.lib.Token, map[string]any{"suspended_until": ""}), 200)
	// Pulled and scanned: trapped on the hold shelf.
	r = d.checkin(d.lib.Token, dvd1, main, nil)
	want(t, r, 200)
	if r.Body["route"] != "hold_shelf" {
		t.Fatalf("pulled copy: %s", r.Raw)
	}
	// Cancel: the hold closes; the copy may be lent to anyone, and the next
	// scan sends it back to the shelf.
	r = call(t, s, "POST", "/api/v1/holds/"+holdID+"/cancel", d.lib.Token, map[string]any{"reason": "patron called"})
	want(t, r, 200)
	if r.Body["status"] != "canceled" {
		t.Fatalf("cancel: %s", r.Raw)
	}
	want(t, call(t, s, "POST", "/api/v1/holds/"+holdID+"/cancel", d.lib.Token, nil), 409, "hold_closed")
	r = d.checkin(d.lib.Token, dvd1, main, nil)
	want(t, r, 200)
	if r.Body["route"] != "shelf" || d.itemStatus(dvd1) != "available" {
		t.Fatalf("scan after cancel: %s", r.Raw)
	}
}

func TestLostClaimsReturnedFound(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "lost")
	main := d.lib.MainID
	d.rule(map[string]any{"item_type": "book", "loan_days": 14, "processing_fee": money(300)})
	p := d.patron(main, nil)

	it := d.item(main, "book")
	want(t, call(t, s, "PATCH", "/api/v1/items/"+it["id"].(string), d.lib.Token, map[string]any{"price": money(2500)}), 200)
	r := d.checkout(d.lib.Token, p, it, main, nil)
	want(t, r, 201)
	loanID := obj(r.Body["loan"])["id"].(string)
	r = call(t, s, "POST", "/api/v1/loans/"+loanID+"/lost", d.lib.Token, nil)
	want(t, r, 200)
	if obj(r.Body["loan"])["status"] != "lost" || len(r.Body["charges"].([]any)) != 2 || d.itemStatus(it) != "lost" {
		t.Fatalf("lost: %s", r.Raw)
	}
	fines := call(t, s, "GET", "/api/v1/patrons/"+p["id"].(string)+"/fines", d.lib.Token, nil)
	if obj(fines.Body["balance"])["amount"] != float64(2800) {
		t.Fatalf("balance after lost: %s", fines.Raw)
	}
	// Paid in full, then found: the replacement cost is credited back, the
	// processing fee stays, and the patron is in credit for 25.00.
	want(t, call(t, s, "POST", "/api/v1/patrons/"+p["id"].(string)+"/payments", d.lib.Token, map[string]any{"amount": money(2800), "method": "card"}), 201)
	r = call(t, s, "POST", "/api/v1/loans/"+loanID+"/found", d.lib.Token, map[string]any{"branch_id": main})
	want(t, r, 200)
	if obj(r.Body["credit"])["amount"] != float64(2500) || obj(r.Body["loan"])["status"] != "returned" || d.itemStatus(it) != "available" {
		t.Fatalf("found: %s", r.Raw)
	}
	fines = call(t, s, "GET", "/api/v1/patrons/"+p["id"].(string)+"/fines", d.lib.Token, nil)
	if obj(fines.Body["balance"])["amount"] != float64(-2500) {
		t.Fatalf("balance after found: %s", fines.Raw)
	}
	want(t, call(t, s, "POST", "/api/v1/patrons/"+p["id"].(string)+"/refunds", d.lib.Token, map[string]any{"amount": money(3000), "method": "cash"}), 422, "refund_exceeds_credit")
	want(t, call(t, s, "POST", "/api/v1/patrons/"+p["id"].(string)+"/refunds", d.lib.Token, map[string]any{"amount": money(2500), "method": "cash"}), 201)
	fines = call(t, s, "GET", "/api/v1/patrons/"+p["id"].(string)+"/fines", d.lib.Token, nil)
	if obj(fines.Body["balance"])["amount"] != float64(0) || len(fines.Body["entries"].([]any)) != 5 {
		t.Fatalf("ledger after refund: %s", fines.Raw)
	}

	// Claims returned: no fine on checkin, and the tenant's limit applies.
	want(t, call(t, s, "PATCH", "/api/v1/circulation/settings", d.lib.Token, map[string]any{"max_claims_returned": 1}), 200)
	it2, it3 := d.item(main, "book"), d.item(main, "book")
	r = d.checkout(d.lib.Token, p, it2, main, map[string]any{"at": time.Now().AddDate(0, 0, -60).Format(time.RFC3339)})
	want(t, r, 201)
	l2 := obj(r.Body["loan"])["id"].(string)
	r = call(t, s, "POST", "/api/v1/loans/"+l2+"/claims-returned", d.lib.Token, nil)
	want(t, r, 200)
	if d.itemStatus(it2) != "missing" {
		t.Fatal("claimed item should be missing")
	}
	r = d.checkout(d.lib.Token, p, it3, main, nil)
	want(t, r, 201)
	want(t, call(t, s, "POST", "/api/v1/loans/"+obj(r.Body["loan"])["id"].(string)+"/claims-returned", d.lib.Token, nil), 409, "claims_returned_limit")
	r = d.checkin(d.lib.Token, it2, main, nil)
	want(t, r, 200)
	if r.Body["fine"] != nil || obj(r.Body["loan"])["status"] != "returned" {
		t.Fatalf("claimed item turned up: %s", r.Raw)
	}
	want(t, call(t, s, "POST", "/api/v1/loans/"+l2+"/lost", d.lib.Token, nil), 409, "loan_not_active")
	want(t, call(t, s, "POST", "/api/v1/loans/"+l2+"/found", d.lib.Token, map[string]any{"branch_id": main}), 409, "loan_not_lost")
}

func TestFines_PaymentsWaiversAllocation(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "pay")
	main := d.lib.MainID
	p := d.patron(main, nil)
	pid := p["id"].(string)
	c1 := call(t, s, "POST", "/api/v1/patrons/"+pid+"/charges", d.lib.Token, map[string]any{"type": "damage", "amount": money(500), "note": "water damage"})
	want(t, c1, 201)
	c2 := call(t, s, "POST", "/api/v1/patrons/"+pid+"/charges", d.lib.Token, map[string]any{"type": "manual", "amount": money(300), "note": "lost card"})
	want(t, c2, 201)
	want(t, call(t, s, "POST", "/api/v1/patrons/"+pid+"/charges", d.lib.Token, map[string]any{"type": "overdue", "amount": money(300), "note": "x"}), 422, "invalid_charge_type")
	want(t, call(t, s, "POST", "/api/v1/patrons/"+pid+"/charges", d.lib.Token, map[string]any{"type": "manual", "amount": map[string]any{"amount": 300, "currency": "EUR"}, "note": "x"}), 422, "currency_mismatch")
	want(t, call(t, s, "POST", "/api/v1/patrons/"+pid+"/charges", d.lib.Token, map[string]any{"type": "manual", "amount": money(0), "note": "x"}), 422, "invalid_amount")
	want(t, call(t, s, "POST", "/api/v1/patrons/"+pid+"/charges", d.lib.Token, map[string]any{"type": "manual", "amount": money(10), "note": "x",
		"branch_id": "0190e0d5-9a2b-7c3d-8e4f-5a6b7c8d9e0f"}), 422, "invalid_branch")
	want(t, call(t, s, "POST", "/api/v1/patrons/"+pid+"/payments", d.lib.Token, map[string]any{"amount": money(10), "method": "cash",
		"branch_id": "0190e0d5-9a2b-7c3d-8e4f-5a6b7c8d9e0f"}), 422, "invalid_branch")

	// Partial payment goes to the oldest charge first.
	r := call(t, s, "POST", "/api/v1/patrons/"+pid+"/payments", d.lib.Token, map[string]any{"amount": money(600), "method": "cash"})
	want(t, r, 201)
	al := r.Body["allocations"].([]any)
	if len(al) != 2 || obj(al[0])["charge_id"] != c1.Body["id"] || obj(obj(al[0])["amount"])["amount"] != float64(500) ||
		obj(obj(al[1])["amount"])["amount"] != float64(100) || obj(r.Body["balance"])["amount"] != float64(200) {
		t.Fatalf("payment: %s", r.Raw)
	}
	want(t, call(t, s, "POST", "/api/v1/patrons/"+pid+"/payments", d.lib.Token, map[string]any{"amount": money(201), "method": "cash"}), 422, "overpayment")
	want(t, call(t, s, "POST", "/api/v1/patrons/"+pid+"/payments", d.lib.Token, map[string]any{"amount": money(100), "method": "bitcoin"}), 422, "invalid_method")
	want(t, call(t, s, "POST", "/api/v1/patrons/"+pid+"/payments", d.lib.Token, map[string]any{"amount": money(100), "method": "cash", "charge_ids": []any{c1.Body["id"]}}), 422, "charge_not_open")
	// Waive the rest of the second charge.
	want(t, call(t, s, "POST", "/api/v1/patrons/"+pid+"/waivers", d.lib.Token, map[string]any{"charge_ids": []any{c2.Body["id"]}}), 422, "required")
	r = call(t, s, "POST", "/api/v1/patrons/"+pid+"/waivers", d.lib.Token, map[string]any{"charge_ids": []any{c2.Body["id"]}, "reason": "first offence"})
	want(t, r, 201)
	if obj(r.Body["balance"])["amount"] != float64(0) {
		t.Fatalf("waiver: %s", r.Raw)
	}
	want(t, call(t, s, "POST", "/api/v1/patrons/"+pid+"/payments", d.lib.Token, map[string]any{"amount": money(1), "method": "cash"}), 409, "nothing_owed")
	f := call(t, s, "GET", "/api/v1/patrons/"+pid+"/fines", d.lib.Token, nil)
	want(t, f, 200)
	for _, e := range f.Body["entries"].([]any) {
		if e := obj(e); e["kind"] == "charge" && obj(e["outstanding"])["amount"] != float64(0) {
			t.Fatalf("charge still outstanding: %s", f.Raw)
		}
	}
}

func TestOfflineUploadReplaysInOrder(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "offl")
	main := d.lib.MainID
	it, p := d.item(main, "book"), d.patron(main, nil)
	t0 := time.Now().Add(-3 * time.Hour)
	r := call(t, s, "POST", "/api/v1/circulation/offline", d.lib.Token, map[string]any{"transactions": []map[string]any{
		// Uploaded out of order: the checkin happened after the checkout.
		{"type": "checkin", "at": t0.Add(time.Hour).Format(time.RFC3339), "item_barcode": it["barcode"], "branch_id": main},
		{"type": "checkout", "at": t0.Format(time.RFC3339), "patron_card": p["card_number"], "item_barcode": it["barcode"], "branch_id": main},
		{"type": "checkout", "at": t0.Add(2 * time.Hour).Format(time.RFC3339), "patron_card": "NOPE", "item_barcode": it["barcode"], "branch_id": main},
	}})
	want(t, r, 200)
	res := r.Body["results"].([]any)
	if r.Body["succeeded"] != float64(2) || r.Body["failed"] != float64(1) || !obj(res[0])["ok"].(bool) || !obj(res[1])["ok"].(bool) ||
		obj(obj(res[2])["error"])["code"] != "patron_not_found" {
		t.Fatalf("offline: %s", r.Raw)
	}
	h := call(t, s, "GET", "/api/v1/patrons/"+p["id"].(string)+"/loans?status=history", d.lib.Token, nil)
	l := obj(h.Body["items"].([]any)[0])
	if got, _ := time.Parse(time.RFC3339, l["checked_out_at"].(string)); !got.Equal(t0.Truncate(time.Second)) {
		t.Fatalf("loan time %s, want %s", got, t0)
	}
}

func TestPrivacy_NeverKeepsNoHistory(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "priv")
	main := d.lib.MainID
	it, p := d.item(main, "book"), d.patron(main, map[string]any{"history_privacy": "never"})
	want(t, d.checkout(d.lib.Token, p, it, main, nil), 201)
	r := d.checkin(d.lib.Token, it, main, nil)
	want(t, r, 200)
	if obj(r.Body["loan"])["patron_id"] != nil {
		t.Fatalf("returned loan still names the patron: %s", r.Raw)
	}
	h := call(t, s, "GET", "/api/v1/patrons/"+p["id"].(string)+"/loans?status=history", d.lib.Token, nil)
	want(t, h, 200)
	if len(h.Body["items"].([]any)) != 0 {
		t.Fatalf("history kept: %s", h.Raw)
	}
	a := call(t, s, "GET", "/api/v1/circulation/audit?patron_id="+p["id"].(string), d.lib.Token, nil)
	want(t, a, 200)
	if len(a.Body["items"].([]any)) != 0 {
		t.Fatalf("audit still links the patron to the loan: %s", a.Raw)
	}
}

// concurrently sends n requests at once and counts the statuses.
func concurrently(t *testing.T, n int, req func(i int) resp) map[int]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			r := req(i)
			mu.Lock()
			counts[r.Status]++
			mu.Unlock()
		}(i)
	}
	close(start)
	wg.Wait()
	return counts
}

func TestConcurrency_OneLoanOneHoldOnePayment(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "race")
	main := d.lib.MainID
	const n = 50
	pats := make([]map[string]any, n)
	for i := range pats {
		pats[i] = d.patron(main, nil)
	}

	t.Run("50 checkouts of one item", func(t *testing.T) {
		it := d.item(main, "book")
		counts := concurrently(t, n, func(i int) resp { return d.checkout(d.lib.Token, pats[i], it, main, nil) })
		if counts[201] != 1 || counts[409] != n-1 {
			t.Fatalf("statuses %v, want exactly one 201 and %d 409", counts, n-1)
		}
	})

	t.Run("the last allowed hold", func(t *testing.T) {
		want(t, call(t, s, "PATCH", "/api/v1/patron-categories/adult", d.lib.Token, map[string]any{"max_holds": 3}), 200)
		p := pats[0]
		bibs := make([]map[string]any, n)
		for i := range bibs {
			bibs[i] = d.item(main, "book")
		}
		counts := concurrently(t, n, func(i int) resp {
			return call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": p["id"], "bib_id": bibs[i]["bib_id"], "pickup_branch_id": main})
		})
		if counts[201] != 3 || counts[409] != n-3 {
			t.Fatalf("statuses %v, want 3 holds placed", counts)
		}
	})

	t.Run("paying the same charge twice", func(t *testing.T) {
		p := pats[1]["id"].(string)
		want(t, call(t, s, "POST", "/api/v1/patrons/"+p+"/charges", d.lib.Token, map[string]any{"type": "manual", "amount": money(700), "note": "x"}), 201)
		counts := concurrently(t, n, func(i int) resp {
			return call(t, s, "POST", "/api/v1/patrons/"+p+"/payments", d.lib.Token, map[string]any{"amount": money(700), "method": "cash"})
		})
		if counts[201] != 1 || counts[409] != n-1 {
			t.Fatalf("statuses %v, want one payment", counts)
		}
	})

	t.Run("checkin racing renewal", func(t *testing.T) {
		for round := 0; round < 10; round++ {
			it := d.item(main, "book")
			r := d.checkout(d.lib.Token, pats[2+round], it, main, nil)
			want(t, r, 201)
			loanID := obj(r.Body["loan"])["id"].(string)
			var renew, checkin resp
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				renew = call(t, s, "POST", "/api/v1/loans/"+loanID+"/renew", d.lib.Token, nil)
			}()
			go func() { defer wg.Done(); checkin = d.checkin(d.lib.Token, it, main, nil) }()
			wg.Wait()
			want(t, checkin, 200)
			if renew.Status != http.StatusOK && !(renew.Status == 409 && renew.errCode() == "loan_not_active") {
				t.Fatalf("renewal racing checkin: %d %s", renew.Status, renew.Raw)
			}
			l := call(t, s, "GET", "/api/v1/loans/"+loanID, d.lib.Token, nil)
			if l.Body["status"] != "returned" || d.itemStatus(it) != "available" {
				t.Fatalf("after the race: loan %s, item %s", l.Raw, d.itemStatus(it))
			}
		}
	})
}

func mustUUID(t testing.TB, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Renewing an overdue loan charges the fine so far; returning it late again
// charges only the new overdue period.
func TestRenewOverdueThenReturnLate(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "late2")
	main := d.lib.MainID
	d.rule(map[string]any{"item_type": "dvd", "loan_days": 7, "renewals": 2, "renewal_days": 7, "fine_per_day": money(10)})
	it, p := d.item(main, "dvd"), d.patron(main, nil)
	r := d.checkout(d.lib.Token, p, it, main, map[string]any{"at": time.Now().AddDate(0, 0, -30).Format(time.RFC3339)})
	want(t, r, 201)
	loanID := obj(r.Body["loan"])["id"].(string)
	// 23 days overdue when renewed 20 days ago (backdated renewal).
	r = call(t, s, "POST", "/api/v1/loans/"+loanID+"/renew", d.lib.Token, map[string]any{"at": time.Now().AddDate(0, 0, -20).Format(time.RFC3339)})
	want(t, r, 200)
	if obj(r.Body["fine"])["amount"] != float64(30) {
		t.Fatalf("fine at renewal: %s", r.Raw)
	}
	r = d.checkin(d.lib.Token, it, main, nil)
	want(t, r, 200)
	if obj(r.Body["fine"])["amount"] != float64(130) {
		t.Fatalf("fine at return (13 more days): %s", r.Raw)
	}
	f := call(t, s, "GET", "/api/v1/patrons/"+p["id"].(string)+"/fines", d.lib.Token, nil)
	if obj(f.Body["balance"])["amount"] != float64(160) {
		t.Fatalf("balance: %s", f.Raw)
	}
}

func TestTenantCurrency(t *testing.T) {
	s := newServer(t, api.Config{})
	slug := uniqueSlug("eur")
	r := call(t, s, "POST", "/api/v1/signup", "", map[string]any{"library_name": "Bibliotheek", "slug": slug,
		"admin_email": "o@" + slug + ".example.org", "admin_password": "correct horse battery", "kind": "library",
		"timezone": "Europe/Amsterdam", "country": "NL"})
	want(t, r, 201)
	tok := r.Body["token"].(string)
	r = call(t, s, "GET", "/api/v1/tenant", tok, nil)
	if r.Body["currency"] != "EUR" {
		t.Fatalf("a Dutch library keeps euros: %s", r.Raw)
	}
	want(t, call(t, s, "PATCH", "/api/v1/tenant", tok, map[string]any{"currency": "EURO"}), 422, "invalid_currency")
	want(t, call(t, s, "PATCH", "/api/v1/tenant", tok, map[string]any{"currency": "USD"}), 200)
	want(t, call(t, s, "PATCH", "/api/v1/tenant", tok, map[string]any{"currency": "EUR"}), 200)
	// Once money is on the books the currency stays.
	d := newDesk(t, s, "cur")
	p := d.patron(d.lib.MainID, nil)
	want(t, call(t, s, "POST", "/api/v1/patrons/"+p["id"].(string)+"/charges", d.lib.Token, map[string]any{"type": "manual", "amount": money(100), "note": "x"}), 201)
	want(t, call(t, s, "PATCH", "/api/v1/tenant", d.lib.Token, map[string]any{"currency": "EUR"}), 409, "currency_in_use")
}

// The nightly job: holds past their date or not picked up expire, and
// borrowing history is anonymised per the patron's choice and the
// library's retention.
func TestNightly_ExpireHoldsAndAnonymise(t *testing.T) {
	env := tenanttest.Get(t)
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "night")
	main := d.lib.MainID
	keep3 := d.patron(main, map[string]any{"history_privacy": "keep_n_days", "history_days": 3})
	keeper := d.patron(main, nil)
	waiter, late := d.patron(main, nil), d.patron(main, nil)
	old := time.Now().AddDate(0, 0, -10).Format(time.RFC3339)
	oldish := time.Now().AddDate(0, 0, -5).Format(time.RFC3339)
	for _, p := range []map[string]any{keep3, keeper} {
		it := d.item(main, "book")
		want(t, d.checkout(d.lib.Token, p, it, main, map[string]any{"at": old}), 201)
		want(t, d.checkin(d.lib.Token, it, main, map[string]any{"returned_at": oldish}), 200)
	}
	// A hold trapped on the shelf, and a hold no longer needed.
	shelf := d.item(main, "book")
	h1 := call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": waiter["id"], "item_id": shelf["id"], "pickup_branch_id": main})
	want(t, h1, 201)
	want(t, d.checkin(d.lib.Token, shelf, main, nil), 200)
	other := d.item(main, "book")
	want(t, d.checkout(d.lib.Token, keeper, other, main, nil), 201)
	h2 := call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": late["id"], "bib_id": other["bib_id"],
		"pickup_branch_id": main, "not_needed_after": time.Now().AddDate(0, 0, 1).Format(time.DateOnly)})
	want(t, h2, 201)

	// Ten days later, with a library retention of a year.
	want(t, call(t, s, "PATCH", "/api/v1/circulation/settings", d.lib.Token, map[string]any{"history_retention_days": 365}), 200)
	pat := patrons.NewService(env.Tenants)
	circ := circulation.NewService(env.Tenants, catalog.NewService(env.Tenants), pat, policy.NewService(env.Tenants)).
		SetClock(func() time.Time { return time.Now().AddDate(0, 0, 10) }).SetNotices(notices.NewService(env.Pool, nil, nil, nil))
	var expired, anonymised int
	err := env.Pool.Tx(context.Background(), mustUUID(t, d.lib.TenantID), func(ctx context.Context, _ *gorm.DB) error {
		var err error
		if expired, err = circ.ExpireHolds(ctx); err != nil {
			return err
		}
		anonymised, err = circ.AnonymiseHistory(ctx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if expired != 2 || anonymised != 1 {
		t.Fatalf("expired %d holds (want 2), anonymised %d loans (want 1)", expired, anonymised)
	}
	for _, h := range []resp{h1, h2} {
		r := call(t, s, "GET", "/api/v1/holds/"+h.Body["id"].(string), d.lib.Token, nil)
		if r.Body["status"] != "expired" {
			t.Fatalf("hold: %s", r.Raw)
		}
	}
	for p, n := range map[string]int{keep3["id"].(string): 0, keeper["id"].(string): 1} {
		r := call(t, s, "GET", "/api/v1/patrons/"+p+"/loans?status=history", d.lib.Token, nil)
		if got := len(r.Body["items"].([]any)); got != n {
			t.Fatalf("patron %s keeps %d loans in history, want %d: %s", p, got, n, r.Raw)
		}
	}
	// Each patron is told their hold ended, and why.
	nr := call(t, s, "GET", "/api/v1/notices?kind=hold_expired", d.lib.Token, nil)
	want(t, nr, 200)
	if items := nr.Body["items"].([]any); len(items) != 2 || !strings.Contains(obj(items[0])["body_text"].(string), "has ended: ") {
		t.Fatalf("hold-expired notices: %s", nr.Raw)
	}
	// The copy on the expired hold's shelf goes back to the shelf at the next scan.
	r := d.checkin(d.lib.Token, shelf, main, nil)
	if r.Body["route"] != "shelf" {
		t.Fatalf("scan after expiry: %s", r.Raw)
	}
}

// Returned at another branch: home policy sends it home; float keeps it.
func TestCheckin_ReturnElsewhere(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "away")
	main := d.lib.MainID
	east := addBranch(t, s, d.lib.Token, map[string]any{"name": "East", "code": "EAST", "parent_id": d.lib.RootID})["id"].(string)
	p := d.patron(main, nil)

	it := d.item(main, "book")
	want(t, d.checkout(d.lib.Token, p, it, main, nil), 201)
	r := d.checkin(d.lib.Token, it, east, nil)
	want(t, r, 200)
	if r.Body["route"] != "transit" || obj(r.Body["transit"])["to_branch_id"] != main || obj(r.Body["transit"])["reason"] != "return" {
		t.Fatalf("returned at east: %s", r.Raw)
	}
	// Scanned at a third place on the way (east again): still travelling home.
	r = d.checkin(d.lib.Token, it, east, nil)
	if r.Body["route"] != "transit" {
		t.Fatalf("rescanned at east: %s", r.Raw)
	}
	r = d.checkin(d.lib.Token, it, main, nil)
	if r.Body["route"] != "shelf" || d.itemStatus(it) != "available" {
		t.Fatalf("home again: %s", r.Raw)
	}
	tr := call(t, s, "GET", "/api/v1/transits?branch_id="+main, d.lib.Token, nil)
	if len(tr.Body["items"].([]any)) != 0 {
		t.Fatalf("transits left open: %s", tr.Raw)
	}

	want(t, call(t, s, "PATCH", "/api/v1/circulation/settings", d.lib.Token, map[string]any{"return_policy": "float"}), 200)
	want(t, call(t, s, "PATCH", "/api/v1/circulation/settings", d.lib.Token, map[string]any{"return_policy": "drift"}), 422, "invalid_return_policy")
	it2 := d.item(main, "book")
	want(t, d.checkout(d.lib.Token, p, it2, main, nil), 201)
	r = d.checkin(d.lib.Token, it2, east, nil)
	if r.Body["route"] != "shelf" || obj(r.Body["item"])["branch_id"] != east {
		t.Fatalf("floating return: %s", r.Raw)
	}
	got := call(t, s, "GET", "/api/v1/items/"+it2["id"].(string), d.lib.Token, nil)
	if got.Body["branch_id"] != east || got.Body["status"] != "available" {
		t.Fatalf("floating item: %s", got.Raw)
	}
}

func TestRulesExplainEndpoint(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "expl")
	main := d.lib.MainID
	dvd := d.rule(map[string]any{"item_type": "dvd", "loan_days": 7})
	child := d.rule(map[string]any{"patron_category": "child", "item_type": "dvd", "loan_days": 3})
	kid := d.patron(main, map[string]any{"category": "child", "birth_date": time.Now().AddDate(-9, 0, 0).Format(time.DateOnly)})
	it := d.item(main, "dvd")
	r := call(t, s, "GET", "/api/v1/circulation/rules/explain?patron="+kid["card_number"].(string)+"&item="+it["barcode"].(string)+"&branch="+main, d.lib.Token, nil)
	want(t, r, 200)
	if obj(r.Body["rule"])["id"] != child["id"] || len(r.Body["candidates"].([]any)) != 3 {
		t.Fatalf("explain for a child and a DVD: %s", r.Raw)
	}
	// The same by category and type, for an adult: the DVD rule.
	r = call(t, s, "GET", "/api/v1/circulation/rules/explain?patron_category=adult&item_type=dvd&branch="+main, d.lib.Token, nil)
	want(t, r, 200)
	if obj(r.Body["rule"])["id"] != dvd["id"] {
		t.Fatalf("explain for an adult: %s", r.Raw)
	}
	// A checkout applies exactly what explain said.
	co := d.checkout(d.lib.Token, kid, it, main, nil)
	want(t, co, 201)
	if obj(co.Body["loan"])["rule_id"] != child["id"] {
		t.Fatalf("checkout used rule %v, explain said %v", obj(co.Body["loan"])["rule_id"], child["id"])
	}
	for _, q := range []string{"patron_category=adult&item_type=dvd", "patron=NOPE&item_type=dvd&branch=" + main, "item_type=dvd&branch=" + main} {
		want(t, call(t, s, "GET", "/api/v1/circulation/rules/explain?"+q, d.lib.Token, nil), 400, "bad_query")
	}
}

// The demo library can lend at once: seeded patrons borrow seeded items.
func TestDemoLibraryLends(t *testing.T) {
	env := tenanttest.Get(t)
	ctx := context.Background()
	if _, err := env.Tenants.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	demo, err := env.Pool.TenantBySlug(ctx, tenants.DemoSlug)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.NewService(env.Tenants).SeedDemo(ctx, demo.ID, []string{"MAIN", "EAST"}); err != nil {
		t.Fatal(err)
	}
	pat := patrons.NewService(env.Tenants)
	for round, wantN := range []int{14, 0} { // the second run adds nothing
		n, err := pat.SeedDemo(ctx, demo.ID, []string{"MAIN", "EAST"})
		if err != nil || n != wantN {
			t.Fatalf("seed round %d: %d patrons, %v (want %d)", round, n, err, wantN)
		}
	}
	s := newServer(t, api.Config{})
	l := call(t, s, "POST", "/api/v1/auth/login", "", map[string]any{"tenant": tenants.DemoSlug, "email": tenants.DemoEmail, "password": tenants.DemoPassword})
	want(t, l, 200)
	tok := l.Body["token"].(string)
	it := call(t, s, "GET", "/api/v1/items?barcode=390000000001", tok, nil)
	want(t, it, 200)
	item := obj(it.Body["items"].([]any)[0])
	r := call(t, s, "POST", "/api/v1/circulation/checkout", tok, map[string]any{"patron_card": "21000001", "item_barcode": "390000000001",
		"branch_id": item["branch_id"]})
	want(t, r, 201)
	kid := call(t, s, "GET", "/api/v1/patrons?q=21000014", tok, nil)
	if k := obj(kid.Body["items"].([]any)[0]); k["category"] != "child" || k["guarantor_id"] == nil {
		t.Fatalf("demo child: %s", kid.Raw)
	}
}

// A clerk renewing all of a patron's loans renews those of their branch and
// gets the others back as refused, not a 403 for the whole request; marking
// another branch's loan lost is refused.
func TestRenewAll_BranchScopePerLoan(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "scope")
	main := d.lib.MainID
	east := addBranch(t, s, d.lib.Token, map[string]any{"name": "East", "code": "EAST", "parent_id": d.lib.RootID})["id"].(string)
	_, clerk := addStaff(t, s, d.lib, "clerk@scope.example.org", tenants.RoleCirculation, main)
	p := d.patron(main, nil)
	want(t, d.checkout(d.lib.Token, p, d.item(main, "book"), main, nil), 201)
	r := d.checkout(d.lib.Token, p, d.item(east, "book"), east, nil)
	want(t, r, 201)
	eastLoan := obj(r.Body["loan"])["id"].(string)
	r = call(t, s, "POST", "/api/v1/patrons/"+p["id"].(string)+"/renew-all", clerk, nil)
	want(t, r, 200)
	if r.Body["renewed"] != float64(1) || r.Body["refused"] != float64(1) {
		t.Fatalf("renew-all by a MAIN clerk: %s", r.Raw)
	}
	for _, x := range r.Body["results"].([]any) {
		if e := obj(obj(x)["error"]); e != nil && e["code"] != "forbidden_branch" {
			t.Fatalf("refusal: %s", r.Raw)
		}
	}
	want(t, call(t, s, "POST", "/api/v1/loans/"+eastLoan+"/lost", clerk, nil), 403, "forbidden_branch")
}

// Lending a copy that waits for someone else's hold (an override) puts that
// hold back in the queue and ends the copy's transit.
func TestCheckout_OverridePastTrappedHold(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "ovr")
	main := d.lib.MainID
	east := addBranch(t, s, d.lib.Token, map[string]any{"name": "East", "code": "EAST", "parent_id": d.lib.RootID})["id"].(string)
	it := d.item(main, "book")
	waiter, walkin := d.patron(east, nil), d.patron(main, nil)
	h := call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": waiter["id"], "bib_id": it["bib_id"], "pickup_branch_id": east})
	want(t, h, 201)
	r := d.checkin(d.lib.Token, it, main, nil) // trapped, in transit to east
	if r.Body["route"] != "transit" {
		t.Fatalf("checkin: %s", r.Raw)
	}
	want(t, d.checkout(d.lib.Token, walkin, it, main, nil), 409, "item_on_hold_for_other")
	r = d.checkout(d.lib.Token, walkin, it, main, map[string]any{"override": map[string]any{"reason": "patron leaves the country tomorrow"}})
	want(t, r, 201)
	hr := call(t, s, "GET", "/api/v1/holds/"+h.Body["id"].(string), d.lib.Token, nil)
	if hr.Body["status"] != "pending" || hr.Body["trapped_item_id"] != nil {
		t.Fatalf("the other hold after the override: %s", hr.Raw)
	}
	tr := call(t, s, "GET", "/api/v1/transits?branch_id="+east, d.lib.Token, nil)
	if len(tr.Body["items"].([]any)) != 0 {
		t.Fatalf("transit still open: %s", tr.Raw)
	}
	// Returned: it goes to the waiting patron again.
	r = d.checkin(d.lib.Token, it, main, nil)
	if r.Body["route"] != "transit" || obj(r.Body["hold"])["id"] != h.Body["id"] {
		t.Fatalf("return after the override: %s", r.Raw)
	}
}

// Trapping a hold writes its notice in the same transaction; staff see it.
func TestNotices_QueuedWhenAHoldIsTrapped(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "ntc")
	main := d.lib.MainID
	it, p := d.item(main, "book"), d.patron(main, nil)
	want(t, call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": p["id"], "item_id": it["id"], "pickup_branch_id": main}), 201)
	want(t, d.checkin(d.lib.Token, it, main, nil), 200)
	want(t, d.checkin(d.lib.Token, it, main, nil), 200) // scanned twice: still one notice
	r := call(t, s, "GET", "/api/v1/notices?kind=hold_available&patron_id="+p["id"].(string), d.lib.Token, nil)
	want(t, r, 200)
	items := r.Body["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("notices: %s", r.Raw)
	}
	n := obj(items[0])
	if n["kind"] != "hold_available" || n["status"] != "pending" || n["to"] != p["email"] ||
		!strings.Contains(n["subject"].(string), "Circulation title") {
		t.Fatalf("notice: %s", r.Raw)
	}
	// The day before the pickup deadline: a last-day reminder, once.
	hs := call(t, s, "GET", "/api/v1/patrons/"+p["id"].(string)+"/holds", d.lib.Token, nil)
	exp, _ := time.Parse(time.RFC3339, obj(hs.Body["items"].([]any)[0])["shelf_expires_at"].(string))
	chicago, _ := time.LoadLocation("America/Chicago")
	eve := exp.In(chicago).AddDate(0, 0, -1).Format(time.DateOnly)
	for round, wantN := range []float64{1, 0} {
		r := call(t, s, "POST", "/api/v1/notices/run", d.lib.Token, map[string]any{"kind": "hold_expiring", "date": eve})
		if r.Body["count"] != wantN {
			t.Fatalf("hold-expiring run %d: %s", round, r.Raw)
		}
	}
	want(t, call(t, s, "GET", "/api/v1/notices?status=lost", d.lib.Token, nil), 400, "bad_query")
	want(t, call(t, s, "POST", "/api/v1/notices/"+n["id"].(string)+"/resend", d.lib.Token, nil), 202)
}

// The daily digests: one notice per patron listing all their items, per
// kind and level, once per local day however often the run happens.
func TestNotices_DailyDigests(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "dig")
	main := d.lib.MainID
	chicago, _ := time.LoadLocation("America/Chicago")
	today := time.Now().In(chicago)
	a, b := d.patron(main, nil), d.patron(main, nil)
	// a: two loans due in 3 days (the default due-soon offset); b: one loan 7 days overdue (level 2).
	for i := 0; i < 2; i++ {
		want(t, d.checkout(d.lib.Token, a, d.item(main, "book"), main, map[string]any{"at": today.AddDate(0, 0, -18).Format(time.RFC3339)}), 201)
	}
	want(t, d.checkout(d.lib.Token, b, d.item(main, "book"), main, map[string]any{"at": today.AddDate(0, 0, -28).Format(time.RFC3339)}), 201)

	r := call(t, s, "POST", "/api/v1/notices/run", d.lib.Token, map[string]any{"kind": "due_soon"})
	want(t, r, 202)
	if r.Body["count"] != float64(1) || r.Body["date"] != today.Format(time.DateOnly) {
		t.Fatalf("due-soon run: %s", r.Raw)
	}
	r = call(t, s, "POST", "/api/v1/notices/run", d.lib.Token, map[string]any{"kind": "due_soon"})
	if r.Body["count"] != float64(0) {
		t.Fatalf("a second run the same day queued again: %s", r.Raw)
	}
	l := call(t, s, "GET", "/api/v1/notices?kind=due_soon&patron_id="+a["id"].(string), d.lib.Token, nil)
	n := obj(l.Body["items"].([]any)[0])
	if !strings.Contains(n["subject"].(string), "2 item(s) due soon") || strings.Count(n["body_text"].(string), "you can renew it") != 2 {
		t.Fatalf("due-soon digest: %s", l.Raw)
	}
	r = call(t, s, "POST", "/api/v1/notices/run", d.lib.Token, map[string]any{"kind": "overdue"})
	if r.Body["count"] != float64(1) {
		t.Fatalf("overdue run: %s", r.Raw)
	}
	l = call(t, s, "GET", "/api/v1/notices?kind=overdue", d.lib.Token, nil)
	n = obj(l.Body["items"].([]any)[0])
	if n["patron_id"] != b["id"] || n["level"] != float64(2) || !strings.Contains(n["body_text"].(string), "fines may apply") {
		t.Fatalf("overdue digest: %s", l.Raw)
	}

	// Owing at least the category's threshold: one reminder a week.
	want(t, call(t, s, "PATCH", "/api/v1/patron-categories/adult", d.lib.Token, map[string]any{"fine_threshold": money(500)}), 200)
	want(t, call(t, s, "POST", "/api/v1/patrons/"+a["id"].(string)+"/charges", d.lib.Token, map[string]any{"type": "damage", "amount": money(600), "note": "torn"}), 201)
	for round, wantN := range []float64{1, 0} {
		r = call(t, s, "POST", "/api/v1/notices/run", d.lib.Token, map[string]any{"kind": "fines"})
		if r.Body["count"] != wantN {
			t.Fatalf("fines run %d: %s", round, r.Raw)
		}
	}
	l = call(t, s, "GET", "/api/v1/notices?kind=fines", d.lib.Token, nil)
	if n := obj(l.Body["items"].([]any)[0]); n["patron_id"] != a["id"] || !strings.Contains(n["body_text"].(string), "You owe the library 6.00 USD") {
		t.Fatalf("fines notice: %s", l.Raw)
	}

	// A card that expires in 30 days (the default) gets its reminder.
	c := d.patron(main, map[string]any{"expires_on": today.AddDate(0, 0, 30).Format(time.DateOnly)})
	r = call(t, s, "POST", "/api/v1/notices/run", d.lib.Token, map[string]any{"kind": "card_expiring"})
	if r.Body["count"] != float64(1) {
		t.Fatalf("card-expiring run: %s", r.Raw)
	}
	l = call(t, s, "GET", "/api/v1/notices?kind=card_expiring", d.lib.Token, nil)
	if n := obj(l.Body["items"].([]any)[0]); n["patron_id"] != c["id"] || !strings.Contains(n["body_text"].(string), c["card_number"].(string)+" expires on") {
		t.Fatalf("card-expiring notice: %s", l.Raw)
	}

	// Settings: a kind switched off queues nothing; bad values are refused.
	r = call(t, s, "GET", "/api/v1/notices/settings", d.lib.Token, nil)
	want(t, r, 200)
	if r.Body["send_hour"] != float64(8) || r.Body["due_soon_days"] != float64(3) {
		t.Fatalf("default settings: %s", r.Raw)
	}
	want(t, call(t, s, "PATCH", "/api/v1/notices/settings", d.lib.Token, map[string]any{"send_hour": 24}), 422, "out_of_range")
	want(t, call(t, s, "PATCH", "/api/v1/notices/settings", d.lib.Token, map[string]any{"enabled_kinds": []string{"spam"}}), 422, "unknown_kind")
	want(t, call(t, s, "PATCH", "/api/v1/notices/settings", d.lib.Token, map[string]any{"reply_to": "not an address"}), 422, "invalid_email")
	r = call(t, s, "PATCH", "/api/v1/notices/settings", d.lib.Token, map[string]any{"enabled_kinds": []string{"hold_available"},
		"sender_name": "Springfield Library", "reply_to": "desk@springfield.example.org", "overdue1_days": 2})
	want(t, r, 200)
	if r.Body["sender_name"] != "Springfield Library" || r.Body["overdue1_days"] != float64(2) {
		t.Fatalf("patched settings: %s", r.Raw)
	}
	r = call(t, s, "POST", "/api/v1/notices/run", d.lib.Token, map[string]any{"kind": "overdue", "date": today.AddDate(0, 0, 1).Format(time.DateOnly)})
	if r.Body["count"] != float64(0) {
		t.Fatalf("a switched-off kind ran: %s", r.Raw)
	}
	want(t, call(t, s, "POST", "/api/v1/notices/run", d.lib.Token, map[string]any{"kind": "hold_available"}), 422, "unknown_kind")
	want(t, call(t, s, "POST", "/api/v1/notices/run", d.lib.Token, map[string]any{"kind": "overdue", "date": "27/11/2026"}), 422, "invalid_date")
}

// A library writes its own notice text; a text that does not render is
// refused with the reason; trapped holds then use it; preview shows a real
// patron's notice without sending it.
func TestNoticeTemplates(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "tpl")
	main := d.lib.MainID
	r := call(t, s, "GET", "/api/v1/notices/templates", d.lib.Token, nil)
	want(t, r, 200)
	if n := len(r.Body["items"].([]any)); n != len(notices.Kinds) {
		t.Fatalf("%d templates: %s", n, r.Raw)
	}
	want(t, call(t, s, "GET", "/api/v1/notices/templates/spam", d.lib.Token, nil), 404)
	r = call(t, s, "PUT", "/api/v1/notices/templates/hold_available", d.lib.Token, map[string]any{
		"subject": "Ready: {{.Hold.Title}}", "body_text": "Hi {{.Patron.Nickname}}"})
	want(t, r, 422, "invalid_template")
	if !strings.Contains(obj(r.Body["error"])["message"].(string), "Nickname") {
		t.Fatalf("the error should name the bad field: %s", r.Raw)
	}
	want(t, call(t, s, "PUT", "/api/v1/notices/templates/hold_available", d.lib.Token, map[string]any{
		"subject": "Ready: {{.Hold.Title", "body_text": "x"}), 422, "invalid_template")
	want(t, call(t, s, "PUT", "/api/v1/notices/templates/hold_available", d.lib.Token, map[string]any{
		"subject": "x", "body_text": "x", "body_html": "<p>{{.Hold.Title</p>"}), 422, "invalid_template")
	r = call(t, s, "PUT", "/api/v1/notices/templates/hold_available", d.lib.Token, map[string]any{
		"subject": "Ready for you: {{.Hold.Title}}", "body_text": "Hello {{.Patron.FirstName}}, pick up {{.Hold.Title}} at {{.Hold.Branch}} by {{.Hold.PickupBy}}.",
		"body_html": "<p>Hello {{.Patron.FirstName}}, <b>{{.Hold.Title}}</b> is ready.</p>"})
	want(t, r, 200)
	if r.Body["custom"] != true {
		t.Fatalf("saved template: %s", r.Raw)
	}
	it, p := d.item(main, "book"), d.patron(main, nil)
	want(t, call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": p["id"], "item_id": it["id"], "pickup_branch_id": main}), 201)
	pr := call(t, s, "POST", "/api/v1/notices/templates/hold_available/preview", d.lib.Token, map[string]any{"patron_id": p["id"]})
	want(t, pr, 200)
	if !strings.HasPrefix(pr.Body["body_text"].(string), "Hello Pat, pick up Circulation title") || pr.Body["to"] != p["email"] {
		t.Fatalf("preview: %s", pr.Raw)
	}
	want(t, d.checkin(d.lib.Token, it, main, nil), 200)
	n := call(t, s, "GET", "/api/v1/notices?kind=hold_available&patron_id="+p["id"].(string), d.lib.Token, nil)
	if items := n.Body["items"].([]any); len(items) != 1 || !strings.HasPrefix(obj(items[0])["subject"].(string), "Ready for you: Circulation title") {
		t.Fatalf("notice with the library's text: %s", n.Raw)
	}
	if h := obj(n.Body["items"].([]any)[0])["body_html"].(string); !strings.Contains(h, "<b>Circulation title") {
		t.Fatalf("notice HTML: %s", h)
	}
	r = call(t, s, "DELETE", "/api/v1/notices/templates/hold_available", d.lib.Token, nil)
	want(t, r, 200)
	if r.Body["custom"] != false || !strings.Contains(r.Body["subject"].(string), "is waiting for you") {
		t.Fatalf("reset template: %s", r.Raw)
	}
	want(t, call(t, s, "POST", "/api/v1/notices/templates/due_soon/preview", d.lib.Token, map[string]any{"patron_id": main}), 422, "patron_not_found")
}

// The nightly auto-renewal renews what the rule allows, refuses what a
// renewal at the desk would refuse, tells the patron both, and does nothing
// more on a second run.
func TestAutoRenew(t *testing.T) {
	env := tenanttest.Get(t)
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "auto")
	main := d.lib.MainID
	d.rule(map[string]any{"item_type": "dvd", "loan_days": 7, "renewals": 2, "auto_renew": true})
	p, other := d.patron(main, nil), d.patron(main, nil)
	week := time.Now().AddDate(0, 0, -7).Format(time.RFC3339)
	free, held, book := d.item(main, "dvd"), d.item(main, "dvd"), d.item(main, "book")
	var loanIDs []string
	for _, it := range []map[string]any{free, held, book} {
		r := d.checkout(d.lib.Token, p, it, main, map[string]any{"at": week})
		want(t, r, 201)
		loanIDs = append(loanIDs, obj(r.Body["loan"])["id"].(string))
	}
	want(t, call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": other["id"], "bib_id": held["bib_id"], "pickup_branch_id": main}), 201)
	circ := circulation.NewService(env.Tenants, catalog.NewService(env.Tenants), patrons.NewService(env.Tenants), policy.NewService(env.Tenants)).
		SetNotices(notices.NewService(env.Pool, nil, nil, nil))
	for round, wantN := range []int{1, 0} {
		var n int
		err := env.Pool.Tx(context.Background(), mustUUID(t, d.lib.TenantID), func(ctx context.Context, _ *gorm.DB) error {
			sys, err := tenants.SystemPrincipal(ctx)
			if err != nil {
				return err
			}
			n, err = circ.AutoRenew(tenants.WithPrincipal(ctx, sys))
			return err
		})
		if err != nil || n != wantN {
			t.Fatalf("run %d: renewed %d, %v (want %d)", round, n, err, wantN)
		}
	}
	for i, wantUsed := range []float64{1, 0, 0} { // the book's rule (fallback) does not auto-renew
		l := call(t, s, "GET", "/api/v1/loans/"+loanIDs[i], d.lib.Token, nil)
		if l.Body["renewals_used"] != wantUsed {
			t.Fatalf("loan %d: %s", i, l.Raw)
		}
	}
	n := call(t, s, "GET", "/api/v1/notices?kind=auto_renewal", d.lib.Token, nil)
	items := n.Body["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("auto-renewal notices: %s", n.Raw)
	}
	body := obj(items[0])["body_text"].(string)
	if !strings.Contains(body, free["barcode"].(string)+"): renewed") || !strings.Contains(body, held["barcode"].(string)+"): not renewed: Another patron is waiting") {
		t.Fatalf("auto-renewal notice:\n%s", body)
	}
}

// Aged to lost: with lost_after_days set, the nightly job bills loans that
// far overdue as lost; without it, nothing happens.
func TestAgeToLost(t *testing.T) {
	env := tenanttest.Get(t)
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "aged")
	main := d.lib.MainID
	d.rule(map[string]any{"item_type": "book", "loan_days": 14, "processing_fee": money(500)})
	p := d.patron(main, nil)
	old, recent := d.item(main, "book"), d.item(main, "book")
	want(t, call(t, s, "PATCH", "/api/v1/items/"+old["id"].(string), d.lib.Token, map[string]any{"price": money(2000)}), 200)
	want(t, d.checkout(d.lib.Token, p, old, main, map[string]any{"at": time.Now().AddDate(0, 0, -60).Format(time.RFC3339)}), 201)
	want(t, d.checkout(d.lib.Token, p, recent, main, map[string]any{"at": time.Now().AddDate(0, 0, -20).Format(time.RFC3339)}), 201)
	circ := circulation.NewService(env.Tenants, catalog.NewService(env.Tenants), patrons.NewService(env.Tenants), policy.NewService(env.Tenants))
	run := func() int {
		var n int
		err := env.Pool.Tx(context.Background(), mustUUID(t, d.lib.TenantID), func(ctx context.Context, _ *gorm.DB) error {
			sys, err := tenants.SystemPrincipal(ctx)
			if err != nil {
				return err
			}
			n, err = circ.AgeToLost(tenants.WithPrincipal(ctx, sys))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := run(); n != 0 {
		t.Fatalf("aged %d loans to lost without the setting", n)
	}
	want(t, call(t, s, "PATCH", "/api/v1/circulation/settings", d.lib.Token, map[string]any{"lost_after_days": 30}), 200)
	want(t, call(t, s, "PATCH", "/api/v1/circulation/settings", d.lib.Token, map[string]any{"lost_after_days": -1}), 422, "invalid_days")
	if n := run(); n != 1 {
		t.Fatalf("aged %d loans to lost, want 1", n)
	}
	if d.itemStatus(old) != "lost" || d.itemStatus(recent) != "checked_out" {
		t.Fatal("the wrong loan was aged to lost")
	}
	f := call(t, s, "GET", "/api/v1/patrons/"+p["id"].(string)+"/fines", d.lib.Token, nil)
	if obj(f.Body["balance"])["amount"] != float64(2500) {
		t.Fatalf("billed: %s", f.Raw)
	}
	if n := run(); n != 0 {
		t.Fatalf("a second run aged %d more", n)
	}
}

// A patron may turn off reminders, but not the notices the library relies
// on.
func TestNoticePreferences(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "pref")
	main := d.lib.MainID
	p := d.patron(main, nil)
	chicago, _ := time.LoadLocation("America/Chicago")
	want(t, d.checkout(d.lib.Token, p, d.item(main, "book"), main, map[string]any{"at": time.Now().In(chicago).AddDate(0, 0, -18).Format(time.RFC3339)}), 201)
	path := "/api/v1/patrons/" + p["id"].(string) + "/notice-preferences"
	r := call(t, s, "GET", path, d.lib.Token, nil)
	want(t, r, 200)
	if len(r.Body["opt_out"].([]any)) != 0 {
		t.Fatalf("a new patron opted out of something: %s", r.Raw)
	}
	want(t, call(t, s, "PUT", path, d.lib.Token, map[string]any{"opt_out": []string{"overdue"}}), 422, "kind_required")
	r = call(t, s, "PUT", path, d.lib.Token, map[string]any{"opt_out": []string{"due_soon"}})
	want(t, r, 200)
	if fmt.Sprint(r.Body["opt_out"]) != "[due_soon]" {
		t.Fatalf("preferences: %s", r.Raw)
	}
	r = call(t, s, "POST", "/api/v1/notices/run", d.lib.Token, map[string]any{"kind": "due_soon"})
	if r.Body["count"] != float64(0) {
		t.Fatalf("a reminder went to a patron who turned it off: %s", r.Raw)
	}
	want(t, call(t, s, "PUT", path, d.lib.Token, map[string]any{"opt_out": []string{}}), 200)
	r = call(t, s, "POST", "/api/v1/notices/run", d.lib.Token, map[string]any{"kind": "due_soon"})
	if r.Body["count"] != float64(1) {
		t.Fatalf("the reminder after opting back in: %s", r.Raw)
	}
	want(t, call(t, s, "GET", "/api/v1/patrons/0190e0d5-9a2b-7c3d-8e4f-5a6b7c8d9e0f/notice-preferences", d.lib.Token, nil), 404, "patron_not_found")
}

// A copy whose hold was not picked up goes straight to the next hold that
// picks up at the same branch, with a new deadline and a notice.
func TestExpiredShelfHoldGoesToNextHold(t *testing.T) {
	env := tenanttest.Get(t)
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "next")
	main := d.lib.MainID
	it := d.item(main, "book")
	first, second := d.patron(main, nil), d.patron(main, nil)
	h1 := call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": first["id"], "bib_id": it["bib_id"], "pickup_branch_id": main})
	want(t, h1, 201)
	want(t, d.checkin(d.lib.Token, it, main, nil), 200) // waiting for the first
	h2 := call(t, s, "POST", "/api/v1/holds", d.lib.Token, map[string]any{"patron_id": second["id"], "bib_id": it["bib_id"], "pickup_branch_id": main})
	want(t, h2, 201)
	circ := circulation.NewService(env.Tenants, catalog.NewService(env.Tenants), patrons.NewService(env.Tenants), policy.NewService(env.Tenants)).
		SetClock(func() time.Time { return time.Now().AddDate(0, 0, 10) }).SetNotices(notices.NewService(env.Pool, nil, nil, nil))
	err := env.Pool.Tx(context.Background(), mustUUID(t, d.lib.TenantID), func(ctx context.Context, _ *gorm.DB) error {
		sys, err := tenants.SystemPrincipal(ctx)
		if err != nil {
			return err
		}
		_, err = circ.ExpireHolds(tenants.WithPrincipal(ctx, sys))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r := call(t, s, "GET", "/api/v1/holds/"+h2.Body["id"].(string), d.lib.Token, nil)
	if r.Body["status"] != "waiting" || r.Body["trapped_item_id"] != it["id"] {
		t.Fatalf("the next hold: %s", r.Raw)
	}
	n := call(t, s, "GET", "/api/v1/notices?kind=hold_available&patron_id="+second["id"].(string), d.lib.Token, nil)
	if len(n.Body["items"].([]any)) != 1 {
		t.Fatalf("the next patron was not told: %s", n.Raw)
	}
	if d.itemStatus(it) != "on_hold_shelf" {
		t.Fatal("the copy should stay on the hold shelf")
	}
}
