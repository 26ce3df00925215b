package api_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stacks-ils/stacks/api"
	"github.com/stacks-ils/stacks/api/acquisitions"
	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/api/serials"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

// reportRows runs a report and returns its rows as column name -> value.
func reportRows(t *testing.T, s *api.Server, token, query string) []map[string]any {
	t.Helper()
	r := call(t, s, "GET", "/api/v1/reports/"+query, token, nil)
	want(t, r, 200)
	var names []string
	for _, c := range r.Body["columns"].([]any) {
		names = append(names, c.(map[string]any)["name"].(string))
	}
	var out []map[string]any
	for _, row := range r.Body["rows"].([]any) {
		m := map[string]any{}
		for i, v := range row.([]any) {
			m[names[i]] = v
		}
		out = append(out, m)
	}
	return out
}

// pickCols renders the named columns of rows as "a b c; a b c" (numbers
// without decimals, null as -).
func pickCols(rows []map[string]any, cols ...string) string {
	var out []string
	for _, r := range rows {
		var parts []string
		for _, c := range cols {
			switch v := r[c].(type) {
			case nil:
				parts = append(parts, "-")
			default:
				parts = append(parts, fmt.Sprint(v))
			}
		}
		out = append(out, strings.Join(parts, " "))
	}
	return strings.Join(out, "; ")
}

