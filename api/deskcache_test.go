package api_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stacks-ils/stacks/api"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

// TestDeskConfigCache checks that the desk's in-memory copy of the rules,
// closed days and branches (tenants.Cached) follows every kind of change at
// once: through the API, through the application role in SQL, by a
// superuser outside any library, and to a branch's time zone.
func TestDeskConfigCache(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "cache")
	it := d.item(d.lib.MainID, "book")
	p := d.patron(d.lib.MainID, nil)
	chicago, _ := time.LoadLocation("America/Chicago")

	// dueIn checks out, returns the local due date and the days from today
	// (in zone), and checks the item back in.
	dueIn := func(zone *time.Location) (string, int) {
		t.Helper()
		r := d.checkout(d.lib.Token, p, it, d.lib.MainID, nil)
		want(t, r, 201)
		due, _ := time.Parse(time.RFC3339, obj(r.Body["loan"])["due_at"].(string))
		want(t, d.checkin(d.lib.Token, it, d.lib.MainID, nil), 200)
		local := due.In(zone)
		if local.Hour() != 23 || local.Minute() != 59 {
			t.Fatalf("due %s is not the end of a day in %s", local, zone)
		}
		today := time.Now().In(zone)
		t0 := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, zone)
		t1 := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, zone)
		return local.Format(time.DateOnly), int(t1.Sub(t0).Hours()/24 + 0.5)
	}
	expect := func(step string, zone *time.Location, days int) string {
		t.Helper()
		day, n := dueIn(zone)
		if n != days {
			t.Fatalf("%s: due %s, %d days from today; want %d", step, day, n, days)
		}
		return day
	}

	expect("fallback rule", chicago, 21)
	expect("fallback rule, cached", chicago, 21)

	rule := d.rule(map[string]any{"item_type": "book", "loan_days": 7, "renewals": 1})
	day7 := expect("new rule through the API", chicago, 7)

	r := call(t, s, "POST", "/api/v1/calendar/closed-days", d.lib.Token, map[string]any{"day": day7, "name": "Inventory"})
	want(t, r, 201)
	expect("closed day through the API", chicago, 8)

	d.sql("UPDATE circ_rules SET loan_days = 10 WHERE id = ?", rule["id"])
	expect("rule changed in SQL by the application", chicago, 10)

	// A superuser's change names no library: every library's epoch moves.
	env := tenanttest.Get(t)
	owner, err := sql.Open("pgx", env.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if _, err := owner.ExecContext(context.Background(), "UPDATE circ_rules SET loan_days = 12 WHERE id = $1", rule["id"]); err != nil {
		t.Fatal(err)
	}
	expect("rule changed by a superuser", chicago, 12)

	// The branch's own time zone: due at the end of the day there.
	r = call(t, s, "PATCH", "/api/v1/branches/"+d.lib.MainID, d.lib.Token, map[string]any{"timezone": "Pacific/Auckland"})
	want(t, r, 200)
	auckland, _ := time.LoadLocation("Pacific/Auckland")
	expect("branch time zone changed", auckland, 12)
}

// TestCheckin_ByItemID checks in by the item's id instead of its barcode
// (the pipelined checkin finds the item and its record either way).
func TestCheckin_ByItemID(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "byid")
	it := d.item(d.lib.MainID, "book")
	p := d.patron(d.lib.MainID, nil)
	want(t, d.checkout(d.lib.Token, p, it, d.lib.MainID, nil), 201)
	r := call(t, s, "POST", "/api/v1/circulation/checkin", d.lib.Token, map[string]any{"item_id": it["id"], "branch_id": d.lib.MainID})
	want(t, r, 200)
	if r.Body["route"] != "shelf" || obj(r.Body["loan"])["status"] != "returned" || obj(r.Body["item"])["barcode"] != it["barcode"] {
		t.Fatalf("checkin by id: %s", r.Raw)
	}
	r = call(t, s, "POST", "/api/v1/circulation/checkin", d.lib.Token, map[string]any{"item_id": "0190e6a2-0000-7000-8000-000000000000", "branch_id": d.lib.MainID})
	want(t, r, 422)
	if r.errCode() != "item_not_found" {
		t.Fatalf("unknown item id: %s", r.Raw)
	}
}
