package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stacks-ils/stacks/api"
)

// acqLib is a library with a current fiscal year, two funds and a vendor.
type acqLib struct {
	library
	FY, FundA, FundB, Vendor string
}

func acqMoney(amount int64, cur string) map[string]any {
	return map[string]any{"amount": amount, "currency": cur}
}

func setupAcq(t *testing.T, s *api.Server, prefix string) acqLib {
	t.Helper()
	l := acqLib{library: signup(t, s, prefix, "library")}
	fy := call(t, s, "POST", "/api/v1/fiscal-years", l.Token, map[string]any{"code": "FY2027", "starts_on": "2026-07-01", "ends_on": "2027-06-30", "current": true})
	want(t, fy, 201)
	l.FY = fy.Body["id"].(string)
	a := call(t, s, "POST", "/api/v1/funds", l.Token, map[string]any{"code": "ADULT", "name": "Adult books", "fiscal_year_id": l.FY,
		"allocation": acqMoney(100000, "USD"), "warn_percent": 90, "stop_percent": 100})
	want(t, a, 201)
	l.FundA = a.Body["id"].(string)
	b := call(t, s, "POST", "/api/v1/funds", l.Token, map[string]any{"code": "CHILD", "name": "Children", "fiscal_year_id": l.FY,
		"branch_id": l.MainID, "allocation": acqMoney(50000, "USD"), "warn_percent": 90, "stop_percent": 100})
	want(t, b, 201)
	l.FundB = b.Body["id"].(string)
	v := call(t, s, "POST", "/api/v1/vendors", l.Token, map[string]any{"code": "BT", "name": "Baker & Taylor", "email": "orders@bt.example",
		"currency": "USD", "lead_time_days": 30, "claim_interval_days": 30, "discount_percent": 10})
	want(t, v, 201)
	l.Vendor = v.Body["id"].(string)
	return l
}

// balances reads a fund's four figures (amounts only).
func balances(t *testing.T, s *api.Server, token, fund string) [4]int64 {
	t.Helper()
	r := call(t, s, "GET", "/api/v1/funds/"+fund, token, nil)
	want(t, r, 200)
	var out [4]int64
	for i, k := range []string{"allocated", "encumbered", "expended", "available"} {
		out[i] = int64(r.Body[k].(map[string]any)["amount"].(float64))
	}
	return out
}

