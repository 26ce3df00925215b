package reports

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/catalog/callnumber"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

func TestMain(m *testing.M) { os.Exit(tenanttest.Main(m)) }

// world is a consortium in Chicago (UTC-6 in February) with two member
// libraries and a branch directly under the consortium:
//
//	C (consortium) ─ MAIN (branch)
//	               ─ L1 (library) ─ L1A, L1B
//	               ─ L2 (library) ─ L2A
type world struct {
	env                                *tenanttest.Env
	svc                                *Service
	tenant                             uuid.UUID
	root, main, l1, l1a, l1b, l2, l2a  uuid.UUID
	t1, t2, t3                         uuid.UUID // titles
	i1, i2, i3, i4, i5, i6             uuid.UUID // items
	p1, p2, p3                         uuid.UUID // patrons
	ownerGrants, readonlyGrants        []tenants.Grant
	loanL1, loanL2, loanL3, loanL4     uuid.UUID
	holdsRatioT2Copies, holdsRatioT2Nm int
}

func signupConsortium(t *testing.T, env *tenanttest.Env, prefix string) (*tenants.SignupResult, uuid.UUID, uuid.UUID) {
	t.Helper()
	slug := tenanttest.Slug(prefix)
	res, err := env.Tenants.Signup(context.Background(), tenants.SignupInput{LibraryName: "Consortium " + slug, Slug: slug,
		AdminEmail: "owner@" + slug + ".example.org", AdminPassword: "Catalogue-Quietly-2026", AdminName: "Owner",
		Kind: tenants.KindConsortium, Timezone: "America/Chicago", Country: "US"}, "127.0.0.1", "test")
	if err != nil {
		t.Fatalf("signup: %v", err)
	}
	var root, main uuid.UUID
	err = env.Pool.Tx(context.Background(), res.Tenant.ID, func(ctx context.Context, tx *gorm.DB) error {
		if err := tx.Raw("SELECT id FROM branches WHERE parent_id IS NULL").Row().Scan(&root); err != nil {
			return err
		}
		return tx.Raw("SELECT id FROM branches WHERE code = 'MAIN'").Row().Scan(&main)
	})
	if err != nil {
		t.Fatal(err)
	}
	return res, root, main
}

