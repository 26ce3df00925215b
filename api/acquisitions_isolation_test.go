package api_test

import (
	"testing"

	"github.com/stacks-ils/stacks/api"
)

// acquisitionsFixture gives B a fiscal year, a fund, a vendor and an open
// order, and records their ids in f.Acq (and f.BIDs).
func acquisitionsFixture(t *testing.T, s *api.Server, f *fixture) {
	b := f.B
	f.Acq = map[string]string{}
	fy := call(t, s, "POST", "/api/v1/fiscal-years", b.Token, map[string]any{"code": "FY2027", "starts_on": "2026-07-01", "ends_on": "2027-06-30", "current": true})
	want(t, fy, 201)
	f.Acq["fy"] = fy.Body["id"].(string)
	fund := call(t, s, "POST", "/api/v1/funds", b.Token, map[string]any{"code": "BFUND", "name": "B fund", "fiscal_year_id": f.Acq["fy"],
		"allocation": acqMoney(100000, "USD")})
	want(t, fund, 201)
	f.Acq["fund"] = fund.Body["id"].(string)
	v := call(t, s, "POST", "/api/v1/vendors", b.Token, map[string]any{"code": "BV", "name": "B vendor", "currency": "USD", "email": "b@vendor.example"})
	want(t, v, 201)
	f.Acq["vendor"] = v.Body["id"].(string)
	po := call(t, s, "POST", "/api/v1/purchase-orders", b.Token, map[string]any{"vendor_id": f.Acq["vendor"], "lines": []map[string]any{
		{"bib_id": f.BibID, "quantity": 2, "unit_price": acqMoney(1500, "USD"), "branch_id": b.MainID,
			"funds": []map[string]any{{"fund_id": f.Acq["fund"], "percent": 100}}}}})
	want(t, po, 201)
	f.Acq["po"] = po.Body["id"].(string)
	f.Acq["line"] = po.Body["lines"].([]any)[0].(map[string]any)["id"].(string)
	want(t, call(t, s, "POST", "/api/v1/purchase-orders/"+f.Acq["po"]+"/open", b.Token, nil), 200)
	rc := call(t, s, "POST", "/api/v1/po-lines/"+f.Acq["line"]+"/receive", b.Token, map[string]any{"quantity": 1})
	want(t, rc, 200)
	f.Acq["item"] = rc.Body["items"].([]any)[0].(map[string]any)["id"].(string)
	inv := call(t, s, "POST", "/api/v1/invoices", b.Token, map[string]any{"vendor_id": f.Acq["vendor"], "number": "B-1", "date": "2026-11-01",
		"lines": []map[string]any{{"po_line_id": f.Acq["line"], "quantity": 1, "unit_price": acqMoney(1500, "USD")}}})
	want(t, inv, 201)
	f.Acq["invoice"] = inv.Body["id"].(string)
	f.Acq["invoice_line"] = inv.Body["lines"].([]any)[0].(map[string]any)["id"].(string)
	sg := call(t, s, "POST", "/api/v1/purchase-suggestions", b.Token, map[string]any{"patron_id": f.PatronID, "title": "B wants this"})
	want(t, sg, 201)
	f.Acq["suggestion"] = sg.Body["id"].(string)
	for _, id := range f.Acq {
		f.BIDs = append(f.BIDs, id)
	}
}

// acquisitionsSnapshot is what of B's acquisitions must not change.
func acquisitionsSnapshot(f *fixture) []string {
	return []string{"/api/v1/vendors/" + f.Acq["vendor"], "/api/v1/fiscal-years/" + f.Acq["fy"], "/api/v1/funds/" + f.Acq["fund"],
		"/api/v1/funds/" + f.Acq["fund"] + "/ledger", "/api/v1/purchase-orders/" + f.Acq["po"], "/api/v1/po-lines/" + f.Acq["line"],
		"/api/v1/po-lines/" + f.Acq["line"] + "/items", "/api/v1/acquisitions/settings", "/api/v1/invoices/" + f.Acq["invoice"], "/api/v1/invoices",
		"/api/v1/purchase-suggestions/" + f.Acq["suggestion"], "/api/v1/purchase-suggestions"}
}