func TestAcquisitions_FundsAndOrders(t *testing.T) {
	s := newServer(t, api.Config{})
	l := setupAcq(t, s, "acq")
	if got := balances(t, s, l.Token, l.FundA); got != [4]int64{100000, 0, 0, 100000} {
		t.Fatalf("new fund A: %v", got)
	}
	// Vendors: code unique, bad input 422.
	want(t, call(t, s, "POST", "/api/v1/vendors", l.Token, map[string]any{"code": "BT", "name": "Again", "currency": "USD"}), 409, "vendor_code_taken")
	want(t, call(t, s, "POST", "/api/v1/vendors", l.Token, map[string]any{"code": "X1", "name": "Bad", "currency": "usd"}), 422, "invalid_currency")
	want(t, call(t, s, "POST", "/api/v1/fiscal-years", l.Token, map[string]any{"code": "FYX", "starts_on": "2027-01-01", "ends_on": "2027-12-31"}), 409, "fiscal_year_overlap")

	// A new title from an ISBN, and one from the simple form, split between funds.
	po := call(t, s, "POST", "/api/v1/purchase-orders", l.Token, map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{
		{"isbn": "9780306406157", "quantity": 3, "unit_price": acqMoney(1999, "USD"), "branch_id": l.MainID, "item_type": "book",
			"funds": []map[string]any{{"fund_id": l.FundA, "percent": 33.33}, {"fund_id": l.FundB, "percent": 66.67}}},
		{"bib": map[string]any{"title": "Ordering from a form", "authors": []string{"Writer, Some"}}, "quantity": 1,
			"unit_price": acqMoney(2500, "USD"), "discount_percent": 0, "branch_id": l.MainID, "funds": []map[string]any{{"fund_id": l.FundA, "percent": 100}}},
	}})
	want(t, po, 201)
	if po.Body["status"] != "draft" || po.Body["number"] != "PO000001" {
		t.Fatalf("new order: %s", po.Raw)
	}
	lines := po.Body["lines"].([]any)
	l0 := lines[0].(map[string]any)
	// 3 × 19.99 less 10 % = 53.973 -> 53.97.
	if l0["total"].(map[string]any)["amount"].(float64) != 5397 {
		t.Fatalf("line total: %s", po.Raw)
	}
	bib := call(t, s, "GET", "/api/v1/bibs/"+l0["bib_id"].(string), l.Token, nil)
	want(t, bib, 200)
	if bib.Body["title"] != "[On order] ISBN 9780306406157" {
		t.Fatalf("bib from ISBN: %s", bib.Raw)
	}
	poID := po.Body["id"].(string)
	// Draft: nothing encumbered yet.
	if got := balances(t, s, l.Token, l.FundA); got != [4]int64{100000, 0, 0, 100000} {
		t.Fatalf("fund A after draft: %v", got)
	}
	op := call(t, s, "POST", "/api/v1/purchase-orders/"+poID+"/open", l.Token, nil)
	want(t, op, 200)
	// 5397 split 33.33/66.67: 1798.82 and 3598.18 floor to 1798 + 3598; the
	// spare cent goes to the larger remainder (A): 1799 + 3598 = 5397.
	if got := balances(t, s, l.Token, l.FundA); got != [4]int64{100000, 1799 + 2500, 0, 100000 - 4299} {
		t.Fatalf("fund A after open: %v", got)
	}
	if got := balances(t, s, l.Token, l.FundB); got != [4]int64{50000, 3598, 0, 46402} {
		t.Fatalf("fund B after open: %v", got)
	}
	want(t, call(t, s, "POST", "/api/v1/purchase-orders/"+poID+"/open", l.Token, nil), 409, "invalid_status")

	order := func(fund string, price int64) string {
		r := call(t, s, "POST", "/api/v1/purchase-orders", l.Token, map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{
			{"bib_id": l0["bib_id"], "quantity": 1, "unit_price": acqMoney(price, "USD"), "discount_percent": 0, "branch_id": l.MainID,
				"funds": []map[string]any{{"fund_id": fund, "percent": 100}}}}})
		want(t, r, 201)
		return r.Body["id"].(string)
	}
	// Past the stop threshold (100 % of 500.00 with 35.98 committed): refused, nothing written.
	over := order(l.FundB, 50000)
	want(t, call(t, s, "POST", "/api/v1/purchase-orders/"+over+"/open", l.Token, nil), 422, "fund_over_limit")
	if got := balances(t, s, l.Token, l.FundB); got != [4]int64{50000, 3598, 0, 46402} {
		t.Fatalf("fund B after refusal: %v", got)
	}
	// Past the warning threshold (90 % = 450.00): 35.98 + 420.00 = 455.98 opens with a warning.
	warn := order(l.FundB, 42000)
	w := call(t, s, "POST", "/api/v1/purchase-orders/"+warn+"/open", l.Token, nil)
	want(t, w, 200)
	if ws, _ := w.Body["warnings"].([]any); len(ws) != 1 || ws[0].(map[string]any)["fund_id"] != l.FundB {
		t.Fatalf("warnings: %s", w.Raw)
	}
	// Cancel gives the encumbrance back.
	want(t, call(t, s, "POST", "/api/v1/purchase-orders/"+warn+"/cancel", l.Token, nil), 200)
	if got := balances(t, s, l.Token, l.FundB); got != [4]int64{50000, 3598, 0, 46402} {
		t.Fatalf("fund B after cancel: %v", got)
	}
	// A transfer with its reason; the ledger shows every movement.
	want(t, call(t, s, "POST", "/api/v1/fund-transfers", l.Token, map[string]any{"from_fund_id": l.FundA, "to_fund_id": l.FundB,
		"amount": acqMoney(10000, "USD")}), 422, "required")
	want(t, call(t, s, "POST", "/api/v1/fund-transfers", l.Token, map[string]any{"from_fund_id": l.FundA, "to_fund_id": l.FundB,
		"amount": acqMoney(10000, "USD"), "reason": "picture books"}), 201)
	led := call(t, s, "GET", "/api/v1/funds/"+l.FundB+"/ledger", l.Token, nil)
	want(t, led, 200)
	var kinds string
	var sum int64
	for _, e := range led.Body["entries"].([]any) {
		m := e.(map[string]any)
		a := int64(m["amount"].(map[string]any)["amount"].(float64))
		kinds += fmt.Sprintf("%s:%d ", m["kind"], a)
		sum += a
	}
	if kinds != "allocation:50000 encumbrance:3598 encumbrance:42000 release:42000 transfer:10000 " {
		t.Fatalf("ledger of B: %s", kinds)
	}
	if got := balances(t, s, l.Token, l.FundB); got != [4]int64{60000, 3598, 0, 56402} {
		t.Fatalf("fund B after transfer: %v", got)
	}
	// The ledger pages: 2 + 2 + 1 entries.
	var paged []string
	for url := "/api/v1/funds/" + l.FundB + "/ledger?limit=2"; ; {
		p := call(t, s, "GET", url, l.Token, nil)
		want(t, p, 200)
		for _, e := range p.Body["entries"].([]any) {
			paged = append(paged, e.(map[string]any)["kind"].(string))
		}
		next, _ := p.Body["next_cursor"].(string)
		if next == "" {
			break
		}
		url = "/api/v1/funds/" + l.FundB + "/ledger?limit=2&cursor=" + next
	}
	if strings.Join(paged, " ") != "allocation encumbrance encumbrance release transfer" {
		t.Fatalf("paged ledger: %v", paged)
	}
	if got := balances(t, s, l.Token, l.FundA); got != [4]int64{90000, 4299, 0, 85701} {
		t.Fatalf("fund A after transfer: %v", got)
	}
	// A child fund: the parent's totals cover its subtree; no cycles.
	child := call(t, s, "POST", "/api/v1/funds", l.Token, map[string]any{"code": "ADULT-FIC", "name": "Adult fiction", "fiscal_year_id": l.FY,
		"parent_id": l.FundA, "allocation": acqMoney(20000, "USD")})
	want(t, child, 201)
	pa := call(t, s, "GET", "/api/v1/funds/"+l.FundA, l.Token, nil)
	if tot := pa.Body["totals"].(map[string]any); tot["allocated"].(map[string]any)["amount"].(float64) != 110000 ||
		tot["available"].(map[string]any)["amount"].(float64) != 105701 {
		t.Fatalf("parent totals: %s", pa.Raw)
	}
	want(t, call(t, s, "PATCH", "/api/v1/funds/"+l.FundA, l.Token, map[string]any{"parent_id": child.Body["id"]}), 422, "invalid_parent")
	// Over-transfer is refused.
	want(t, call(t, s, "POST", "/api/v1/fund-transfers", l.Token, map[string]any{"from_fund_id": l.FundA, "to_fund_id": l.FundB,
		"amount": acqMoney(85702, "USD"), "reason": "too much"}), 422, "fund_over_limit")

	// Another currency needs an explicit rate, kept exactly.
	eur := call(t, s, "POST", "/api/v1/funds", l.Token, map[string]any{"code": "EU", "name": "Euro fund", "fiscal_year_id": l.FY,
		"allocation": acqMoney(10000, "EUR")})
	want(t, eur, 201)
	eurLine := map[string]any{"bib_id": l0["bib_id"], "quantity": 1, "unit_price": acqMoney(1000, "USD"), "discount_percent": 0, "branch_id": l.MainID,
		"funds": []map[string]any{{"fund_id": eur.Body["id"], "percent": 100}}}
	want(t, call(t, s, "POST", "/api/v1/purchase-orders", l.Token, map[string]any{"vendor_id": l.Vendor, "lines": []any{eurLine}}), 422, "exchange_rate_required")
	eurLine["exchange_rate"] = "0.923456"
	e := call(t, s, "POST", "/api/v1/purchase-orders", l.Token, map[string]any{"vendor_id": l.Vendor, "lines": []any{eurLine}})
	want(t, e, 201)
	if r := e.Body["lines"].([]any)[0].(map[string]any)["exchange_rate"]; r != 0.923456 {
		t.Fatalf("rate: %v", r)
	}
	want(t, call(t, s, "POST", "/api/v1/purchase-orders/"+e.Body["id"].(string)+"/open", l.Token, nil), 200)
	// 10.00 USD × 0.923456 = 9.23456 EUR -> 9.23.
	if got := balances(t, s, l.Token, eur.Body["id"].(string)); got != [4]int64{10000, 923, 0, 9077} {
		t.Fatalf("euro fund: %v", got)
	}
	// One line of an order canceled: its encumbrance comes back, the order stays open.
	two := call(t, s, "POST", "/api/v1/purchase-orders", l.Token, map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{
		{"bib_id": l0["bib_id"], "quantity": 1, "unit_price": acqMoney(1000, "USD"), "discount_percent": 0, "branch_id": l.MainID,
			"funds": []map[string]any{{"fund_id": l.FundB, "percent": 100}}},
		{"bib_id": l0["bib_id"], "quantity": 2, "unit_price": acqMoney(700, "USD"), "discount_percent": 0, "branch_id": l.MainID,
			"funds": []map[string]any{{"fund_id": l.FundB, "percent": 100}}}}})
	want(t, two, 201)
	want(t, call(t, s, "POST", "/api/v1/purchase-orders/"+two.Body["id"].(string)+"/open", l.Token, nil), 200)
	if got := balances(t, s, l.Token, l.FundB); got != [4]int64{60000, 3598 + 1000 + 1400, 0, 56402 - 2400} {
		t.Fatalf("fund B with two lines: %v", got)
	}
	second := two.Body["lines"].([]any)[1].(map[string]any)["id"].(string)
	cl := call(t, s, "POST", "/api/v1/po-lines/"+second+"/cancel", l.Token, nil)
	want(t, cl, 200)
	if cl.Body["status"] != "canceled" || cl.Body["funds"].([]any)[0].(map[string]any)["encumbered"].(map[string]any)["amount"].(float64) != 0 {
		t.Fatalf("canceled line: %s", cl.Raw)
	}
	want(t, call(t, s, "POST", "/api/v1/po-lines/"+second+"/cancel", l.Token, nil), 409, "invalid_status")
	if got := balances(t, s, l.Token, l.FundB); got != [4]int64{60000, 3598 + 1000, 0, 56402 - 1000} {
		t.Fatalf("fund B after line cancel: %v", got)
	}
	if g := call(t, s, "GET", "/api/v1/purchase-orders/"+two.Body["id"].(string), l.Token, nil); g.Body["status"] != "open" {
		t.Fatalf("order after one line canceled: %s", g.Body["status"])
	}
	// Bad distributions.
	bad := map[string]any{"bib_id": l0["bib_id"], "quantity": 1, "unit_price": acqMoney(100, "USD"), "branch_id": l.MainID,
		"funds": []map[string]any{{"fund_id": l.FundA, "percent": 50}}}
	want(t, call(t, s, "POST", "/api/v1/purchase-orders", l.Token, map[string]any{"vendor_id": l.Vendor, "lines": []any{bad}}), 422, "invalid_distribution")
}