// newWorld seeds the dataset every report test computes its numbers from
// (see the comments at each insert).
func newWorld(t *testing.T) *world {
	t.Helper()
	env := tenanttest.Get(t)
	res, root, main := signupConsortium(t, env, "rep")
	w := &world{env: env, svc: NewService(env.Pool, nil), tenant: res.Tenant.ID, root: root, main: main}
	w.ownerGrants = []tenants.Grant{{Role: tenants.RoleOwner, BranchID: root}}
	w.readonlyGrants = []tenants.Grant{{Role: tenants.RoleReadonly, BranchID: root}}
	for _, id := range []*uuid.UUID{&w.l1, &w.l1a, &w.l1b, &w.l2, &w.l2a, &w.t1, &w.t2, &w.t3, &w.i1, &w.i2, &w.i3, &w.i4, &w.i5, &w.i6,
		&w.p1, &w.p2, &w.p3, &w.loanL1, &w.loanL2, &w.loanL3, &w.loanL4} {
		*id = tenants.NewID()
	}
	ts := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	w.tx(t, func(tx *gorm.DB) {
		exec := func(q string, args ...any) {
			t.Helper()
			if err := tx.Exec(q, args...).Error; err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		unit := func(id, parent uuid.UUID, kind, code string, path ...uuid.UUID) {
			exec(`INSERT INTO branches (tenant_id, id, parent_id, kind, name, code, path) VALUES (?,?,?,?,?,?,?)`,
				w.tenant, id, parent, kind, "Unit "+code, code, tenants.UUIDs(path))
		}
		unit(w.l1, root, "library", "L1", root, w.l1)
		unit(w.l1a, w.l1, "branch", "L1A", root, w.l1, w.l1a)
		unit(w.l1b, w.l1, "branch", "L1B", root, w.l1, w.l1b)
		unit(w.l2, root, "library", "L2", root, w.l2)
		unit(w.l2a, w.l2, "branch", "L2A", root, w.l2, w.l2a)
		bib := func(id uuid.UUID, title, call string, year int) {
			exec(`INSERT INTO bibs (tenant_id, id, marc, title, title_sort, authors, format, match_key, call_number, pub_year)
VALUES (?,?,'{}',?,?,?,'book',?,?,?)`, w.tenant, id, title, strings.ToLower(title), tenants.Strings([]string{"Author of " + title}),
				strings.ToLower(title), call, year)
		}
		bib(w.t1, "Alpha", "823.912 ALP", 2000)
		bib(w.t2, "Beta", "PS3545 .B4", 2010)
		bib(w.t3, "Gamma & <Sons>", "FIC GAM", 2020)
		item := func(id, bibID, branch uuid.UUID, barcode, call, itype, status, acquired string) {
			exec(`INSERT INTO items (tenant_id, id, bib_id, barcode, branch_id, call_number, call_number_sort, item_type, status, acquired_on)
VALUES (?,?,?,?,?,?,?,?,?,CAST(? AS date))`, w.tenant, id, bibID, barcode, branch, call, callnumber.Key(call), itype, status, acquired)
		}
		// Dewey 800 x2, LC P x2 (one lost), unclassified x2.
		item(w.i1, w.t1, w.l1a, "I1", "823.912 ALP", "book", "checked_out", "2020-01-01")
		item(w.i2, w.t1, w.l1b, "I2", "823.912 ALP c.2", "book", "available", "2020-01-01")
		item(w.i3, w.t2, w.l2a, "I3", "", "dvd", "checked_out", "2020-01-01")
		item(w.i4, w.t3, w.l1a, "I4", "", "book", "available", "2020-01-01")
		item(w.i5, w.t2, w.main, "I5", "", "book", "lost", "2020-01-01")
		item(w.i6, w.t3, w.l1a, "I6", "", "dvd", "available", "2025-12-01")
		patron := func(id, home uuid.UUID, card, cat, created, expires string) {
			exec(`INSERT INTO patrons (tenant_id, id, card_number, last_name, first_name, home_branch_id, category, expires_on, created_at)
VALUES (?,?,?,?,?,?,?,CAST(? AS date),?)`, w.tenant, id, card, "Patron"+card, "P", home, cat, expires, ts(created))
		}
		patron(w.p1, w.l1a, "P1", "adult", "2026-02-01T18:00:00Z", "2027-02-01") // new in February
		patron(w.p2, w.l2a, "P2", "child", "2025-01-01T18:00:00Z", "2026-02-20") // card expires in February
		patron(w.p3, w.main, "P3", "adult", "2025-06-01T18:00:00Z", "2027-06-01")
		loan := func(id, item, bibID, patronID, branch uuid.UUID, cat, itype, out, due string) {
			exec(`INSERT INTO loans (tenant_id, id, item_id, patron_id, patron_category, item_type, bib_id, branch_id, status,
  checked_out_at, due_at, renewals_allowed) VALUES (?,?,?,?,?,?,?,?,'active',?,?,3)`, w.tenant, id, item, patronID, cat, itype, bibID, branch, ts(out), ts(due))
		}
		// L1: checked out at L1A on Feb 2 09:00 local, renewed Feb 10 12:00,
		// returned at L1B on Feb 19 23:30 local (Feb 20 UTC).
		loan(w.loanL1, w.i1, w.t1, w.p1, w.l1a, "adult", "book", "2026-02-02T15:00:00Z", "2026-02-23T05:59:59Z")
		exec(`UPDATE loans SET renewals_used = 1, last_renewed_at = ?, due_at = ? WHERE id = ?`, ts("2026-02-10T18:00:00Z"), ts("2026-03-03T05:59:59Z"), w.loanL1)
		// The desk writes every renewal's audit entry with the renewal.
		exec(`INSERT INTO circ_audit (tenant_id, id, at, action, branch_id, loan_id) VALUES (?,?,?,'renew',?,?)`,
			w.tenant, tenants.NewID(), ts("2026-02-10T18:00:00Z"), w.l1a, w.loanL1)
		exec(`UPDATE loans SET status = 'returned', returned_at = ?, return_branch_id = ? WHERE id = ?`, ts("2026-02-20T05:30:00Z"), w.l1b, w.loanL1)
		// L2: a child's DVD at L2A on Feb 2 22:00 local (Feb 3 UTC), due Feb 10: overdue.
		loan(w.loanL2, w.i3, w.t2, w.p2, w.l2a, "child", "dvd", "2026-02-03T04:00:00Z", "2026-02-11T05:59:59Z")
		// L3: at L1B Feb 14 14:00, returned there Feb 15 14:00.
		loan(w.loanL3, w.i2, w.t1, w.p1, w.l1b, "adult", "book", "2026-02-14T20:00:00Z", "2026-03-08T05:59:59Z")
		exec(`UPDATE loans SET status = 'returned', returned_at = ?, return_branch_id = ? WHERE id = ?`, ts("2026-02-15T20:00:00Z"), w.l1b, w.loanL3)
		// L4: I1 again, at L1A Feb 21 10:00, due in March.
		loan(w.loanL4, w.i1, w.t1, w.p3, w.l1a, "adult", "book", "2026-02-21T16:00:00Z", "2026-03-15T04:59:59Z")
		// Anonymising a loan changes no count.
		exec(`UPDATE loans SET patron_id = NULL, anonymised_at = now() WHERE id = ?`, w.loanL3)
		// A closed day: its day is a row of zeros like any quiet day.
		exec(`INSERT INTO closed_days (tenant_id, id, branch_id, day, name) VALUES (?,?,NULL,'2026-02-16','Presidents Day')`, w.tenant, tenants.NewID())
		hold := func(bibID, patronID, pickup uuid.UUID, at string) {
			exec(`INSERT INTO holds (tenant_id, id, patron_id, bib_id, pickup_branch_id, status, requested_at) VALUES (?,?,?,?,?,'pending',?)`,
				w.tenant, tenants.NewID(), patronID, bibID, pickup, ts(at))
		}
		hold(w.t2, w.p1, w.l2a, "2026-02-05T15:00:00Z")
		hold(w.t2, w.p3, w.main, "2026-02-06T15:00:00Z")
		hold(w.t1, w.p3, w.l1a, "2026-01-15T15:00:00Z") // before the range
		fee := func(patronID uuid.UUID, kind string, amount int, branch *uuid.UUID, at string) {
			var ctype, method any
			switch kind {
			case "charge":
				ctype = "overdue"
			case "payment":
				method = "cash"
			}
			exec(`INSERT INTO fee_entries (tenant_id, id, patron_id, kind, charge_type, method, amount, currency, branch_id, created_at)
VALUES (?,?,?,?,?,?,?,'USD',?,?)`, w.tenant, tenants.NewID(), patronID, kind, ctype, method, amount, branch, ts(at))
		}
		fee(w.p2, "charge", 500, &w.l2a, "2026-01-20T18:00:00Z") // before the range: opening balance 500
		fee(w.p1, "charge", 300, &w.l1b, "2026-02-20T05:30:00Z") // Feb 19 local
		fee(w.p1, "payment", 200, &w.l1b, "2026-02-22T18:00:00Z")
		fee(w.p1, "waiver", 100, nil, "2026-02-23T18:00:00Z")
		fee(w.p2, "payment", 100, &w.l2a, "2026-02-25T18:00:00Z")
	})
	return w
}

func (w *world) tx(t *testing.T, fn func(tx *gorm.DB)) {
	t.Helper()
	if err := w.env.Pool.Tx(context.Background(), w.tenant, func(ctx context.Context, tx *gorm.DB) error {
		fn(tx)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// run runs a report as a caller with the given grants.
func (w *world) run(t *testing.T, grants []tenants.Grant, name string, raw map[string]string) (*Result, error) {
	t.Helper()
	var res *Result
	err := w.env.Pool.Tx(context.Background(), w.tenant, func(ctx context.Context, tx *gorm.DB) error {
		ctx = tenants.WithPrincipal(ctx, &tenants.Principal{TenantID: w.tenant, UserID: uuid.New(), Grants: grants})
		var err error
		res, err = w.svc.Run(ctx, name, raw)
		return err
	})
	return res, err
}

func (w *world) mustRun(t *testing.T, name string, raw map[string]string) *Result {
	t.Helper()
	res, err := w.run(t, w.ownerGrants, name, raw)
	if err != nil {
		t.Fatalf("%s %v: %v", name, raw, err)
	}
	return res
}

// rowsJSON renders rows compactly for comparison: ["a",1,null].
func rowsJSON(t *testing.T, rows [][]any, skip ...string) string {
	t.Helper()
	b, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func feb(extra map[string]string) map[string]string {
	m := map[string]string{"from": "2026-02-01", "to": "2026-02-28"}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// pickCols keeps the named columns of each row.
func pickCols(res *Result, names ...string) [][]any {
	idx := make([]int, len(names))
	for i, n := range names {
		idx[i] = -1
		for j, c := range res.Columns {
			if c.Name == n {
				idx[i] = j
			}
		}
	}
	out := make([][]any, len(res.Rows))
	for r, row := range res.Rows {
		out[r] = make([]any, len(names))
		for i, j := range idx {
			if j >= 0 {
				out[r][i] = row[j]
			}
		}
	}
	return out
}

func TestCirculationActivity(t *testing.T) {
	w := newWorld(t)
	// Every day of February: 28 rows, zeros on quiet and closed days.
	res := w.mustRun(t, "circulation_activity", feb(nil))
	if len(res.Rows) != 28 {
		t.Fatalf("%d rows by day, want 28", len(res.Rows))
	}
	nonzero := [][]any{}
	for _, r := range res.Rows {
		if r[1].(int64)+r[2].(int64)+r[3].(int64) > 0 {
			nonzero = append(nonzero, r)
		}
	}
	// L2 at 22:00 local on Feb 2 is Feb 3 in UTC: it counts on Feb 2.
	if got, want := rowsJSON(t, nonzero), `[["2026-02-02",2,0,0],["2026-02-10",0,1,0],["2026-02-14",1,0,0],["2026-02-15",0,0,1],["2026-02-19",0,0,1],["2026-02-21",1,0,0]]`; got != want {
		t.Errorf("by day:\n got %s\nwant %s", got, want)
	}
	if res.Totals["checkouts"] != 4 || res.Totals["renewals"] != 1 || res.Totals["checkins"] != 2 {
		t.Errorf("totals %v, want 4/1/2", res.Totals)
	}
	cases := []struct {
		name string
		raw  map[string]string
		cols []string
		want string
	}{
		{"week", feb(map[string]string{"group_by": "week"}), []string{"week", "checkouts", "renewals", "checkins"},
			`[["2026-01-26",0,0,0],["2026-02-02",2,0,0],["2026-02-09",1,1,1],["2026-02-16",1,0,1],["2026-02-23",0,0,0]]`},
		{"month", feb(map[string]string{"group_by": "month"}), []string{"month", "checkouts", "renewals", "checkins"},
			`[["2026-02-01",4,1,2]]`},
		// Renewals at the lending branch, checkins at the return branch.
		{"branch", feb(map[string]string{"group_by": "branch"}), []string{"branch_code", "checkouts", "renewals", "checkins"},
			`[["L1A",2,1,0],["L1B",1,0,2],["L2A",1,0,0]]`},
		{"member", feb(map[string]string{"group_by": "member"}), []string{"member_code", "checkouts", "renewals", "checkins"},
			`[["L1",3,1,2],["L2",1,0,0]]`},
		{"item type", feb(map[string]string{"group_by": "item_type"}), []string{"item_type", "checkouts", "renewals", "checkins"},
			`[["book",3,1,2],["dvd",1,0,0]]`},
		{"category", feb(map[string]string{"group_by": "patron_category"}), []string{"patron_category", "checkouts", "renewals", "checkins"},
			`[["adult",3,1,2],["child",1,0,0]]`},
		{"subtree L1", feb(map[string]string{"group_by": "month", "branch_id": w.l1.String()}), []string{"checkouts", "renewals", "checkins"},
			`[[3,1,2]]`},
		{"branch L1B", feb(map[string]string{"group_by": "month", "branch_id": w.l1b.String()}), []string{"checkouts", "renewals", "checkins"},
			`[[1,0,2]]`},
		{"dvd only", feb(map[string]string{"group_by": "month", "item_type": "dvd"}), []string{"checkouts", "renewals", "checkins"},
			`[[1,0,0]]`},
		{"adults only", feb(map[string]string{"group_by": "month", "patron_category": "adult"}), []string{"checkouts", "renewals", "checkins"},
			`[[3,1,2]]`},
		{"rollup by month", feb(map[string]string{"group_by": "month", "rollup": "member"}), []string{"member_code", "month", "checkouts", "renewals", "checkins"},
			`[["L1","2026-02-01",3,1,2],["L2","2026-02-01",1,0,0]]`},
		{"rollup by branch", feb(map[string]string{"group_by": "branch", "rollup": "member"}), []string{"member_code", "branch_code", "checkouts", "checkins"},
			`[["L1","L1A",2,0],["L1","L1B",1,2],["L2","L2A",1,0]]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := w.mustRun(t, "circulation_activity", c.raw)
			if got := rowsJSON(t, pickCols(res, c.cols...)); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
	hours := w.mustRun(t, "circulation_activity", feb(map[string]string{"group_by": "hour"}))
	if len(hours.Rows) != 24 {
		t.Fatalf("%d hour rows", len(hours.Rows))
	}
	want := map[int64]string{9: "[9,1,0,0]", 10: "[10,1,0,0]", 12: "[12,0,1,0]", 14: "[14,1,0,1]", 22: "[22,1,0,0]", 23: "[23,0,0,1]"}
	for _, r := range hours.Rows {
		got := rowsJSON(t, [][]any{r})
		if wv, ok := want[r[0].(int64)]; ok && got != "["+wv+"]" || !ok && got != "[["+itoa(int(r[0].(int64)))+",0,0,0]]" {
			t.Errorf("hour %d: %s", r[0], got)
		}
	}
}

func TestPopularTitlesAndHoldsRatio(t *testing.T) {
	w := newWorld(t)
	cases := []struct {
		name, report string
		raw          map[string]string
		cols         []string
		want         string
	}{
		{"by checkouts", "popular_titles", feb(nil), []string{"rank", "title", "checkouts", "holds"},
			`[[1,"Alpha",3,0],[2,"Beta",1,2]]`},
		{"by holds", "popular_titles", feb(map[string]string{"by": "holds"}), []string{"rank", "title", "checkouts", "holds"},
			`[[1,"Beta",1,2]]`},
		{"top 1", "popular_titles", feb(map[string]string{"limit": "1"}), []string{"title"}, `[["Alpha"]]`},
		{"member L2", "popular_titles", feb(map[string]string{"branch_id": w.l2.String()}), []string{"title", "checkouts", "holds"},
			`[["Beta",1,1]]`},
		{"children", "popular_titles", feb(map[string]string{"patron_category": "child"}), []string{"title", "checkouts"},
			`[["Beta",1]]`},
		// Beta: 2 holds, 1 copy that can circulate (the other is lost).
		{"ratio over 1", "holds_ratio", map[string]string{"min_ratio": "1"}, []string{"title", "holds", "copies", "holds_per_copy", "copies_to_buy"},
			`[["Beta",2,1,2,1]]`},
		{"ratio over 3", "holds_ratio", nil, []string{"title"}, `[]`},
		{"ratio over 0.4", "holds_ratio", map[string]string{"min_ratio": "0.4"}, []string{"title", "holds", "copies", "holds_per_copy", "copies_to_buy"},
			`[["Beta",2,1,2,4],["Alpha",1,2,0.5,1]]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := w.mustRun(t, c.report, c.raw)
			if got := rowsJSON(t, pickCols(res, c.cols...)); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestCollectionReports(t *testing.T) {
	w := newWorld(t)
	asOf := map[string]string{"as_of": "2026-02-28"}
	cases := []struct {
		name, report string
		raw          map[string]string
		cols         []string
		want         string
	}{
		// 2026 - 2000 = 26 years; 2026 - 2010 = 16; 2026 - 2020 = 6.
		{"age hundreds", "collection_age", asOf, []string{"scheme", "class", "items", "average_age_years", "oldest_year", "median_year"},
			`[["dewey","800",2,26,2000,2000],["lc","P",2,16,2010,2010],["other","unclassified",2,6,2020,2020]]`},
		{"age tens", "collection_age", map[string]string{"as_of": "2026-02-28", "level": "tens"}, []string{"class", "items"},
			`[["820",2],["PS",2],["unclassified",2]]`},
		{"age L1 subtree", "collection_age", map[string]string{"as_of": "2026-02-28", "branch_id": w.l1.String()}, []string{"class", "items"},
			`[["800",2],["unclassified",2]]`},
		{"call range", "collection_age", map[string]string{"as_of": "2026-02-28", "call_from": "800", "call_to": "899"}, []string{"class", "items"},
			`[["800",2]]`},
		// Items: book I1 I2 I4, dvd I3 I6 (I5 is lost); checkouts 3 books, 1 dvd.
		{"turnover by type", "turnover", feb(nil), []string{"item_type", "items", "checkouts", "turnover"},
			`[["book",3,3,1],["dvd",2,1,0.5]]`},
		{"turnover by branch", "turnover", feb(map[string]string{"group_by": "branch"}), []string{"branch_code", "items", "checkouts", "turnover"},
			`[["L1A",3,2,0.67],["L1B",1,1,1],["L2A",1,1,1]]`},
		{"turnover by member", "turnover", feb(map[string]string{"group_by": "member"}), []string{"member_code", "items", "checkouts"},
			`[["L1",4,3],["L2",1,1]]`},
		{"dead 24 months", "dead_items", map[string]string{"as_of": "2026-02-28"}, []string{"barcode", "last_checkout", "acquired"},
			`[["I4",null,"2020-01-01"]]`},
		{"dead 1 month", "dead_items", map[string]string{"as_of": "2026-02-28", "months": "1"}, []string{"barcode", "title", "last_checkout"},
			`[["I4","Gamma \u0026 \u003cSons\u003e",null],["I6","Gamma \u0026 \u003cSons\u003e",null]]`},
		// I1 was last lent Feb 21 but is still out: not a weeding candidate.
		{"dead as of April, 2 months", "dead_items", map[string]string{"as_of": "2026-04-30", "months": "2"}, []string{"barcode", "last_checkout"},
			`[["I4",null],["I6",null],["I2","2026-02-14"]]`},
		{"status by branch", "items_by_status", nil, []string{"branch_code", "available", "checked_out", "lost", "total"},
			`[["L1A",2,1,0,3],["L1B",1,0,0,1],["L2A",0,1,0,1],["MAIN",0,0,1,1]]`},
		{"status by member", "items_by_status", map[string]string{"group_by": "member"}, []string{"member_code", "available", "checked_out", "lost", "total"},
			`[["L1",3,1,0,4],["L2",0,1,0,1],["C-ROOT",0,0,1,1]]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := w.mustRun(t, c.report, c.raw)
			got := rowsJSON(t, pickCols(res, c.cols...))
			want := strings.ReplaceAll(c.want, "C-ROOT", w.rootCode(t))
			if got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func (w *world) rootCode(t *testing.T) string {
	var code string
	w.tx(t, func(tx *gorm.DB) { tx.Raw("SELECT code FROM branches WHERE id = ?", w.root).Scan(&code) })
	return code
}

func TestPatronsOverduesFines(t *testing.T) {
	w := newWorld(t)
	cases := []struct {
		name, report string
		raw          map[string]string
		cols         []string
		want         string
	}{
		{"patrons by category", "patron_activity", feb(nil), []string{"patron_category", "active_patrons", "new_registrations", "borrowers", "expiring_cards"},
			`[["adult",2,1,2,0],["child",1,0,1,1]]`},
		{"patrons by home branch", "patron_activity", feb(map[string]string{"group_by": "branch"}), []string{"branch_code", "active_patrons", "borrowers"},
			`[["L1A",1,1],["L2A",1,1],["MAIN",1,1]]`},
		{"expiring list", "patron_activity", feb(map[string]string{"list": "expiring"}), []string{"card_number", "expires_on"},
			`[["P2","2026-02-20"]]`},
		{"new list", "patron_activity", feb(map[string]string{"list": "new"}), []string{"card_number", "registered", "checkouts"},
			`[["P1","2026-02-01",1]]`},
		// L2 was due Feb 10 (local): 18 days overdue on Feb 28.
		{"overdues", "overdues", map[string]string{"as_of": "2026-02-28"}, []string{"barcode", "branch_code", "due_date", "days_overdue", "patron_card"},
			`[["I3","L2A","2026-02-10",18,"P2"]]`},
		{"overdues L1", "overdues", map[string]string{"as_of": "2026-02-28", "branch_id": w.l1.String()}, []string{"barcode"}, `[]`},
		// Opening balance 500 (January); Feb: +300 -200 -100 -100 = 400 owed.
		{"fines by month", "fines", feb(nil), []string{"month", "currency", "charged", "paid", "waived", "outstanding"},
			`[["2026-02-01","USD",300,300,100,400]]`},
		{"fines by week", "fines", feb(map[string]string{"group_by": "week"}), []string{"week", "charged", "paid", "waived", "outstanding"},
			`[["2026-02-16",300,200,0,600],["2026-02-23",0,100,100,400]]`},
		{"fines by branch", "fines", feb(map[string]string{"group_by": "branch"}), []string{"branch_code", "charged", "paid", "waived", "outstanding"},
			`[["L1B",300,200,0,100],["L2A",0,100,0,400],[null,0,0,100,-100]]`},
		{"fines L2", "fines", feb(map[string]string{"group_by": "month", "branch_id": w.l2.String()}), []string{"paid", "outstanding"},
			`[[100,400]]`},
		{"fines rollup", "fines", feb(map[string]string{"group_by": "month", "rollup": "member"}), []string{"member_code", "charged", "paid", "waived", "outstanding"},
			`[["L1",300,200,0,100],["L2",0,100,0,400],[null,0,0,100,-100]]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := w.mustRun(t, c.report, c.raw)
			if got := rowsJSON(t, pickCols(res, c.cols...)); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
	// Without reports.patron_data: no patron list, no patron columns.
	_, err := w.run(t, w.readonlyGrants, "patron_activity", feb(map[string]string{"list": "all"}))
	if e := errs.As(err); e == nil || e.Code != "patron_data_required" {
		t.Errorf("list without patron_data: %v", err)
	}
	res, err := w.run(t, w.readonlyGrants, "overdues", map[string]string{"as_of": "2026-02-28"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Columns {
		if strings.HasPrefix(c.Name, "patron_card") || strings.HasPrefix(c.Name, "patron_name") {
			t.Errorf("overdues shows %s without patron_data", c.Name)
		}
	}
	if agg, err := w.run(t, w.readonlyGrants, "patron_activity", feb(nil)); err != nil || len(agg.Rows) != 2 {
		t.Errorf("aggregate without patron_data: %v %v", agg, err)
	}
}

func TestBadParameters(t *testing.T) {
	w := newWorld(t)
	_, _, otherMain := signupConsortium(t, w.env, "rep-other")
	cases := []struct {
		report string
		raw    map[string]string
		kind   errs.Kind
		code   string
	}{
		{"nope", nil, errs.NotFound, "report_not_found"},
		{"circulation_activity", map[string]string{"from": "2026-13-01"}, errs.BadRequest, "bad_query"},
		{"circulation_activity", map[string]string{"from": "2026-03-01", "to": "2026-02-01"}, errs.Invalid, "invalid_range"},
		{"circulation_activity", map[string]string{"group_by": "year"}, errs.BadRequest, "bad_query"},
		{"circulation_activity", map[string]string{"colour": "red"}, errs.BadRequest, "bad_query"},
		{"circulation_activity", map[string]string{"branch_id": "x"}, errs.BadRequest, "bad_query"},
		// Another library's org unit is no org unit of this one.
		{"circulation_activity", map[string]string{"branch_id": otherMain.String()}, errs.Invalid, "invalid_branch"},
		{"circulation_activity", map[string]string{"period": "last_month", "from": "2026-01-01"}, errs.BadRequest, "bad_query"},
		{"circulation_activity", map[string]string{"period": "last_decade"}, errs.BadRequest, "bad_query"},
		{"popular_titles", map[string]string{"limit": "0"}, errs.BadRequest, "bad_query"},
		{"holds_ratio", map[string]string{"min_ratio": "lots"}, errs.BadRequest, "bad_query"},
		{"dead_items", map[string]string{"months": "-1"}, errs.BadRequest, "bad_query"},
	}
	for _, c := range cases {
		_, err := w.run(t, w.ownerGrants, c.report, c.raw)
		e := errs.As(err)
		if e == nil || e.Kind != c.kind || e.Code != c.code {
			t.Errorf("%s %v: %v, want %s %s", c.report, c.raw, err, c.kind, c.code)
		}
	}
}

func TestRelativePeriods(t *testing.T) {
	loc, _ := time.LoadLocation("America/Chicago")
	today := time.Date(2026, 2, 18, 0, 0, 0, 0, loc) // a Wednesday
	cases := []struct{ name, from, to string }{
		{"today", "2026-02-18", "2026-02-18"},
		{"yesterday", "2026-02-17", "2026-02-17"},
		{"last_7_days", "2026-02-11", "2026-02-17"},
		{"last_30_days", "2026-01-19", "2026-02-17"},
		{"this_week", "2026-02-16", "2026-02-18"},
		{"last_week", "2026-02-09", "2026-02-15"},
		{"this_month", "2026-02-01", "2026-02-18"},
		{"last_month", "2026-01-01", "2026-01-31"},
		{"year_to_date", "2026-01-01", "2026-02-18"},
		{"last_year", "2025-01-01", "2025-12-31"},
		{"fiscal_year_to_date", "2025-07-01", "2026-02-18"},
		{"last_fiscal_year", "2024-07-01", "2025-06-30"},
	}
	for _, c := range cases {
		from, to, ok := resolvePeriod(c.name, today, 7)
		if !ok || date(from) != c.from || date(to) != c.to {
			t.Errorf("%s: %s..%s, want %s..%s", c.name, date(from), date(to), c.from, c.to)
		}
	}
	// A schedule running on March 3 for last_month gets all of February.
	from, to, _ := resolvePeriod("last_month", time.Date(2026, 3, 3, 0, 0, 0, 0, loc), 7)
	if date(from) != "2026-02-01" || date(to) != "2026-02-28" {
		t.Errorf("last_month on March 3: %s..%s", date(from), date(to))
	}
	// A fiscal year starting in January is the calendar year.
	from, _, _ = resolvePeriod("fiscal_year_to_date", today, 1)
	if date(from) != "2026-01-01" {
		t.Errorf("fiscal year from January: %s", date(from))
	}
}

// Another library's circulation never shows in this one's reports.
func TestIsolation(t *testing.T) {
	w := newWorld(t)
	other := newWorld(t)
	res := w.mustRun(t, "circulation_activity", feb(map[string]string{"group_by": "month"}))
	if got := rowsJSON(t, pickCols(res, "checkouts", "renewals", "checkins")); got != `[[4,1,2]]` {
		t.Errorf("with a second library seeded: %s", got)
	}
	for _, name := range []string{"circulation_activity", "popular_titles", "turnover", "items_by_status", "fines", "patron_activity", "overdues", "dead_items", "holds_ratio", "collection_age"} {
		raw := map[string]string{}
		if r, _ := Lookup(name); r.has("from") {
			raw = feb(nil)
		}
		if r, _ := Lookup(name); r.has("group_by") {
			raw["group_by"] = "branch"
			if name == "fines" || name == "turnover" || name == "circulation_activity" || name == "items_by_status" || name == "patron_activity" {
				raw["rollup"] = "member"
			}
		}
		res := w.mustRun(t, name, raw)
		b, _ := json.Marshal(res)
		for _, id := range []uuid.UUID{other.tenant, other.root, other.main, other.l1, other.l1a, other.l1b, other.l2, other.l2a, other.t1, other.t2, other.t3,
			other.i1, other.i2, other.i3, other.i4, other.i5, other.i6, other.loanL2} {
			if strings.Contains(string(b), id.String()) {
				t.Errorf("%s mentions the other library's %s", name, id)
			}
		}
	}
}

// The rollup moves events from the live part into the aggregates and
// changes no report; an event written after the watermark passed its time
// (an offline checkout replayed late, a backdated checkin, a late renewal)
// is counted once, by the trigger; rolling up again changes nothing; and a
// rebuild from the loans and the audit log agrees.
func TestRollup(t *testing.T) {
	w := newWorld(t)
	runs := []struct {
		report string
		params map[string]string
	}{
		{"circulation_activity", feb(nil)},
		{"circulation_activity", feb(map[string]string{"group_by": "branch"})},
		{"circulation_activity", feb(map[string]string{"group_by": "hour"})},
		{"popular_titles", feb(nil)},
		{"popular_titles", map[string]string{"from": "2026-02-10", "to": "2026-02-28"}},
		{"popular_titles", map[string]string{"from": "2026-01-01", "to": "2026-03-31"}},
		{"turnover", feb(nil)},
	}
	snapshot := func() []string {
		var out []string
		for _, r := range runs {
			out = append(out, rowsJSON(t, w.mustRun(t, r.report, r.params).Rows))
		}
		return out
	}
	count := func(q string) (n int) {
		w.tx(t, func(tx *gorm.DB) {
			if err := tx.Raw(q).Row().Scan(&n); err != nil {
				t.Fatal(err)
			}
		})
		return n
	}
	rollup := func() {
		t.Helper()
		if err := w.env.Pool.Tx(context.Background(), w.tenant, func(ctx context.Context, _ *gorm.DB) error { return w.svc.Rollup(ctx) }); err != nil {
			t.Fatal(err)
		}
	}
	same := func(step string, a, b []string) {
		t.Helper()
		for i := range a {
			if a[i] != b[i] {
				t.Errorf("%s: %s %v:\nwas %s\nnow %s", step, runs[i].report, runs[i].params, a[i], b[i])
			}
		}
	}
	if n := count("SELECT count(*) FROM circ_daily"); n != 0 {
		t.Fatalf("a new library has %d aggregate rows before any rollup", n)
	}
	live := snapshot()
	rollup()
	if n := count("SELECT count(*) FROM app.circ_live()"); n != 0 {
		t.Errorf("%d events still live after the rollup (all are months old)", n)
	}
	if n := count("SELECT sum(checkouts) FROM circ_titles_monthly WHERE month = '2026-02-01'"); n != 4 {
		t.Errorf("February's title aggregate holds %d checkouts, want 4", n)
	}
	rolled := snapshot()
	same("rollup", live, rolled)
	rollup()
	same("second rollup", rolled, snapshot())

	// Late events: a checkout of Beta at L1A on Feb 12 (returned the same
	// day at L1B) and a renewal of L2 on Feb 8, written now.
	late := tenants.NewID()
	w.tx(t, func(tx *gorm.DB) {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO loans (tenant_id, id, item_id, patron_id, patron_category, item_type, bib_id, branch_id, status, checked_out_at, due_at, renewals_allowed)
VALUES (?,?,?,?,'adult','book',?,?,'active','2026-02-12T16:00:00Z','2026-03-05T05:59:59Z',3)`, []any{w.tenant, late, w.i5, w.p3, w.t2, w.l1a}},
			{`UPDATE loans SET status = 'returned', returned_at = '2026-02-12T22:00:00Z', return_branch_id = ? WHERE id = ?`, []any{w.l1b, late}},
			{`INSERT INTO circ_audit (tenant_id, id, at, action, branch_id, loan_id) VALUES (?,?,'2026-02-08T18:00:00Z','renew',?,?)`, []any{w.tenant, tenants.NewID(), w.l2a, w.loanL2}},
			{`UPDATE loans SET renewals_used = 1, last_renewed_at = '2026-02-08T18:00:00Z' WHERE id = ?`, []any{w.loanL2}},
		} {
			if err := tx.Exec(q.sql, q.args...).Error; err != nil {
				t.Fatalf("%s: %v", q.sql, err)
			}
		}
	})
	late1 := snapshot()
	if got := rowsJSON(t, w.mustRun(t, "circulation_activity", feb(map[string]string{"group_by": "month"})).Rows); got != `[["2026-02-01",5,2,3]]` {
		t.Errorf("February after the late events: %s, want 5 checkouts, 2 renewals, 3 checkins", got)
	}
	pop := w.mustRun(t, "popular_titles", feb(nil))
	if got := rowsJSON(t, pickCols(pop, "title", "checkouts")); got != `[["Alpha",3],["Beta",2]]` {
		t.Errorf("popular titles after the late checkout: %s", got)
	}
	if n := count("SELECT count(*) FROM app.circ_live()"); n != 0 {
		t.Errorf("late events show as live (%d): they are older than the watermark", n)
	}
	rollup()
	same("rollup after late events", late1, snapshot())
	w.tx(t, func(tx *gorm.DB) {
		if err := tx.Exec("SELECT app.circ_daily_rebuild()").Error; err != nil {
			t.Fatal(err)
		}
	})
	same("rebuild", late1, snapshot())
}