// acquisitionsIsolation probes the acquisitions routes with B's ids.
func acquisitionsIsolation(id func(string, func(*fixture) string) func(*fixture) string) []isolationCase {
	acq := func(k string) func(f *fixture) string { return func(f *fixture) string { return f.Acq[k] } }
	return []isolationCase{
		{Method: "GET", Path: "/api/v1/vendors"},
		// B's vendor code is free in A.
		{Method: "POST", Path: "/api/v1/vendors", Body: func(*fixture) any {
			return map[string]any{"code": "BV", "name": "A's vendor", "currency": "USD"}
		}, Status: 201},
		{Method: "GET", Path: "/api/v1/vendors/:id", URL: id("/api/v1/vendors/:id", acq("vendor")), Status: 404},
		{Method: "PATCH", Path: "/api/v1/vendors/:id", URL: id("/api/v1/vendors/:id", acq("vendor")),
			Body: func(*fixture) any { return map[string]any{"name": "pwned"} }, Status: 404},
		{Method: "GET", Path: "/api/v1/fiscal-years"},
		// B's year with the same code and dates does not overlap A's.
		{Method: "POST", Path: "/api/v1/fiscal-years", Body: func(*fixture) any {
			return map[string]any{"code": "FY2027", "starts_on": "2026-07-01", "ends_on": "2027-06-30"}
		}, Status: 201},
		{Method: "GET", Path: "/api/v1/fiscal-years/:id", URL: id("/api/v1/fiscal-years/:id", acq("fy")), Status: 404},
		{Method: "PATCH", Path: "/api/v1/fiscal-years/:id", URL: id("/api/v1/fiscal-years/:id", acq("fy")),
			Body: func(*fixture) any { return map[string]any{"current": false} }, Status: 404},
		{Method: "POST", Path: "/api/v1/fiscal-years/:id/rollover", URL: id("/api/v1/fiscal-years/:id/rollover", acq("fy")),
			Body: func(f *fixture) any { return map[string]any{"to_fiscal_year_id": f.Acq["fy"], "dry_run": true} }, Status: 404},
		{Method: "GET", Path: "/api/v1/funds"},
		{Method: "GET", Path: "/api/v1/funds", URL: func(f *fixture) string { return "/api/v1/funds?fiscal_year_id=" + f.Acq["fy"] }},
		{Method: "POST", Path: "/api/v1/funds", Body: func(f *fixture) any {
			return map[string]any{"code": "X", "name": "x", "fiscal_year_id": f.Acq["fy"], "allocation": acqMoney(1, "USD")}
		}, Status: 422, Code: "invalid_fiscal_year"},
		{Method: "GET", Path: "/api/v1/funds/:id", URL: id("/api/v1/funds/:id", acq("fund")), Status: 404},
		{Method: "PATCH", Path: "/api/v1/funds/:id", URL: id("/api/v1/funds/:id", acq("fund")),
			Body: func(*fixture) any { return map[string]any{"name": "pwned"} }, Status: 404},
		{Method: "GET", Path: "/api/v1/funds/:id/ledger", URL: id("/api/v1/funds/:id/ledger", acq("fund")), Status: 404},
		{Method: "POST", Path: "/api/v1/funds/:id/transactions", URL: id("/api/v1/funds/:id/transactions", acq("fund")),
			Body: func(*fixture) any { return map[string]any{"kind": "allocation", "amount": acqMoney(-100, "USD")} }, Status: 404},
		{Method: "POST", Path: "/api/v1/fund-transfers", Body: func(f *fixture) any {
			return map[string]any{"from_fund_id": f.Acq["fund"], "to_fund_id": f.A.MainID, "amount": acqMoney(1, "USD"), "reason": "x"}
		}, Status: 422, Code: "invalid_fund"},
		{Method: "GET", Path: "/api/v1/purchase-orders"},
		{Method: "POST", Path: "/api/v1/purchase-orders", Body: func(f *fixture) any {
			return map[string]any{"vendor_id": f.Acq["vendor"], "lines": []map[string]any{{"bib_id": f.BibID, "quantity": 1,
				"unit_price": acqMoney(1, "USD"), "branch_id": f.A.MainID, "funds": []map[string]any{{"fund_id": f.Acq["fund"], "percent": 100}}}}}
		}, Status: 422, Code: "invalid_vendor"},
		{Method: "GET", Path: "/api/v1/purchase-orders/:id", URL: id("/api/v1/purchase-orders/:id", acq("po")), Status: 404},
		{Method: "GET", Path: "/api/v1/purchase-orders/:id/edifact", URL: id("/api/v1/purchase-orders/:id/edifact", acq("po")), Status: 404},
		{Method: "POST", Path: "/api/v1/purchase-orders/:id/open", URL: id("/api/v1/purchase-orders/:id/open", acq("po")), Status: 404},
		{Method: "POST", Path: "/api/v1/purchase-orders/:id/cancel", URL: id("/api/v1/purchase-orders/:id/cancel", acq("po")), Status: 404},
		{Method: "POST", Path: "/api/v1/purchase-orders/:id/close", URL: id("/api/v1/purchase-orders/:id/close", acq("po")), Status: 404},
		// B's open line is late in 2099: A's list and A's claims run must not see it.
		{Method: "GET", Path: "/api/v1/po-lines/late", URL: func(*fixture) string { return "/api/v1/po-lines/late?as_of=2099-01-01" }},
		{Method: "POST", Path: "/api/v1/acquisitions/claims/run", Body: func(*fixture) any { return map[string]any{"as_of": "2099-01-01"} }},
		{Method: "GET", Path: "/api/v1/po-lines/:id", URL: id("/api/v1/po-lines/:id", acq("line")), Status: 404},
		{Method: "POST", Path: "/api/v1/po-lines/:id/receive", URL: id("/api/v1/po-lines/:id/receive", acq("line")),
			Body: func(*fixture) any { return map[string]any{"quantity": 1} }, Status: 404},
		{Method: "POST", Path: "/api/v1/po-lines/:id/cancel", URL: id("/api/v1/po-lines/:id/cancel", acq("line")), Status: 404},
		{Method: "GET", Path: "/api/v1/po-lines/:id/items", URL: id("/api/v1/po-lines/:id/items", acq("line")), Status: 404},
		{Method: "GET", Path: "/api/v1/acquisitions/settings"},
		{Method: "PATCH", Path: "/api/v1/acquisitions/settings", Body: func(*fixture) any { return map[string]any{"skip_processing": true} }},
		{Method: "GET", Path: "/api/v1/invoices"},
		{Method: "POST", Path: "/api/v1/invoices", Body: func(f *fixture) any {
			return map[string]any{"vendor_id": f.Acq["vendor"], "number": "X", "date": "2026-11-01",
				"lines": []map[string]any{{"po_line_id": f.Acq["line"], "quantity": 1, "unit_price": acqMoney(1, "USD")}}}
		}, Status: 422, Code: "invalid_vendor"},
		{Method: "GET", Path: "/api/v1/invoices/:id", URL: id("/api/v1/invoices/:id", acq("invoice")), Status: 404},
		{Method: "POST", Path: "/api/v1/invoices/:id/approve", URL: id("/api/v1/invoices/:id/approve", acq("invoice")), Status: 404},
		{Method: "POST", Path: "/api/v1/invoices/:id/pay", URL: id("/api/v1/invoices/:id/pay", acq("invoice")), Status: 404},
		{Method: "POST", Path: "/api/v1/invoices/:id/cancel", URL: id("/api/v1/invoices/:id/cancel", acq("invoice")), Status: 404},
		{Method: "GET", Path: "/api/v1/purchase-suggestions"},
		{Method: "POST", Path: "/api/v1/purchase-suggestions", Body: func(f *fixture) any {
			return map[string]any{"bib_id": f.BibID, "patron_id": f.APatronID}
		}, Status: 422, Code: "invalid_bib"},
		{Method: "POST", Path: "/api/v1/purchase-suggestions/from-holds", Body: func(*fixture) any { return map[string]any{"ratio": 1} }, Status: 201},
		{Method: "GET", Path: "/api/v1/purchase-suggestions/:id", URL: id("/api/v1/purchase-suggestions/:id", acq("suggestion")), Status: 404},
		{Method: "POST", Path: "/api/v1/purchase-suggestions/:id/accept", URL: id("/api/v1/purchase-suggestions/:id/accept", acq("suggestion")), Status: 404},
		{Method: "POST", Path: "/api/v1/purchase-suggestions/:id/reject", URL: id("/api/v1/purchase-suggestions/:id/reject", acq("suggestion")),
			Body: func(*fixture) any { return map[string]any{"reason": "x"} }, Status: 404},
	}
}