// budget -> order a new title from an ISBN -> receive (items in the
// catalogue) -> invoice with adjustments -> pay -> the fund's numbers.
func TestAcquisitions_ReceiveInvoicePay(t *testing.T) {
	s := newServer(t, api.Config{})
	l := setupAcq(t, s, "acq-flow")
	po := call(t, s, "POST", "/api/v1/purchase-orders", l.Token, map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{
		{"isbn": "978-0-306-40615-7", "quantity": 3, "unit_price": acqMoney(2000, "USD"), "branch_id": l.MainID, "item_type": "book",
			"funds": []map[string]any{{"fund_id": l.FundA, "percent": 100}}},
		{"bib": map[string]any{"title": "Second title", "isbns": []string{"0261102214"}}, "quantity": 1, "unit_price": acqMoney(1000, "USD"),
			"branch_id": l.MainID, "item_type": "dvd", "funds": []map[string]any{{"fund_id": l.FundA, "percent": 50}, {"fund_id": l.FundB, "percent": 50}}},
	}})
	want(t, po, 201)
	poID := po.Body["id"].(string)
	line1 := po.Body["lines"].([]any)[0].(map[string]any)["id"].(string)
	line2 := po.Body["lines"].([]any)[1].(map[string]any)["id"].(string)
	// Not open yet: nothing can arrive.
	want(t, call(t, s, "POST", "/api/v1/po-lines/"+line1+"/receive", l.Token, map[string]any{"quantity": 1}), 409, "invalid_status")
	want(t, call(t, s, "POST", "/api/v1/purchase-orders/"+poID+"/open", l.Token, nil), 200)
	// 3 × 20.00 - 10 % = 54.00 on A; 10.00 - 10 % = 9.00 split 4.50 / 4.50.
	if got := balances(t, s, l.Token, l.FundA); got != [4]int64{100000, 5850, 0, 94150} {
		t.Fatalf("fund A after open: %v", got)
	}

	// Two copies arrive with their barcodes: in processing, priced, dated.
	r := call(t, s, "POST", "/api/v1/po-lines/"+line1+"/receive", l.Token, map[string]any{"quantity": 2, "barcodes": []string{"ACQ-1", "ACQ-2"}})
	want(t, r, 200)
	items := r.Body["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("items: %s", r.Raw)
	}
	it := items[0].(map[string]any)
	if it["status"] != "in_processing" || it["branch_id"] != l.MainID || it["price"].(map[string]any)["amount"].(float64) != 1800 || it["acquired_on"] == nil {
		t.Fatalf("received item: %v", it)
	}
	if ln := r.Body["line"].(map[string]any); ln["received_quantity"].(float64) != 2 || ln["status"] != "open" {
		t.Fatalf("line after partial receipt: %v", ln)
	}
	if g := call(t, s, "GET", "/api/v1/purchase-orders/"+poID, l.Token, nil); g.Body["status"] != "partially_received" {
		t.Fatalf("order after partial receipt: %s", g.Body["status"])
	}
	// The copies are in the catalogue: searchable by barcode.
	sr := call(t, s, "GET", "/api/v1/search?q=barcode:ACQ-2", l.Token, nil)
	want(t, sr, 200)
	if sr.Body["total"].(float64) != 1 {
		t.Fatalf("search: %s", sr.Raw)
	}
	want(t, call(t, s, "POST", "/api/v1/po-lines/"+line1+"/receive", l.Token, map[string]any{"quantity": 2}), 422, "over_receipt")
	want(t, call(t, s, "POST", "/api/v1/po-lines/"+line1+"/receive", l.Token, map[string]any{"barcodes": []string{"ACQ-1"}}), 409, "barcode_taken")
	want(t, call(t, s, "POST", "/api/v1/po-lines/"+line1+"/receive", l.Token, map[string]any{"quantity": 1, "barcodes": []string{"A", "B"}}), 422, "barcodes_mismatch")
	// The last copy with a generated barcode.
	r = call(t, s, "POST", "/api/v1/po-lines/"+line1+"/receive", l.Token, map[string]any{"quantity": 1})
	want(t, r, 200)
	if bc := r.Body["items"].([]any)[0].(map[string]any)["barcode"]; bc != "30000000000001" {
		t.Fatalf("generated barcode %v", bc)
	}
	// A library that skips processing shelves copies at once.
	want(t, call(t, s, "PATCH", "/api/v1/acquisitions/settings", l.Token, map[string]any{"skip_processing": true}), 200)
	r = call(t, s, "POST", "/api/v1/po-lines/"+line2+"/receive", l.Token, map[string]any{"quantity": 1, "barcodes": []string{"ACQ-DVD"}})
	want(t, r, 200)
	if it := r.Body["items"].([]any)[0].(map[string]any); it["status"] != "available" || it["item_type"] != "dvd" {
		t.Fatalf("skip processing: %v", it)
	}
	if g := call(t, s, "GET", "/api/v1/purchase-orders/"+poID, l.Token, nil); g.Body["status"] != "received" {
		t.Fatalf("order after full receipt: %s", g.Body["status"])
	}
	li := call(t, s, "GET", "/api/v1/po-lines/"+line1+"/items", l.Token, nil)
	want(t, li, 200)
	if n := len(li.Body["items"].([]any)); n != 3 {
		t.Fatalf("line items: %d", n)
	}

	// The invoice: 2 × 18.50 and 1 × 9.50, shipping 3.00 + tax 1.51 - discount 1.00 = 3.51
	// prorated 3700 : 950 -> 279.29 and 71.71 -> 279 + 72 (largest remainder).
	invBody := map[string]any{"vendor_id": l.Vendor, "number": "INV-77", "date": "2026-11-20",
		"lines": []map[string]any{{"po_line_id": line1, "quantity": 2, "unit_price": acqMoney(1850, "USD")},
			{"po_line_id": line2, "quantity": 1, "unit_price": acqMoney(950, "USD")}},
		"adjustments": []map[string]any{{"kind": "shipping", "amount": acqMoney(300, "USD")}, {"kind": "tax", "amount": acqMoney(151, "USD")},
			{"kind": "discount", "amount": acqMoney(100, "USD")}}}
	inv := call(t, s, "POST", "/api/v1/invoices", l.Token, invBody)
	want(t, inv, 201)
	invID := inv.Body["id"].(string)
	il := inv.Body["lines"].([]any)
	type row struct{ sub, adj, tot, ord, diff int64 }
	amt := func(m map[string]any, k string) int64 { return int64(m[k].(map[string]any)["amount"].(float64)) }
	var got []row
	for _, x := range il {
		m := x.(map[string]any)
		got = append(got, row{amt(m, "subtotal"), amt(m, "adjustment"), amt(m, "total"), amt(m, "ordered"), amt(m, "difference")})
	}
	if fmt.Sprint(got) != fmt.Sprint([]row{{3700, 279, 3979, 3600, 379}, {950, 72, 1022, 900, 122}}) {
		t.Fatalf("invoice lines: %v", got)
	}
	if amt(inv.Body, "total") != 5001 {
		t.Fatalf("invoice total: %s", inv.Raw)
	}
	want(t, call(t, s, "POST", "/api/v1/invoices", l.Token, invBody), 409, "invoice_number_taken")
	want(t, call(t, s, "POST", "/api/v1/invoices/"+invID+"/pay", l.Token, nil), 409, "invalid_status")
	want(t, call(t, s, "POST", "/api/v1/invoices/"+invID+"/approve", l.Token, nil), 200)
	p := call(t, s, "POST", "/api/v1/invoices/"+invID+"/pay", l.Token, nil)
	want(t, p, 200)
	if p.Body["status"] != "paid" {
		t.Fatalf("paid: %s", p.Raw)
	}
	// Line 1: 2 of 3 unpaid copies release 54.00 × 2/3 = 36.00 and spend 39.79;
	// line 2 releases 4.50 + 4.50 and spends 10.22 as 5.11 + 5.11.
	if got := balances(t, s, l.Token, l.FundA); got != [4]int64{100000, 5850 - 3600 - 450, 3979 + 511, 100000 - 1800 - 4490} {
		t.Fatalf("fund A after payment: %v", got)
	}
	if got := balances(t, s, l.Token, l.FundB); got != [4]int64{50000, 0, 511, 49489} {
		t.Fatalf("fund B after payment: %v", got)
	}
	want(t, call(t, s, "POST", "/api/v1/invoices/"+invID+"/cancel", l.Token, nil), 409, "invalid_status")
	// Only one copy of line 1 is left to invoice.
	over := map[string]any{"vendor_id": l.Vendor, "number": "INV-78", "date": "2026-11-21",
		"lines": []map[string]any{{"po_line_id": line1, "quantity": 2, "unit_price": acqMoney(1800, "USD")}}}
	want(t, call(t, s, "POST", "/api/v1/invoices", l.Token, over), 422, "over_invoice")
	over["lines"].([]map[string]any)[0]["quantity"] = 1
	i2 := call(t, s, "POST", "/api/v1/invoices", l.Token, over)
	want(t, i2, 201)
	want(t, call(t, s, "POST", "/api/v1/invoices/"+i2.Body["id"].(string)+"/cancel", l.Token, nil), 200)
	over["number"] = "INV-79"
	want(t, call(t, s, "POST", "/api/v1/invoices", l.Token, over), 201) // the canceled invoice gave the copy back
	// Closing the order releases what is still encumbered (the third copy's 18.00).
	want(t, call(t, s, "POST", "/api/v1/purchase-orders/"+poID+"/close", l.Token, nil), 200)
	if got := balances(t, s, l.Token, l.FundA); got != [4]int64{100000, 0, 4490, 95510} {
		t.Fatalf("fund A after close: %v", got)
	}
}