// The acquisitions reports against numbers computed by hand from a small
// budget built through the HTTP API: two funds, an order opened, a partial
// receipt, an invoice paid, a credit, checkouts of a received copy.
func TestReports_Acquisitions(t *testing.T) {
	s := newServer(t, api.Config{})
	l := setupAcq(t, s, "rep-acq") // ADULT 1000.00 (no branch), CHILD 500.00 (MAIN); vendor BT, 10 % off, 30 days
	loc, _ := time.LoadLocation("America/Chicago")
	now := time.Now().In(loc)
	today := now.Format(time.DateOnly)
	yesterday := now.AddDate(0, 0, -1).Format(time.DateOnly)
	// Next year's budget: not in the default (current year) status.
	fy2 := call(t, s, "POST", "/api/v1/fiscal-years", l.Token, map[string]any{"code": "FY2028", "starts_on": "2027-07-01", "ends_on": "2028-06-30"})
	want(t, fy2, 201)
	want(t, call(t, s, "POST", "/api/v1/funds", l.Token, map[string]any{"code": "NEXT", "name": "Next year", "fiscal_year_id": fy2.Body["id"],
		"allocation": acqMoney(7000, "USD")}), 201)
	// Received copies go straight to the shelf, so they can be lent.
	want(t, call(t, s, "PATCH", "/api/v1/acquisitions/settings", l.Token, map[string]any{"skip_processing": true}), 200)

	// Line 1: 3 × 20.00 - 10 % = 54.00 on ADULT; line 2: 2 × 10.00 - 10 % = 18.00 on CHILD.
	po := call(t, s, "POST", "/api/v1/purchase-orders", l.Token, map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{
		{"bib": map[string]any{"title": "Budget book"}, "quantity": 3, "unit_price": acqMoney(2000, "USD"), "branch_id": l.MainID,
			"item_type": "book", "funds": []map[string]any{{"fund_id": l.FundA, "percent": 100}}},
		{"bib": map[string]any{"title": "Child book"}, "quantity": 2, "unit_price": acqMoney(1000, "USD"), "branch_id": l.MainID,
			"item_type": "book", "funds": []map[string]any{{"fund_id": l.FundB, "percent": 100}}}}})
	want(t, po, 201)
	poID := po.Body["id"].(string)
	line1 := po.Body["lines"].([]any)[0].(map[string]any)["id"].(string)
	line2 := po.Body["lines"].([]any)[1].(map[string]any)["id"].(string)
	want(t, call(t, s, "POST", "/api/v1/purchase-orders/"+poID+"/open", l.Token, nil), 200)
	// Two of line 1's three copies arrive, priced 18.00 each.
	want(t, call(t, s, "POST", "/api/v1/po-lines/"+line1+"/receive", l.Token, map[string]any{"quantity": 2, "barcodes": []string{"RA-1", "RA-2"}}), 200)
	// Invoiced at 18.50 each = 37.00 and paid: 2/3 of 54.00 = 36.00 released, 37.00 expended.
	inv := call(t, s, "POST", "/api/v1/invoices", l.Token, map[string]any{"vendor_id": l.Vendor, "number": "R-1", "date": today,
		"lines": []map[string]any{{"po_line_id": line1, "quantity": 2, "unit_price": acqMoney(1850, "USD")}}})
	want(t, inv, 201)
	want(t, call(t, s, "POST", "/api/v1/invoices/"+inv.Body["id"].(string)+"/approve", l.Token, nil), 200)
	want(t, call(t, s, "POST", "/api/v1/invoices/"+inv.Body["id"].(string)+"/pay", l.Token, nil), 200)
	// A credit of 2.00 from the vendor, posted on the fund by hand (no order: no vendor).
	want(t, call(t, s, "POST", "/api/v1/funds/"+l.FundA+"/transactions", l.Token, map[string]any{"kind": "credit",
		"amount": acqMoney(200, "USD"), "reason": "damaged copy refund"}), 201)
	// RA-1 goes out twice (checkout, checkin, checkout); RA-2 never.
	want(t, call(t, s, "POST", "/api/v1/patrons", l.Token, map[string]any{"card_number": "RA-P", "last_name": "Reader",
		"category": "adult", "home_branch_id": l.MainID, "expires_on": "2099-12-31"}), 201)
	co := map[string]any{"patron_card": "RA-P", "item_barcode": "RA-1", "branch_id": l.MainID}
	want(t, call(t, s, "POST", "/api/v1/circulation/checkout", l.Token, co), 201)
	want(t, call(t, s, "POST", "/api/v1/circulation/checkin", l.Token, map[string]any{"item_barcode": "RA-1", "branch_id": l.MainID}), 200)
	want(t, call(t, s, "POST", "/api/v1/circulation/checkout", l.Token, co), 201)

	balanceCols := []string{"fund_code", "fiscal_year", "branch_code", "currency", "allocated", "encumbered", "expended", "available", "used_percent"}
	cases := []struct {
		name, query string
		cols        []string
		want        string
	}{
		// ADULT: 1000.00 allocated; 54.00 - 36.00 = 18.00 on order; 37.00 - 2.00 = 35.00 spent;
		// 1000.00 - 18.00 - 35.00 = 947.00 left; (18 + 35) / 1000 = 5.3 %.
		// CHILD: 18.00 on order of 500.00: 482.00 left, 3.6 %.
		{"fund status", "fund_status", balanceCols,
			"ADULT FY2027  USD 100000 1800 3500 94700 5.3; CHILD FY2027 MAIN USD 50000 1800 0 48200 3.6"},
		{"fund status of a branch", "fund_status?branch_id=" + l.MainID, balanceCols, "CHILD FY2027 MAIN USD 50000 1800 0 48200 3.6"},
		{"fund status of another year", "fund_status?fiscal_year_id=" + fy2.Body["id"].(string), balanceCols, "NEXT FY2028  USD 7000 0 0 7000 0"},
		// The ledger before today was empty.
		{"fund status as of yesterday", "fund_status?as_of=" + yesterday, balanceCols,
			"ADULT FY2027  USD 0 0 0 0 -; CHILD FY2027 MAIN USD 0 0 0 0 -"},
		{"spending by vendor", "spending?group_by=vendor&period=today", []string{"vendor_code", "currency", "paid", "credited", "expended"},
			"BT USD 3700 0 3700; - USD 0 200 -200"},
		{"spending by fund", "spending?group_by=fund&period=today", []string{"fund_code", "paid", "credited", "expended"}, "ADULT 3700 200 3500"},
		{"spending of a vendor by fund and month", "spending?group_by=fund_month&period=today&vendor_id=" + l.Vendor,
			[]string{"fund_code", "month", "expended"}, "ADULT " + now.Format("2006-01") + "-01 3700"},
		// Every month of the range, zeros included.
		{"spending per month", "spending?group_by=month&from=" + now.AddDate(0, -1, 1-now.Day()).Format(time.DateOnly) + "&to=" + today,
			[]string{"month", "currency", "expended"},
			now.AddDate(0, -1, 1-now.Day()).Format("2006-01") + "-01 USD 0; " + now.Format("2006-01") + "-01 USD 3500"},
		{"spending by vendor per month", "spending?group_by=vendor_month&period=today", []string{"vendor_code", "month", "expended"},
			"BT " + now.Format("2006-01") + "-01 3700; - " + now.Format("2006-01") + "-01 -200"},
		// Weeks start on Monday.
		{"spending per week", "spending?group_by=week&period=today", []string{"week", "paid", "credited", "expended"},
			now.AddDate(0, 0, -((int(now.Weekday())+6)%7)).Format(time.DateOnly) + " 3700 200 3500"},
		{"spending of a fund without payments", "spending?group_by=fund&period=today&fund_id=" + l.FundB, []string{"fund_code"}, ""},
		{"no late lines today", "late_orders", []string{"po_number"}, ""},
		// 30 days' lead time: expected today + 30, 15 days late at today + 45.
		{"late lines", "late_orders?as_of=" + now.AddDate(0, 0, 45).Format(time.DateOnly),
			[]string{"po_number", "line_no", "vendor_code", "title", "branch_code", "quantity", "received", "outstanding", "expected_on", "days_late", "claims", "currency", "encumbered"},
			fmt.Sprintf("PO000001 1 BT Budget book MAIN 3 2 1 %[1]s 15 0 USD 1800; PO000001 2 BT Child book MAIN 2 0 2 %[1]s 15 0 USD 1800",
				now.AddDate(0, 0, 30).Format(time.DateOnly))},
		// Two copies at 18.00 acquired today, two checkouts: 36.00 / 2 = 18.00 each.
		{"cost per checkout", "cost_per_checkout?period=today", []string{"item_type", "currency", "items", "checkouts", "never_checked_out", "cost", "cost_per_checkout"},
			"book USD 2 2 1 3600 1800"},
		{"cost per checkout by vendor", "cost_per_checkout?period=today&group_by=vendor", []string{"vendor_code", "items", "cost", "cost_per_checkout"},
			"BT 2 3600 1800"},
		// As of yesterday the copies had not gone out.
		{"cost per checkout before the checkouts", "cost_per_checkout?from=" + today + "&to=" + today + "&as_of=" + yesterday,
			[]string{"items", "checkouts", "cost_per_checkout"}, "2 0 -"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := pickCols(reportRows(t, s, l.Token, c.query), c.cols...); got != c.want {
				t.Errorf("%s:\n got %q\nwant %q", c.query, got, c.want)
			}
		})
	}

	// The late lines are the ones acquisitions lists (and would claim).
	asOf := now.AddDate(0, 0, 45).Format(time.DateOnly)
	late := call(t, s, "GET", "/api/v1/po-lines/late?as_of="+asOf, l.Token, nil)
	want(t, late, 200)
	var ids []string
	for _, x := range late.Body["items"].([]any) {
		ids = append(ids, x.(map[string]any)["id"].(string))
	}
	if got := pickCols(reportRows(t, s, l.Token, "late_orders?as_of="+asOf), "po_line_id"); got != strings.Join(ids, "; ") || got != line1+"; "+line2 {
		t.Errorf("late_orders %s, acquisitions %v", got, ids)
	}
	// Balances are the fund's own figures.
	if got := balances(t, s, l.Token, l.FundA); got != [4]int64{100000, 1800, 3500, 94700} {
		t.Errorf("fund A: %v", got)
	}

	// Bad parameters are 400s naming the field; CSV and SVG work.
	want(t, call(t, s, "GET", "/api/v1/reports/fund_status?fiscal_year_id=x", l.Token, nil), 400, "bad_query")
	want(t, call(t, s, "GET", "/api/v1/reports/fund_status?fiscal_year_id=01a21dfe-0000-7000-8000-000000000000", l.Token, nil), 422, "invalid_fiscal_year")
	want(t, call(t, s, "GET", "/api/v1/reports/spending?group_by=title", l.Token, nil), 400, "bad_query")
	want(t, call(t, s, "GET", "/api/v1/reports/late_orders?vendor_id=1", l.Token, nil), 400, "bad_query")
	c := call(t, s, "GET", "/api/v1/reports/fund_status?format=csv", l.Token, nil)
	want(t, c, 200)
	if !strings.HasPrefix(string(c.Raw), "fund_id,fund_code,fund_name,fiscal_year,parent_code,branch_code,currency,allocated,encumbered,expended,available,used_percent\n") {
		t.Errorf("CSV %q", c.Raw)
	}
	svg := call(t, s, "GET", "/api/v1/reports/spending?group_by=vendor&period=today&format=svg", l.Token, nil)
	want(t, svg, 200)
	checkSVG(t, svg.Raw, "Spending by vendor, fund and period", "BT")
	want(t, call(t, s, "GET", "/api/v1/reports/late_orders?format=svg", l.Token, nil), 422, "no_chart")
	// The reports can be scheduled like the others.
	want(t, call(t, s, "POST", "/api/v1/report-schedules", l.Token, map[string]any{"report": "fund_status", "frequency": "monthly",
		"recipients": []string{"director@" + l.Slug + ".example.org"}}), 201)
	// Money is not totalled (funds may differ in currency); counts are.
	r := call(t, s, "GET", "/api/v1/reports/cost_per_checkout?period=today", l.Token, nil)
	want(t, r, 200)
	if tot := r.Body["totals"].(map[string]any); tot["items"] != 2.0 || tot["checkouts"] != 2.0 || tot["cost"] != nil {
		t.Errorf("totals %v", tot)
	}
}