// Rollover: a dry run shows the effect and changes nothing; the real run
// closes the year, carries encumbrances (or releases them) and unspent
// money into next year's funds, and later payments draw on next year.
func TestAcquisitions_Rollover(t *testing.T) {
	s := newServer(t, api.Config{})
	l := setupAcq(t, s, "acq-roll")
	want(t, call(t, s, "PATCH", "/api/v1/funds/"+l.FundA, l.Token, map[string]any{"carry_unspent": true}), 200)
	want(t, call(t, s, "PATCH", "/api/v1/funds/"+l.FundB, l.Token, map[string]any{"encumbrance_rollover": "release"}), 200)
	mk := func(fund string, price int64) (string, string) {
		r := call(t, s, "POST", "/api/v1/purchase-orders", l.Token, map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{
			{"bib": map[string]any{"title": "Roll " + fund[:8]}, "quantity": 2, "unit_price": acqMoney(price, "USD"), "discount_percent": 0,
				"branch_id": l.MainID, "funds": []map[string]any{{"fund_id": fund, "percent": 100}}}}})
		want(t, r, 201)
		want(t, call(t, s, "POST", "/api/v1/purchase-orders/"+r.Body["id"].(string)+"/open", l.Token, nil), 200)
		return r.Body["id"].(string), r.Body["lines"].([]any)[0].(map[string]any)["id"].(string)
	}
	_, lineA := mk(l.FundA, 1000) // 20.00 on A
	mk(l.FundB, 500)              // 10.00 on B
	fy2 := call(t, s, "POST", "/api/v1/fiscal-years", l.Token, map[string]any{"code": "FY2028", "starts_on": "2027-07-01", "ends_on": "2028-06-30"})
	want(t, fy2, 201)
	next := fy2.Body["id"].(string)
	a2 := call(t, s, "POST", "/api/v1/funds", l.Token, map[string]any{"code": "ADULT", "name": "Adult books", "fiscal_year_id": next,
		"allocation": acqMoney(50000, "USD")})
	want(t, a2, 201)
	a2ID := a2.Body["id"].(string)
	want(t, call(t, s, "POST", "/api/v1/fiscal-years/"+l.FY+"/rollover", l.Token, map[string]any{"to_fiscal_year_id": l.FY}), 422, "invalid_fiscal_year")

	dry := call(t, s, "POST", "/api/v1/fiscal-years/"+l.FY+"/rollover", l.Token, map[string]any{"to_fiscal_year_id": next, "dry_run": true})
	want(t, dry, 200)
	type eff struct {
		code                 string
		created              bool
		rolled, released, cu int64
		toAlloc, toEnc       int64
	}
	effects := func(r resp) []eff {
		var out []eff
		for _, x := range r.Body["funds"].([]any) {
			m := x.(map[string]any)
			amt := func(k string) int64 { return int64(m[k].(map[string]any)["amount"].(float64)) }
			tb := m["to_balances"].(map[string]any)
			out = append(out, eff{m["code"].(string), m["created"].(bool), amt("rolled_encumbrance"), amt("released_encumbrance"),
				amt("carried_unspent"), int64(tb["allocated"].(map[string]any)["amount"].(float64)), int64(tb["encumbered"].(map[string]any)["amount"].(float64))})
		}
		return out
	}
	// A: 20.00 rolls, 1000.00 unspent carries (the encumbrance is released first) onto 500.00;
	// B: 10.00 released, nothing carried, its successor created empty.
	wantEff := fmt.Sprint([]eff{{"ADULT", false, 2000, 0, 100000, 150000, 2000}, {"CHILD", true, 0, 1000, 0, 0, 0}})
	if got := fmt.Sprint(effects(dry)); got != wantEff {
		t.Fatalf("dry run: %s, want %s", got, wantEff)
	}
	if dry.Body["dry_run"] != true || dry.Body["funds"].([]any)[1].(map[string]any)["to_fund_id"] != nil {
		t.Fatalf("dry run flags: %s", dry.Raw)
	}
	// Nothing changed.
	if got := balances(t, s, l.Token, l.FundA); got != [4]int64{100000, 2000, 0, 98000} {
		t.Fatalf("fund A after dry run: %v", got)
	}
	if got := balances(t, s, l.Token, a2ID); got != [4]int64{50000, 0, 0, 50000} {
		t.Fatalf("next year's A after dry run: %v", got)
	}
	if fy := call(t, s, "GET", "/api/v1/fiscal-years/"+l.FY, l.Token, nil); fy.Body["closed_at"] != nil {
		t.Fatalf("dry run closed the year: %s", fy.Raw)
	}
	if fl := call(t, s, "GET", "/api/v1/funds?fiscal_year_id="+next, l.Token, nil); len(fl.Body["items"].([]any)) != 1 {
		t.Fatalf("dry run left funds: %s", fl.Raw)
	}

	done := call(t, s, "POST", "/api/v1/fiscal-years/"+l.FY+"/rollover", l.Token, map[string]any{"to_fiscal_year_id": next})
	want(t, done, 200)
	if got := fmt.Sprint(effects(done)); got != wantEff {
		t.Fatalf("rollover: %s, want %s", got, wantEff)
	}
	if done.Body["from"].(map[string]any)["closed_at"] == nil || done.Body["to"].(map[string]any)["current"] != true {
		t.Fatalf("years: %s", done.Raw)
	}
	if got := balances(t, s, l.Token, l.FundA); got != [4]int64{0, 0, 0, 0} {
		t.Fatalf("old A: %v", got)
	}
	if got := balances(t, s, l.Token, l.FundB); got != [4]int64{50000, 0, 0, 50000} {
		t.Fatalf("old B: %v", got)
	}
	if got := balances(t, s, l.Token, a2ID); got != [4]int64{150000, 2000, 0, 148000} {
		t.Fatalf("new A: %v", got)
	}
	want(t, call(t, s, "POST", "/api/v1/fiscal-years/"+l.FY+"/rollover", l.Token, map[string]any{"to_fiscal_year_id": next}), 409, "fiscal_year_closed")
	// The closed year's funds take no new orders.
	r := call(t, s, "POST", "/api/v1/purchase-orders", l.Token, map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{
		{"isbn": "9780306406157", "quantity": 1, "unit_price": acqMoney(100, "USD"), "branch_id": l.MainID,
			"funds": []map[string]any{{"fund_id": l.FundA, "percent": 100}}}}})
	want(t, r, 201)
	want(t, call(t, s, "POST", "/api/v1/purchase-orders/"+r.Body["id"].(string)+"/open", l.Token, nil), 422, "fiscal_year_closed")
	// The rolled line is paid from next year's fund.
	inv := call(t, s, "POST", "/api/v1/invoices", l.Token, map[string]any{"vendor_id": l.Vendor, "number": "R-1", "date": "2027-08-01",
		"lines": []map[string]any{{"po_line_id": lineA, "quantity": 2, "unit_price": acqMoney(1100, "USD")}}})
	want(t, inv, 201)
	want(t, call(t, s, "POST", "/api/v1/invoices/"+inv.Body["id"].(string)+"/approve", l.Token, nil), 200)
	want(t, call(t, s, "POST", "/api/v1/invoices/"+inv.Body["id"].(string)+"/pay", l.Token, nil), 200)
	if got := balances(t, s, l.Token, a2ID); got != [4]int64{150000, 0, 2200, 147800} {
		t.Fatalf("new A after payment: %v", got)
	}
}

// Purchase suggestions: a patron's request is accepted and ordered (the
// order line names it); rejections need a reason; the holds-ratio scan
// suggests a title with more holds than its copies can serve.
func TestAcquisitions_Suggestions(t *testing.T) {
	s := newServer(t, api.Config{})
	l := setupAcq(t, s, "acq-sugg")
	patron := func(card string) string {
		p := call(t, s, "POST", "/api/v1/patrons", l.Token, map[string]any{"card_number": card, "last_name": "Reader " + card,
			"category": "adult", "home_branch_id": l.MainID, "expires_on": "2099-12-31"})
		want(t, p, 201)
		return p.Body["id"].(string)
	}
	p1 := patron("S-1")
	// Any signed-in staff may pass a patron's suggestion on.
	_, desk := addStaff(t, s, l.library, "desk@"+l.Slug+".example.org", "circulation", l.MainID)
	sg := call(t, s, "POST", "/api/v1/purchase-suggestions", desk, map[string]any{"patron_id": p1, "title": "The Overstory", "author": "Powers, Richard", "isbn": "0261102214"})
	want(t, sg, 201)
	if sg.Body["status"] != "pending" || sg.Body["source"] != "patron" || sg.Body["isbn"] != "9780261102217" {
		t.Fatalf("suggestion: %s", sg.Raw)
	}
	id := sg.Body["id"].(string)
	want(t, call(t, s, "POST", "/api/v1/purchase-suggestions/"+id+"/accept", desk, nil), 403)
	want(t, call(t, s, "POST", "/api/v1/purchase-suggestions", l.Token, map[string]any{"notes": "something good"}), 422, "required")
	line := map[string]any{"isbn": "9780261102217", "quantity": 1, "unit_price": acqMoney(2800, "USD"), "branch_id": l.MainID,
		"funds": []map[string]any{{"fund_id": l.FundA, "percent": 100}}, "suggestion_id": id}
	// Not accepted yet: it cannot be ordered.
	want(t, call(t, s, "POST", "/api/v1/purchase-orders", l.Token, map[string]any{"vendor_id": l.Vendor, "lines": []any{line}}), 422, "suggestion_not_accepted")
	want(t, call(t, s, "POST", "/api/v1/purchase-suggestions/"+id+"/accept", l.Token, nil), 200)
	want(t, call(t, s, "POST", "/api/v1/purchase-suggestions/"+id+"/accept", l.Token, nil), 409, "invalid_status")
	po := call(t, s, "POST", "/api/v1/purchase-orders", l.Token, map[string]any{"vendor_id": l.Vendor, "lines": []any{line}})
	want(t, po, 201)
	got := call(t, s, "GET", "/api/v1/purchase-suggestions/"+id, l.Token, nil)
	if got.Body["status"] != "ordered" || got.Body["po_line_id"] != po.Body["lines"].([]any)[0].(map[string]any)["id"] {
		t.Fatalf("ordered suggestion: %s", got.Raw)
	}
	other := call(t, s, "POST", "/api/v1/purchase-suggestions", l.Token, map[string]any{"title": "Out of scope"})
	want(t, other, 201)
	want(t, call(t, s, "POST", "/api/v1/purchase-suggestions/"+other.Body["id"].(string)+"/reject", l.Token, map[string]any{}), 422, "required")
	rj := call(t, s, "POST", "/api/v1/purchase-suggestions/"+other.Body["id"].(string)+"/reject", l.Token, map[string]any{"reason": "not in our collection policy"})
	want(t, rj, 200)
	if rj.Body["status"] != "rejected" || rj.Body["source"] != "staff" {
		t.Fatalf("rejected: %s", rj.Raw)
	}
	// One copy, three holds: a ratio of 3 suggests it; one hold on another title does not.
	hot := call(t, s, "POST", "/api/v1/bibs", l.Token, map[string]any{"title": "Everyone wants this"})
	want(t, hot, 201)
	cold := call(t, s, "POST", "/api/v1/bibs", l.Token, map[string]any{"title": "Quiet shelf"})
	want(t, cold, 201)
	for i, b := range []string{hot.Body["id"].(string), cold.Body["id"].(string)} {
		want(t, call(t, s, "POST", "/api/v1/items", l.Token, map[string]any{"bib_id": b, "barcode": fmt.Sprintf("HR-%d", i), "branch_id": l.MainID}), 201)
	}
	for i, b := range []string{hot.Body["id"].(string), hot.Body["id"].(string), hot.Body["id"].(string), cold.Body["id"].(string)} {
		want(t, call(t, s, "POST", "/api/v1/holds", l.Token, map[string]any{"patron_id": patron(fmt.Sprintf("H-%d", i)), "bib_id": b, "pickup_branch_id": l.MainID}), 201)
	}
	fh := call(t, s, "POST", "/api/v1/purchase-suggestions/from-holds", l.Token, map[string]any{"ratio": 3})
	want(t, fh, 201)
	items := fh.Body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["bib_id"] != hot.Body["id"] || items[0].(map[string]any)["notes"] != "3 active holds on 1 usable copies" {
		t.Fatalf("from holds: %s", fh.Raw)
	}
	// Again: the open suggestion is not duplicated.
	if again := call(t, s, "POST", "/api/v1/purchase-suggestions/from-holds", l.Token, map[string]any{"ratio": 3}); len(again.Body["items"].([]any)) != 0 {
		t.Fatalf("from holds again: %s", again.Raw)
	}
	list := call(t, s, "GET", "/api/v1/purchase-suggestions?status=pending", l.Token, nil)
	if n := len(list.Body["items"].([]any)); n != 1 {
		t.Fatalf("%d pending suggestions, want 1: %s", n, list.Raw)
	}
}