// The serials reports against a quarterly subscription built through the
// HTTP API: ordered at 249.00 and paid 255.00, its first issue claimed then
// received, its second claimed and given up, renewed for 260.00.
func TestReports_Serials(t *testing.T) {
	// The serials clock moves: subscribed in December, claims run on their days.
	clock := time.Date(2026, 12, 15, 12, 0, 0, 0, time.UTC)
	env := tenanttest.Get(t)
	counter, svc := env.Isolated(tenants.Options{})
	cat := catalog.NewService(svc)
	acq := acquisitions.NewService(svc, cat)
	mail := notices.NewService(env.Pool, nil, nil, nil)
	ser := serials.NewService(svc, cat, acq).SetMailer(mail).SetClock(func() time.Time { return clock })
	s := api.New(api.Config{}, api.Deps{Log: slog.New(slog.DiscardHandler), Pool: env.Pool, Redis: env.Redis,
		Counter: counter, Tenants: svc, Catalog: cat, Acquisitions: acq, Serials: ser, Notices: mail})
	lib := signup(t, s, "rep-ser", "library")
	runOn := func(day string) {
		t.Helper()
		d, _ := time.Parse(time.DateOnly, day)
		clock = d.Add(18 * time.Hour)
		want(t, call(t, s, "POST", "/api/v1/serials/claims/run", lib.Token, nil), 202)
	}
	tok := lib.Token
	fy := call(t, s, "POST", "/api/v1/fiscal-years", tok, map[string]any{"code": "FY27", "starts_on": "2026-07-01", "ends_on": "2027-06-30", "current": true})
	want(t, fy, 201)
	fund := call(t, s, "POST", "/api/v1/funds", tok, map[string]any{"code": "SER", "name": "Serials", "fiscal_year_id": fy.Body["id"],
		"allocation": acqMoney(1000000, "USD")})
	want(t, fund, 201)
	v := call(t, s, "POST", "/api/v1/vendors", tok, map[string]any{"code": "EBS", "name": "Subscription agent", "currency": "USD", "email": "claims@agent.example"})
	want(t, v, 201)
	bib := call(t, s, "POST", "/api/v1/bibs", tok, map[string]any{"title": "Quarterly Review", "format": "serial"})
	want(t, bib, 201)
	cr := call(t, s, "POST", "/api/v1/subscriptions", tok, map[string]any{"bib_id": bib.Body["id"], "branch_id": lib.MainID,
		"vendor_id": v.Body["id"], "fund_id": fund.Body["id"], "annual_cost": acqMoney(24900, "USD"),
		"starts_on": "2027-01-01", "ends_on": "2027-12-31", "renewal_on": "2027-11-01", "pattern_id": "quarterly", "grace_days": 30,
		"first_issue": map[string]any{"expected_on": "2027-01-10", "enumeration": []int{30, 1}}})
	want(t, cr, 201)
	sub := cr.Body["id"].(string)
	line := cr.Body["po_line_id"].(string)
	// One claim per issue, then given up ten days later.
	want(t, call(t, s, "PATCH", "/api/v1/serials/settings", tok, map[string]any{"max_claims": 1, "claim_interval_days": 10}), 200)
	issues := call(t, s, "GET", "/api/v1/subscriptions/"+sub+"/issues", tok, nil)
	want(t, issues, 200)
	first, second := items(issues)[0]["id"].(string), items(issues)[1]["id"].(string)
	// Mar 1: issue 1 (Jan 10 + 30 days' grace) is claimed; it arrives.
	runOn("2027-03-01")
	want(t, call(t, s, "POST", "/api/v1/serial-issues/"+first+"/receive", tok, nil), 200)
	// Jun 1: issue 2 (Apr 10) is claimed; Jun 15: given up as missing.
	runOn("2027-06-01")
	runOn("2027-06-15")
	if st := call(t, s, "GET", "/api/v1/subscriptions/"+sub+"/issues", tok, nil); items(st)[1]["id"] != second || items(st)[1]["status"] != "missing" {
		t.Fatalf("second issue: %v", items(st)[1])
	}
	// The 2027 period is invoiced at 255.00 and paid.
	inv := call(t, s, "POST", "/api/v1/invoices", tok, map[string]any{"vendor_id": v.Body["id"], "number": "S-1", "date": "2027-01-20",
		"lines": []map[string]any{{"po_line_id": line, "quantity": 1, "unit_price": acqMoney(25500, "USD")}}})
	want(t, inv, 201)
	want(t, call(t, s, "POST", "/api/v1/invoices/"+inv.Body["id"].(string)+"/approve", tok, nil), 200)
	want(t, call(t, s, "POST", "/api/v1/invoices/"+inv.Body["id"].(string)+"/pay", tok, nil), 200)

	// Renewal due Nov 1: 17 days ahead of Oct 15, not within 10.
	expiring := []string{"title", "vendor_code", "status", "renewal_on", "ends_on", "days_left", "currency", "annual_cost"}
	if got := pickCols(reportRows(t, s, tok, "subscriptions_expiring?as_of=2027-10-15&within_days=30"), expiring...); got != "Quarterly Review EBS active 2027-11-01 2027-12-31 17 USD 24900" {
		t.Errorf("expiring: %q", got)
	}
	if got := pickCols(reportRows(t, s, tok, "subscriptions_expiring?as_of=2027-10-15&within_days=10"), expiring...); got != "" {
		t.Errorf("expiring within 10 days: %q", got)
	}
	rw := call(t, s, "POST", "/api/v1/subscriptions/"+sub+"/renew", tok, map[string]any{"annual_cost": acqMoney(26000, "USD")})
	want(t, rw, 200)

	cases := []struct {
		name, query string
		cols        []string
		want        string
	}{
		// Two claims sent, two issues: one received after its claim, one never.
		{"claims per vendor", "serial_claims?from=2027-01-01&to=2027-12-31",
			[]string{"vendor_code", "claims_sent", "issues_claimed", "received_after_claim", "never_received", "still_open"}, "EBS 2 2 1 1 0"},
		{"claims in March only", "serial_claims?from=2027-03-01&to=2027-03-31",
			[]string{"vendor_code", "claims_sent", "issues_claimed", "received_after_claim", "never_received", "still_open"}, "EBS 1 1 1 0 0"},
		// 2027: 249.00 released, 255.00 paid, one issue received: 255.00 per issue.
		// 2028: the renewal's 260.00 on order, nothing received yet.
		{"cost per title per year", "serial_costs?from=2027-01-01&to=2028-12-31",
			[]string{"title", "year", "currency", "encumbered", "expended", "issues_received", "cost_per_issue"},
			"Quarterly Review 2027 USD 0 25500 1 25500; Quarterly Review 2028 USD 26000 0 0 -"},
		{"cost of 2028 periods", "serial_costs?from=2028-01-01&to=2028-12-31", []string{"year", "encumbered"}, "2028 26000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := pickCols(reportRows(t, s, tok, c.query), c.cols...); got != c.want {
				t.Errorf("%s:\n got %q\nwant %q", c.query, got, c.want)
			}
		})
	}
	want(t, call(t, s, "GET", "/api/v1/reports/subscriptions_expiring?within_days=0", tok, nil), 400, "bad_query")
	svg := call(t, s, "GET", "/api/v1/reports/serial_claims?from=2027-01-01&to=2027-12-31&format=svg", tok, nil)
	want(t, svg, 200)
	checkSVG(t, svg.Raw, "Serials claims per vendor", "EBS")
}