// Funds belong to a part of the library: staff order and spend only where
// their role is granted, and a fund pays only for copies going below its
// owner.
func TestAcquisitions_BranchScope(t *testing.T) {
	s := newServer(t, api.Config{})
	l := setupAcq(t, s, "acq-scope")
	east := addBranch(t, s, l.Token, map[string]any{"name": "East", "code": "EAST", "parent_id": l.RootID, "kind": "branch"})["id"].(string)
	_, buyer := addStaff(t, s, l.library, "buyer@"+l.Slug+".example.org", "acquisitions", east)
	eastFund := call(t, s, "POST", "/api/v1/funds", buyer, map[string]any{"code": "EASTF", "name": "East", "fiscal_year_id": l.FY,
		"branch_id": east, "allocation": acqMoney(10000, "USD")})
	want(t, eastFund, 201)
	// Not at Main, where fund B belongs.
	want(t, call(t, s, "POST", "/api/v1/funds", buyer, map[string]any{"code": "MAINF", "name": "Main", "fiscal_year_id": l.FY,
		"branch_id": l.MainID, "allocation": acqMoney(10000, "USD")}), 403)
	line := func(branch, fund string) map[string]any {
		return map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{{"isbn": "9780306406157", "quantity": 1,
			"unit_price": acqMoney(1000, "USD"), "branch_id": branch, "funds": []map[string]any{{"fund_id": fund, "percent": 100}}}}}
	}
	want(t, call(t, s, "POST", "/api/v1/purchase-orders", buyer, line(l.MainID, l.FundB)), 403, "forbidden")
	want(t, call(t, s, "POST", "/api/v1/purchase-orders", buyer, line(east, l.FundB)), 422, "fund_not_for_branch")
	po := call(t, s, "POST", "/api/v1/purchase-orders", buyer, line(east, eastFund.Body["id"].(string)))
	want(t, po, 201)
	want(t, call(t, s, "POST", "/api/v1/purchase-orders/"+po.Body["id"].(string)+"/open", buyer, nil), 200)
	// The EDIFACT export of the sent order.
	e := call(t, s, "GET", "/api/v1/purchase-orders/"+po.Body["id"].(string)+"/edifact", buyer, nil)
	want(t, e, 200)
	if !strings.HasPrefix(string(e.Raw), "UNA:+.? 'UNB+UNOC:3+") || e.Header.Get("Content-Type") != "application/EDIFACT" {
		t.Fatalf("edifact: %s %s", e.Header.Get("Content-Type"), e.Raw)
	}
	// Receiving happens at the line's branch, which the buyer covers.
	r := call(t, s, "POST", "/api/v1/po-lines/"+po.Body["lines"].([]any)[0].(map[string]any)["id"].(string)+"/receive", buyer, map[string]any{"quantity": 1})
	want(t, r, 200)
	// A read-only colleague sees budgets but cannot move money.
	_, viewer := addStaff(t, s, l.library, "viewer@"+l.Slug+".example.org", "readonly", l.RootID)
	want(t, call(t, s, "GET", "/api/v1/funds/"+l.FundA, viewer, nil), 200)
	want(t, call(t, s, "POST", "/api/v1/fund-transfers", viewer, map[string]any{"from_fund_id": l.FundA, "to_fund_id": l.FundB,
		"amount": acqMoney(1, "USD"), "reason": "x"}), 403)
}

// Bad input is a 4xx with a code, never a 500, and writes nothing.
func TestAcquisitions_BadInput(t *testing.T) {
	s := newServer(t, api.Config{})
	l := setupAcq(t, s, "acq-bad")
	po := call(t, s, "POST", "/api/v1/purchase-orders", l.Token, map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{
		{"isbn": "9780306406157", "quantity": 1, "unit_price": acqMoney(100, "USD"), "branch_id": l.MainID,
			"funds": []map[string]any{{"fund_id": l.FundA, "percent": 100}}}}})
	want(t, po, 201)
	poID := po.Body["id"].(string)
	lineID := po.Body["lines"].([]any)[0].(map[string]any)["id"].(string)
	want(t, call(t, s, "POST", "/api/v1/purchase-orders/"+poID+"/open", l.Token, nil), 200)
	nobody := "01a21dd1-0000-7000-8000-000000000000"
	cases := []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"POST", "/api/v1/vendors", map[string]any{"code": "X", "name": "X"}, 422, "required"},
		{"POST", "/api/v1/vendors", map[string]any{"code": "X", "name": "X", "currency": "USD", "discount_percent": 101}, 422, "invalid_discount"},
		{"POST", "/api/v1/vendors", map[string]any{"code": "X", "name": "X", "currency": "USD", "discount_percent": "ten"}, 400, "invalid_percent"},
		{"POST", "/api/v1/vendors", map[string]any{"code": "X", "name": "X", "currency": "USD", "email": "not mail"}, 422, "invalid_email"},
		{"POST", "/api/v1/vendors", map[string]any{"code": "X", "name": "X", "currency": "USD", "contacts": "bob"}, 422, "invalid_contacts"},
		{"POST", "/api/v1/fiscal-years", map[string]any{"code": "F", "starts_on": "2030-01-01", "ends_on": "2029-01-01"}, 422, "invalid_dates"},
		{"POST", "/api/v1/fiscal-years", map[string]any{"code": "F", "starts_on": "2030-02-30", "ends_on": "2031-01-01"}, 422, "invalid_date"},
		{"POST", "/api/v1/funds", map[string]any{"code": "N", "name": "N", "fiscal_year_id": nobody}, 422, "invalid_fiscal_year"},
		{"POST", "/api/v1/funds", map[string]any{"code": "N", "name": "N", "fiscal_year_id": l.FY, "branch_id": nobody}, 422, "invalid_branch"},
		{"POST", "/api/v1/funds", map[string]any{"code": "N", "name": "N", "fiscal_year_id": l.FY, "allocation": acqMoney(-5, "USD")}, 422, "invalid_amount"},
		{"POST", "/api/v1/funds", map[string]any{"code": "ADULT", "name": "N", "fiscal_year_id": l.FY}, 409, "fund_code_taken"},
		{"PATCH", "/api/v1/funds/" + l.FundA, map[string]any{"allocation": acqMoney(5, "USD")}, 422, "immutable_field"},
		{"POST", "/api/v1/funds/" + l.FundA + "/transactions", map[string]any{"kind": "expenditure", "amount": acqMoney(5, "USD")}, 422, "invalid_kind"},
		{"POST", "/api/v1/funds/" + l.FundA + "/transactions", map[string]any{"kind": "allocation", "amount": acqMoney(5, "EUR")}, 422, "currency_mismatch"},
		{"POST", "/api/v1/funds/" + l.FundA + "/transactions", map[string]any{"kind": "allocation", "amount": acqMoney(-200000, "USD")}, 422, "fund_over_limit"},
		{"POST", "/api/v1/fund-transfers", map[string]any{"from_fund_id": l.FundA, "to_fund_id": nobody, "amount": acqMoney(1, "USD"), "reason": "r"}, 422, "invalid_fund"},
		{"POST", "/api/v1/purchase-orders", map[string]any{"vendor_id": nobody, "lines": []any{}}, 422, "invalid_vendor"},
		{"POST", "/api/v1/purchase-orders", map[string]any{"vendor_id": l.Vendor, "lines": []any{}}, 422, "invalid_lines"},
		{"POST", "/api/v1/purchase-orders", map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{{"quantity": 1, "unit_price": acqMoney(1, "USD"),
			"branch_id": l.MainID, "funds": []map[string]any{{"fund_id": l.FundA, "percent": 100}}}}}, 422, "required"},
		{"POST", "/api/v1/purchase-orders", map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{{"isbn": "123", "quantity": 1, "unit_price": acqMoney(1, "USD"),
			"branch_id": l.MainID, "funds": []map[string]any{{"fund_id": l.FundA, "percent": 100}}}}}, 422, "invalid_isbn"},
		{"POST", "/api/v1/purchase-orders", map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{{"bib_id": nobody, "quantity": 1, "unit_price": acqMoney(1, "USD"),
			"branch_id": l.MainID, "funds": []map[string]any{{"fund_id": l.FundA, "percent": 100}}}}}, 422, "invalid_bib"},
		{"POST", "/api/v1/purchase-orders", map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{{"isbn": "9780306406157", "quantity": 0, "unit_price": acqMoney(1, "USD"),
			"branch_id": l.MainID, "funds": []map[string]any{{"fund_id": l.FundA, "percent": 100}}}}}, 422, "invalid_quantity"},
		{"POST", "/api/v1/purchase-orders", map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{{"isbn": "9780306406157", "quantity": 1, "unit_price": acqMoney(1, "EUR"),
			"branch_id": l.MainID, "funds": []map[string]any{{"fund_id": l.FundA, "percent": 100}}}}}, 422, "currency_mismatch"},
		{"POST", "/api/v1/purchase-orders", map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{{"isbn": "9780306406157", "quantity": 1, "unit_price": acqMoney(1, "USD"),
			"branch_id": l.MainID, "funds": []map[string]any{{"fund_id": nobody, "percent": 100}}}}}, 422, "invalid_fund"},
		{"POST", "/api/v1/purchase-orders", map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{{"isbn": "9780306406157", "quantity": 1, "unit_price": acqMoney(1, "USD"),
			"branch_id": l.MainID, "funds": []map[string]any{{"fund_id": l.FundA, "percent": 60}, {"fund_id": l.FundA, "percent": 40}}}}}, 422, "duplicate_fund"},
		{"POST", "/api/v1/purchase-orders", map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{{"isbn": "9780306406157", "quantity": 1, "unit_price": acqMoney(1, "USD"),
			"branch_id": l.MainID, "exchange_rate": -1, "funds": []map[string]any{{"fund_id": l.FundA, "percent": 100}}}}}, 400, "invalid_exchange_rate"},
		{"POST", "/api/v1/po-lines/" + lineID + "/receive", map[string]any{"quantity": 0}, 422, "invalid_quantity"},
		{"POST", "/api/v1/po-lines/" + lineID + "/receive", map[string]any{"barcodes": []string{"bad barcode!"}}, 422, "invalid_barcode"},
		{"POST", "/api/v1/po-lines/" + nobody + "/receive", map[string]any{"quantity": 1}, 404, ""},
		{"POST", "/api/v1/invoices", map[string]any{"vendor_id": l.Vendor, "number": "", "date": "2026-01-01"}, 422, "required"},
		{"POST", "/api/v1/invoices", map[string]any{"vendor_id": l.Vendor, "number": "I", "date": "yesterday"}, 422, "invalid_date"},
		{"POST", "/api/v1/invoices", map[string]any{"vendor_id": l.Vendor, "number": "I", "date": "2026-01-01",
			"lines": []map[string]any{{"po_line_id": nobody, "quantity": 1, "unit_price": acqMoney(1, "USD")}}}, 422, "invalid_po_line"},
		{"POST", "/api/v1/invoices", map[string]any{"vendor_id": l.Vendor, "number": "I", "date": "2026-01-01",
			"lines":       []map[string]any{{"po_line_id": lineID, "quantity": 1, "unit_price": acqMoney(100, "USD")}},
			"adjustments": []map[string]any{{"kind": "bribe", "amount": acqMoney(1, "USD")}}}, 422, "invalid_adjustment"},
		{"POST", "/api/v1/invoices", map[string]any{"vendor_id": l.Vendor, "number": "I", "date": "2026-01-01",
			"lines":       []map[string]any{{"po_line_id": lineID, "quantity": 1, "unit_price": acqMoney(100, "USD")}},
			"adjustments": []map[string]any{{"kind": "discount", "amount": acqMoney(101, "USD")}}}, 422, "invalid_adjustment"},
		{"POST", "/api/v1/fiscal-years/" + l.FY + "/rollover", map[string]any{"to_fiscal_year_id": nobody}, 422, "invalid_fiscal_year"},
		{"GET", "/api/v1/po-lines/late?as_of=soon", nil, 422, "invalid_date"},
		{"POST", "/api/v1/purchase-suggestions/from-holds", map[string]any{"ratio": 0}, 422, "invalid_ratio"},
		{"PATCH", "/api/v1/acquisitions/settings", map[string]any{"skip": true}, 400, "unknown_field"},
	}
	before := balances(t, s, l.Token, l.FundA)
	for _, c := range cases {
		r := call(t, s, c.method, c.path, l.Token, c.body)
		if r.Status != c.status || (c.code != "" && r.errCode() != c.code) {
			t.Errorf("%s %s %v: %d %s, want %d %s", c.method, c.path, c.body, r.Status, r.Raw, c.status, c.code)
		}
	}
	if after := balances(t, s, l.Token, l.FundA); after != before {
		t.Fatalf("fund A changed: %v -> %v", before, after)
	}
}