// late_orders with branch_id follows per-copy destinations: a line whose
// copy still to come goes to EAST is late for EAST, not for MAIN.
func TestReports_LateOrdersPerCopyBranch(t *testing.T) {
	s := newServer(t, api.Config{})
	l := setupAcq(t, s, "rep-late-copies")
	east := call(t, s, "POST", "/api/v1/branches", l.Token, map[string]any{"name": "East", "code": "EAST"})
	want(t, east, 201)
	eastID := east.Body["id"].(string)
	po := call(t, s, "POST", "/api/v1/purchase-orders", l.Token, map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{
		{"bib": map[string]any{"title": "Two places"}, "quantity": 2, "unit_price": acqMoney(1000, "USD"), "item_type": "book",
			"funds":  []map[string]any{{"fund_id": l.FundA, "percent": 100}},
			"copies": []map[string]any{{"branch_id": l.MainID}, {"branch_id": eastID}}}}})
	want(t, po, 201)
	line := po.Body["lines"].([]any)[0].(map[string]any)["id"].(string)
	want(t, call(t, s, "POST", "/api/v1/purchase-orders/"+po.Body["id"].(string)+"/open", l.Token, nil), 200)
	asOf := time.Now().AddDate(0, 0, 60).Format(time.DateOnly)
	late := func(branch string) string {
		return pickCols(reportRows(t, s, l.Token, "late_orders?as_of="+asOf+"&branch_id="+branch), "po_line_id", "outstanding")
	}
	// Both copies to come: late for both branches.
	if m, e := late(l.MainID), late(eastID); m != line+" 2" || e != line+" 2" {
		t.Fatalf("before receipt: MAIN %q, EAST %q", m, e)
	}
	// Copy 1 (MAIN's) arrives: only EAST still waits.
	want(t, call(t, s, "POST", "/api/v1/po-lines/"+line+"/receive", l.Token, map[string]any{"quantity": 1}), 200)
	if m, e := late(l.MainID), late(eastID); m != "" || e != line+" 1" {
		t.Fatalf("after receipt: MAIN %q, EAST %q", m, e)
	}
}