// A title can be ordered as a MARC record (MARC-in-JSON); a matching record
// is reused rather than duplicated.
func TestAcquisitions_OrderFromMARC(t *testing.T) {
	s := newServer(t, api.Config{})
	l := setupAcq(t, s, "acq-marc")
	rec := map[string]any{"leader": "00000nam a2200000 a 4500", "fields": []any{
		map[string]any{"020": map[string]any{"ind1": " ", "ind2": " ", "subfields": []any{map[string]any{"a": "9780306406157"}}}},
		map[string]any{"245": map[string]any{"ind1": "0", "ind2": "0", "subfields": []any{map[string]any{"a": "Ordered as MARC"}}}}}}
	line := func(m any) map[string]any {
		return map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{{"marc": m, "quantity": 1, "unit_price": acqMoney(100, "USD"),
			"branch_id": l.MainID, "funds": []map[string]any{{"fund_id": l.FundA, "percent": 100}}}}}
	}
	po := call(t, s, "POST", "/api/v1/purchase-orders", l.Token, line(rec))
	want(t, po, 201)
	bibID := po.Body["lines"].([]any)[0].(map[string]any)["bib_id"].(string)
	if b := call(t, s, "GET", "/api/v1/bibs/"+bibID, l.Token, nil); b.Body["title"] != "Ordered as MARC" {
		t.Fatalf("bib: %s", b.Raw)
	}
	again := call(t, s, "POST", "/api/v1/purchase-orders", l.Token, line(rec))
	want(t, again, 201)
	if again.Body["lines"].([]any)[0].(map[string]any)["bib_id"] != bibID {
		t.Fatal("the same record was created twice")
	}
	bad := call(t, s, "POST", "/api/v1/purchase-orders", l.Token, line(map[string]any{"leader": "00000nam a2200000 a 4500", "fields": []any{
		map[string]any{"100": map[string]any{"ind1": "1", "ind2": " ", "subfields": []any{map[string]any{"a": "No title"}}}}}}))
	want(t, bad, 422, "invalid_marc")
	if f := bad.Body["error"].(map[string]any)["details"].(map[string]any)["field"]; f != "lines[0].marc" {
		t.Fatalf("field %v", f)
	}
}

// A payment is never refused, but one that takes a fund past its limit
// says so.
func TestAcquisitions_PaymentPastLimitWarns(t *testing.T) {
	s := newServer(t, api.Config{})
	l := setupAcq(t, s, "acq-warn")
	c := call(t, s, "POST", "/api/v1/funds", l.Token, map[string]any{"code": "SMALL", "name": "Small", "fiscal_year_id": l.FY,
		"allocation": acqMoney(1000, "USD"), "warn_percent": 90, "stop_percent": 100})
	want(t, c, 201)
	fund := c.Body["id"].(string)
	po := call(t, s, "POST", "/api/v1/purchase-orders", l.Token, map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{
		{"isbn": "9780306406157", "quantity": 1, "unit_price": acqMoney(900, "USD"), "discount_percent": 0, "branch_id": l.MainID,
			"funds": []map[string]any{{"fund_id": fund, "percent": 100}}}}})
	want(t, po, 201)
	op := call(t, s, "POST", "/api/v1/purchase-orders/"+po.Body["id"].(string)+"/open", l.Token, nil)
	want(t, op, 200)
	if op.Body["warnings"] != nil { // exactly 90 %: not past the threshold
		t.Fatalf("warnings at 90 %%: %s", op.Raw)
	}
	inv := call(t, s, "POST", "/api/v1/invoices", l.Token, map[string]any{"vendor_id": l.Vendor, "number": "W-1", "date": "2026-11-01",
		"lines": []map[string]any{{"po_line_id": po.Body["lines"].([]any)[0].(map[string]any)["id"], "quantity": 1, "unit_price": acqMoney(1100, "USD")}}})
	want(t, inv, 201)
	want(t, call(t, s, "POST", "/api/v1/invoices/"+inv.Body["id"].(string)+"/approve", l.Token, nil), 200)
	p := call(t, s, "POST", "/api/v1/invoices/"+inv.Body["id"].(string)+"/pay", l.Token, nil)
	want(t, p, 200)
	ws, _ := p.Body["warnings"].([]any)
	if len(ws) != 1 || ws[0].(map[string]any)["code"] != "fund_over_stop_threshold" || ws[0].(map[string]any)["fund_id"] != fund {
		t.Fatalf("payment warnings: %s", p.Raw)
	}
	if got := balances(t, s, l.Token, fund); got != [4]int64{1000, 0, 1100, -100} {
		t.Fatalf("fund after payment: %v", got)
	}
}

// A line can send each copy somewhere else: the n-th copy received goes to
// the branch and item type ordered for copy n. Copies and quantity must
// agree, every branch must be one the buyer may order for, and a fund owned
// by a branch pays only for copies below it.
func TestAcquisitions_PerCopyDestinations(t *testing.T) {
	s := newServer(t, api.Config{})
	l := setupAcq(t, s, "acq-copies")
	east := call(t, s, "POST", "/api/v1/branches", l.Token, map[string]any{"name": "East", "code": "EAST"})
	want(t, east, 201)
	eastID := east.Body["id"].(string)
	line := func(copies []map[string]any, fund string) map[string]any {
		return map[string]any{"isbn": "9780306406157", "quantity": 3, "unit_price": acqMoney(2000, "USD"), "item_type": "book",
			"funds": []map[string]any{{"fund_id": fund, "percent": 100}}, "copies": copies}
	}
	dests := []map[string]any{{"branch_id": l.MainID}, {"branch_id": eastID, "item_type": "reference"}, {"branch_id": l.MainID, "item_type": "dvd"}}
	bad := []struct {
		name   string
		line   map[string]any
		status int
		code   string
	}{
		{"too few", line(dests[:2], l.FundA), 422, "copies_mismatch"},
		{"unknown branch", line([]map[string]any{{"branch_id": l.MainID}, {"branch_id": l.TenantID}, {"branch_id": l.MainID}}, l.FundA), 422, "invalid_branch"},
		{"bad item type", line([]map[string]any{{"branch_id": l.MainID}, {"branch_id": eastID, "item_type": "no such!"}, {"branch_id": l.MainID}}, l.FundA), 422, "invalid_item_type"},
		{"fund of Main paying for East", line(dests, l.FundB), 422, "fund_not_for_branch"},
	}
	for _, c := range bad {
		r := call(t, s, "POST", "/api/v1/purchase-orders", l.Token, map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{c.line}})
		want(t, r, c.status, c.code)
	}
	po := call(t, s, "POST", "/api/v1/purchase-orders", l.Token, map[string]any{"vendor_id": l.Vendor, "lines": []map[string]any{line(dests, l.FundA)}})
	want(t, po, 201)
	ln := po.Body["lines"].([]any)[0].(map[string]any)
	if cs := ln["copies"].([]any); len(cs) != 3 || cs[1].(map[string]any)["branch_id"] != eastID || ln["branch_id"] != l.MainID {
		t.Fatalf("line: %v", ln)
	}
	want(t, call(t, s, "POST", "/api/v1/purchase-orders/"+po.Body["id"].(string)+"/open", l.Token, nil), 200)
	got := []string{}
	for _, q := range []int{1, 2} {
		r := call(t, s, "POST", "/api/v1/po-lines/"+ln["id"].(string)+"/receive", l.Token, map[string]any{"quantity": q})
		want(t, r, 200)
		for _, it := range r.Body["items"].([]any) {
			m := it.(map[string]any)
			got = append(got, map[bool]string{true: "main", false: "east"}[m["branch_id"] == l.MainID]+"/"+m["item_type"].(string))
		}
	}
	if strings.Join(got, ",") != "main/book,east/reference,main/dvd" {
		t.Fatalf("received copies: %v", got)
	}
}
