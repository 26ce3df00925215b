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
	A        library // the prober
	B        library
	BranchID string // a branch of B (not the root)
	StaffID  string
	APIKeyID string
	BibID    string
	ItemID   string
	Barcode  string
	JobID    string
	// Patrons and circulation.
	PatronID, Card          string
	LoanID, HoldID          string
	ChargeID                string
	RuleID, ClosedDayID     string
	LoanItemID, LoanBarcode string
	BlockID                 string
	APatronID               string // a patron of A, for probes that need one
	NoticeID                string
	Acq                     map[string]string // B's acquisitions ids (acquisitions_isolation_test.go)
	ReportScheduleID        string            // reports: a schedule of B and its run
	ReportRunID             string
	Serial                  serialIDs
	ASerialBibID            string   // a serial record of A
	BIDs                    []string // every id of B the suite created or knows
	BSnapshot               map[string]string
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
	return append([]isolationCase{
		{Method: "GET", Path: "/healthz", NotScoped: "process health"},
		{Method: "GET", Path: "/readyz", NotScoped: "dependency health"},
		{Method: "GET", Path: "/metrics", NotScoped: "operator metrics, no tenant data"},
		{Method: "GET", Path: "/api/openapi.json", NotScoped: "static document"},
		{Method: "GET", Path: "/admin/queues", NotScoped: "platform operators only (ADMIN_TOKEN), never tenant staff: TestAdminQueuesDashboard"},
		{Method: "GET", Path: "/admin/queues/*", NotScoped: "platform operators only (ADMIN_TOKEN): TestAdminQueuesDashboard"},
		{Method: "POST", Path: "/admin/queues/*", NotScoped: "platform operators only (ADMIN_TOKEN): TestAdminQueuesDashboard"},
		{Method: "DELETE", Path: "/admin/queues/*", NotScoped: "platform operators only (ADMIN_TOKEN): TestAdminQueuesDashboard"},
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
	}, append(append(append(circulationIsolation(id), acquisitionsIsolation(id)...), reportsIsolation()...), serialsIsolation(id)...)...)
}

// circulationIsolation probes the circulation routes with B's patrons,
// items, loans, holds and charges.
func circulationIsolation(id func(string, func(*fixture) string) func(*fixture) string) []isolationCase {
	patron := func(f *fixture) string { return f.PatronID }
	loan := func(f *fixture) string { return f.LoanID }
	hold := func(f *fixture) string { return f.HoldID }
	aBranch := func(f *fixture) string { return f.A.MainID }
	bcat := func(*fixture) string { return "bcat" }
	rule := func(f *fixture) string { return f.RuleID }
	closed := func(f *fixture) string { return f.ClosedDayID }
	btype := func(*fixture) string { return "btype" }
	notice := func(f *fixture) string { return f.NoticeID }
	return []isolationCase{
		{Method: "GET", Path: "/api/v1/patrons/:id/notice-preferences", URL: id("/api/v1/patrons/:id/notice-preferences", patron), Status: 404},
		{Method: "PUT", Path: "/api/v1/patrons/:id/notice-preferences", URL: id("/api/v1/patrons/:id/notice-preferences", patron),
			Body: func(*fixture) any { return map[string]any{"opt_out": []string{"due_soon"}} }, Status: 404},
		{Method: "GET", Path: "/api/v1/notices/templates"},
		{Method: "GET", Path: "/api/v1/notices/templates/:kind", URL: func(*fixture) string { return "/api/v1/notices/templates/hold_available" }},
		// Kinds are the same for every library; A's text is A's own.
		{Method: "PUT", Path: "/api/v1/notices/templates/:kind", URL: func(*fixture) string { return "/api/v1/notices/templates/overdue" },
			Body: func(*fixture) any { return map[string]any{"subject": "A's {{.Library}}", "body_text": "A's text"} }},
		{Method: "DELETE", Path: "/api/v1/notices/templates/:kind", URL: func(*fixture) string { return "/api/v1/notices/templates/overdue" }},
		{Method: "POST", Path: "/api/v1/notices/templates/:kind/preview", URL: func(*fixture) string { return "/api/v1/notices/templates/due_soon/preview" },
			Body: func(f *fixture) any { return map[string]any{"patron_id": f.PatronID} }, Status: 422, Code: "patron_not_found"},
		{Method: "GET", Path: "/api/v1/billing"},             // list-style: B's account never shows
		{Method: "GET", Path: "/api/v1/exports/patrons.csv"}, // list-style: none of B's rows
		{Method: "GET", Path: "/api/v1/exports/loans.csv"},
		{Method: "GET", Path: "/api/v1/billing/plans", NotScoped: "public list of plans"},
		{Method: "POST", Path: "/api/v1/billing/checkout", NotScoped: "takes no ids: the caller's own library (billing tests)"},
		{Method: "POST", Path: "/api/v1/billing/portal", NotScoped: "takes no ids: the caller's own library (billing tests)"},
		{Method: "POST", Path: "/api/v1/billing/webhook", NotScoped: "signed by Stripe, no token: billing.TestWebhook_CannotChangeAnotherLibrary"},
		{Method: "GET", Path: "/api/v1/notices/settings"},
		{Method: "PATCH", Path: "/api/v1/notices/settings", Body: func(*fixture) any { return map[string]any{"send_hour": 9} }},
		// A's run lists A's loans only: B's patron gets nothing from it.
		{Method: "POST", Path: "/api/v1/notices/run", Body: func(*fixture) any { return map[string]any{"kind": "overdue"} }, Status: 202},
		{Method: "GET", Path: "/api/v1/notices"},
		{Method: "GET", Path: "/api/v1/notices", URL: func(f *fixture) string { return "/api/v1/notices?patron_id=" + f.PatronID }},
		{Method: "GET", Path: "/api/v1/notices/:id", URL: id("/api/v1/notices/:id", notice), Status: 404},
		{Method: "POST", Path: "/api/v1/notices/:id/resend", URL: id("/api/v1/notices/:id/resend", notice), Status: 404},
		{Method: "GET", Path: "/api/v1/item-types"},
		{Method: "POST", Path: "/api/v1/item-types", Body: func(*fixture) any { return map[string]any{"code": "atype", "name": "A's type"} }, Status: 201},
		{Method: "GET", Path: "/api/v1/item-types/:code", URL: id("/api/v1/item-types/:code", btype), Status: 404},
		{Method: "PATCH", Path: "/api/v1/item-types/:code", URL: id("/api/v1/item-types/:code", btype),
			Body: func(*fixture) any { return map[string]any{"name": "pwned"} }, Status: 404},
		{Method: "DELETE", Path: "/api/v1/item-types/:code", URL: id("/api/v1/item-types/:code", btype), Status: 404},
		{Method: "GET", Path: "/api/v1/circulation/rules"},
		{Method: "GET", Path: "/api/v1/circulation/rules", URL: func(f *fixture) string { return "/api/v1/circulation/rules?branch_id=" + f.B.MainID }},
		{Method: "POST", Path: "/api/v1/circulation/rules", Body: func(f *fixture) any {
			return map[string]any{"branch_id": f.B.MainID, "loan_days": 1}
		}, Status: 422, Code: "invalid_branch"},
		{Method: "GET", Path: "/api/v1/circulation/rules/lint"},
		{Method: "GET", Path: "/api/v1/circulation/rules/:id", URL: id("/api/v1/circulation/rules/:id", rule), Status: 404},
		{Method: "PATCH", Path: "/api/v1/circulation/rules/:id", URL: id("/api/v1/circulation/rules/:id", rule),
			Body: func(*fixture) any { return map[string]any{"loan_days": 1} }, Status: 404},
		{Method: "DELETE", Path: "/api/v1/circulation/rules/:id", URL: id("/api/v1/circulation/rules/:id", rule), Status: 404},
		{Method: "GET", Path: "/api/v1/calendar/closed-days"},
		{Method: "GET", Path: "/api/v1/calendar/closed-days", URL: func(f *fixture) string { return "/api/v1/calendar/closed-days?branch_id=" + f.B.MainID }},
		{Method: "POST", Path: "/api/v1/calendar/closed-days", Body: func(f *fixture) any {
			return map[string]any{"branch_id": f.B.MainID, "day": "2099-12-26"}
		}, Status: 422, Code: "invalid_branch"},
		{Method: "DELETE", Path: "/api/v1/calendar/closed-days/:id", URL: id("/api/v1/calendar/closed-days/:id", closed), Status: 404},
		{Method: "GET", Path: "/api/v1/branches/:id/calendar", URL: id("/api/v1/branches/:id/calendar", func(f *fixture) string { return f.B.MainID }), Status: 404},

		{Method: "GET", Path: "/api/v1/patron-categories"},
		// A may create its own "bcat": codes are per tenant.
		{Method: "POST", Path: "/api/v1/patron-categories", Body: func(*fixture) any { return map[string]any{"code": "acat", "name": "A's"} }, Status: 201},
		{Method: "GET", Path: "/api/v1/patron-categories/:code", URL: id("/api/v1/patron-categories/:code", bcat), Status: 404},
		{Method: "PATCH", Path: "/api/v1/patron-categories/:code", URL: id("/api/v1/patron-categories/:code", bcat),
			Body: func(*fixture) any { return map[string]any{"name": "pwned"} }, Status: 404},
		{Method: "DELETE", Path: "/api/v1/patron-categories/:code", URL: id("/api/v1/patron-categories/:code", bcat), Status: 404},
		{Method: "GET", Path: "/api/v1/patrons"},
		{Method: "GET", Path: "/api/v1/patrons", URL: func(f *fixture) string { return "/api/v1/patrons?q=" + f.Card }},
		{Method: "GET", Path: "/api/v1/patrons", URL: func(f *fixture) string { return "/api/v1/patrons?q=tenant&home_branch_id=" + f.B.MainID }},
		{Method: "POST", Path: "/api/v1/patrons", Body: func(f *fixture) any {
			return map[string]any{"card_number": "A-1", "last_name": "Spy", "category": "adult", "home_branch_id": f.B.MainID}
		}, Status: 422, Code: "invalid_branch"},
		{Method: "POST", Path: "/api/v1/patrons", Body: func(f *fixture) any {
			return map[string]any{"card_number": "A-2", "last_name": "Spy", "category": "adult", "home_branch_id": f.A.MainID, "guarantor_id": f.PatronID}
		}, Status: 422, Code: "invalid_guarantor"},
		{Method: "GET", Path: "/api/v1/patrons/:id", URL: id("/api/v1/patrons/:id", patron), Status: 404},
		{Method: "PATCH", Path: "/api/v1/patrons/:id", URL: id("/api/v1/patrons/:id", patron),
			Body: func(*fixture) any { return map[string]any{"last_name": "pwned"} }, Status: 404},
		{Method: "POST", Path: "/api/v1/patrons/:id/blocks", URL: id("/api/v1/patrons/:id/blocks", patron),
			Body: func(*fixture) any { return map[string]any{"reason": "pwned"} }, Status: 404},
		{Method: "DELETE", Path: "/api/v1/patrons/:id/blocks/:block_id", URL: func(f *fixture) string {
			return "/api/v1/patrons/" + f.PatronID + "/blocks/" + f.BlockID
		}, Status: 404},
		{Method: "POST", Path: "/api/v1/patrons/:id/merge", URL: id("/api/v1/patrons/:id/merge", patron),
			Body: func(f *fixture) any { return map[string]any{"from_patron_id": f.APatronID} }, Status: 404},
		// A's own patron (created above) absorbing B's: B's record names nothing in A.
		{Method: "POST", Path: "/api/v1/patrons/:id/merge", URL: func(f *fixture) string { return "/api/v1/patrons/" + f.APatronID + "/merge" },
			Body: func(f *fixture) any { return map[string]any{"from_patron_id": f.PatronID} }, Status: 422, Code: "invalid_patron"},
		{Method: "POST", Path: "/api/v1/patrons/:id/approve", URL: id("/api/v1/patrons/:id/approve", patron), Status: 404},
		{Method: "POST", Path: "/api/v1/opac/register", NotScoped: "public; the library is chosen by slug (TestSelfRegistration)"},
		{Method: "GET", Path: "/opac/renew/:token", NotScoped: "public; the token names its library and is looked up in its rows only (TestOPAC_RenewLinkInDueSoonMail)"},
		{Method: "POST", Path: "/opac/renew/:token", NotScoped: "public; same token rule (TestOPAC_RenewLinkInDueSoonMail)"},
		{Method: "GET", Path: "/opac/verify", NotScoped: "public page; the code verifies only in its library (TestSelfRegistration)"},
		{Method: "POST", Path: "/opac/verify", NotScoped: "public; same as /api/v1/opac/verify-email"},
		{Method: "POST", Path: "/api/v1/opac/verify-email", NotScoped: "public; a token only verifies in the library that issued it (TestSelfRegistration)"},

		// B's card and B's item barcode at A's own desk: neither exists for A.
		{Method: "POST", Path: "/api/v1/circulation/checkout", Body: func(f *fixture) any {
			return map[string]any{"patron_card": f.Card, "item_barcode": f.Barcode, "branch_id": aBranch(f)}
		}, Status: 422, Code: "item_not_found"},
		{Method: "POST", Path: "/api/v1/circulation/checkout", Body: func(f *fixture) any {
			return map[string]any{"patron_card": f.Card, "item_barcode": f.Barcode, "branch_id": f.B.MainID}
		}, Status: 422, Code: "invalid_branch"},
		{Method: "POST", Path: "/api/v1/circulation/checkin", Body: func(f *fixture) any {
			return map[string]any{"item_barcode": f.LoanBarcode, "branch_id": aBranch(f)}
		}, Status: 422, Code: "item_not_found"},
		{Method: "POST", Path: "/api/v1/circulation/offline", Body: func(f *fixture) any {
			return map[string]any{"transactions": []map[string]any{{"type": "checkin", "at": "2026-01-02T10:00:00Z",
				"item_barcode": f.LoanBarcode, "branch_id": aBranch(f)}}}
		}},
		{Method: "GET", Path: "/api/v1/circulation/settings"},
		{Method: "PATCH", Path: "/api/v1/circulation/settings", Body: func(*fixture) any { return map[string]any{"return_policy": "float"} }},
		{Method: "GET", Path: "/api/v1/circulation/rules/explain", URL: func(f *fixture) string {
			return "/api/v1/circulation/rules/explain?patron=" + f.Card + "&item_type=book&branch=" + f.A.MainID
		}, Status: 400, Code: "bad_query"},
		{Method: "GET", Path: "/api/v1/circulation/rules/explain", URL: func(f *fixture) string {
			return "/api/v1/circulation/rules/explain?patron_category=adult&item=" + f.Barcode + "&branch=" + f.A.MainID
		}, Status: 400, Code: "bad_query"},
		{Method: "GET", Path: "/api/v1/circulation/audit"},
		{Method: "GET", Path: "/api/v1/circulation/audit", URL: func(f *fixture) string { return "/api/v1/circulation/audit?patron_id=" + f.PatronID }},

		{Method: "GET", Path: "/api/v1/loans/:id", URL: id("/api/v1/loans/:id", loan), Status: 404},
		{Method: "POST", Path: "/api/v1/loans/:id/renew", URL: id("/api/v1/loans/:id/renew", loan), Status: 404},
		{Method: "POST", Path: "/api/v1/loans/:id/lost", URL: id("/api/v1/loans/:id/lost", loan), Status: 404},
		{Method: "POST", Path: "/api/v1/loans/:id/claims-returned", URL: id("/api/v1/loans/:id/claims-returned", loan), Status: 404},
		{Method: "POST", Path: "/api/v1/loans/:id/found", URL: id("/api/v1/loans/:id/found", loan),
			Body: func(f *fixture) any { return map[string]any{"branch_id": f.A.MainID} }, Status: 404},

		{Method: "GET", Path: "/api/v1/patrons/:id/loans", URL: id("/api/v1/patrons/:id/loans", patron), Status: 404},
		{Method: "GET", Path: "/api/v1/patrons/:id/holds", URL: id("/api/v1/patrons/:id/holds", patron), Status: 404},
		{Method: "GET", Path: "/api/v1/patrons/:id/fines", URL: id("/api/v1/patrons/:id/fines", patron), Status: 404},
		{Method: "POST", Path: "/api/v1/patrons/:id/renew-all", URL: id("/api/v1/patrons/:id/renew-all", patron), Status: 404},
		{Method: "POST", Path: "/api/v1/patrons/:id/payments", URL: id("/api/v1/patrons/:id/payments", patron),
			Body: func(*fixture) any {
				return map[string]any{"amount": map[string]any{"amount": 100, "currency": "USD"}, "method": "cash"}
			}, Status: 404},
		{Method: "POST", Path: "/api/v1/patrons/:id/charges", URL: id("/api/v1/patrons/:id/charges", patron),
			Body: func(*fixture) any {
				return map[string]any{"type": "manual", "amount": map[string]any{"amount": 100, "currency": "USD"}, "note": "x"}
			}, Status: 404},
		{Method: "POST", Path: "/api/v1/patrons/:id/waivers", URL: id("/api/v1/patrons/:id/waivers", patron),
			Body: func(f *fixture) any { return map[string]any{"charge_ids": []string{f.ChargeID}, "reason": "x"} }, Status: 404},
		{Method: "POST", Path: "/api/v1/patrons/:id/refunds", URL: id("/api/v1/patrons/:id/refunds", patron),
			Body: func(*fixture) any {
				return map[string]any{"amount": map[string]any{"amount": 100, "currency": "USD"}, "method": "cash"}
			}, Status: 404},

		{Method: "GET", Path: "/api/v1/holds/pull-list", URL: func(f *fixture) string { return "/api/v1/holds/pull-list?branch_id=" + f.B.MainID },
			Status: 422, Code: "invalid_branch"},
		{Method: "GET", Path: "/api/v1/holds/pull-list", URL: func(f *fixture) string { return "/api/v1/holds/pull-list?branch_id=" + f.A.MainID }},
		{Method: "GET", Path: "/api/v1/holds"},
		{Method: "GET", Path: "/api/v1/holds", URL: func(f *fixture) string { return "/api/v1/holds?bib_id=" + f.BibID + "&status=open" }},
		{Method: "POST", Path: "/api/v1/holds", Body: func(f *fixture) any {
			return map[string]any{"patron_id": f.PatronID, "bib_id": f.BibID, "pickup_branch_id": f.A.MainID}
		}, Status: 422, Code: "bib_not_found"},
		{Method: "GET", Path: "/api/v1/holds/:id", URL: id("/api/v1/holds/:id", hold), Status: 404},
		{Method: "PATCH", Path: "/api/v1/holds/:id", URL: id("/api/v1/holds/:id", hold),
			Body: func(*fixture) any { return map[string]any{"suspended_until": "2099-01-01"} }, Status: 404},
		{Method: "POST", Path: "/api/v1/holds/:id/cancel", URL: id("/api/v1/holds/:id/cancel", hold), Status: 404},
		{Method: "GET", Path: "/api/v1/transits", URL: func(f *fixture) string { return "/api/v1/transits?branch_id=" + f.B.MainID },
			Status: 422, Code: "invalid_branch"},
		{Method: "GET", Path: "/api/v1/transits", URL: func(f *fixture) string { return "/api/v1/transits?branch_id=" + f.A.MainID }},
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
	for _, p := range append([]string{"/api/v1/branches/" + f.BranchID, "/api/v1/staff/" + f.StaffID, "/api/v1/branches",
		"/api/v1/staff", "/api/v1/api-keys", "/api/v1/bibs/" + f.BibID, "/api/v1/items/" + f.ItemID, "/api/v1/search?q=zyzzyvaisolation",
		"/api/v1/patrons/" + f.PatronID, "/api/v1/patrons/" + f.PatronID + "/loans?status=all", "/api/v1/patrons/" + f.PatronID + "/holds?status=",
		"/api/v1/patrons/" + f.PatronID + "/fines", "/api/v1/loans/" + f.LoanID, "/api/v1/holds/" + f.HoldID,
		"/api/v1/circulation/settings", "/api/v1/circulation/rules", "/api/v1/patron-categories", "/api/v1/item-types",
		"/api/v1/calendar/closed-days", "/api/v1/items/" + f.LoanItemID, "/api/v1/patron-categories/bcat", "/api/v1/item-types/btype", "/api/v1/notices/" + f.NoticeID, "/api/v1/notices/settings", "/api/v1/notices?patron_id=" + f.PatronID, "/api/v1/notices/templates",
		"/api/v1/patrons/" + f.PatronID + "/notice-preferences",
		"/api/v1/circulation/rules/" + f.RuleID, "/api/v1/branches/" + f.B.MainID + "/calendar?from=2099-12-20&to=2099-12-31"},
		append(acquisitionsSnapshot(f), serialsSnapshot(f)...)...) {
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
	f := &fixture{A: a, B: b}
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
	circulationFixture(t, s, f)
	reportsFixture(t, s, f)
	ap := call(t, s, "POST", "/api/v1/patrons", a.Token, map[string]any{"card_number": "A-CARD-1", "last_name": "Ay",
		"category": "adult", "home_branch_id": a.MainID, "expires_on": "2099-12-31"})
	want(t, ap, 201)
	f.APatronID = ap.Body["id"].(string)
	f.BIDs = []string{b.TenantID, b.OwnerID, b.RootID, b.MainID, f.BranchID, f.StaffID, f.APIKeyID, f.BibID, f.ItemID, f.JobID,
		f.PatronID, f.LoanID, f.HoldID, f.ChargeID, f.RuleID, f.ClosedDayID, f.LoanItemID, f.BlockID, f.NoticeID, f.ReportScheduleID, f.ReportRunID}
	acquisitionsFixture(t, s, f)
	serialsFixture(t, s, f)
	asb := call(t, s, "POST", "/api/v1/bibs", a.Token, map[string]any{"title": "A's serial", "format": "serial"})
	want(t, asb, 201)
	f.ASerialBibID = asb.Body["id"].(string)
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

// circulationFixture gives B a patron with a loan, a hold, a charge, a rule
// and a closed day.
func circulationFixture(t *testing.T, s *api.Server, f *fixture) {
	b := f.B
	p := call(t, s, "POST", "/api/v1/patrons", b.Token, map[string]any{"card_number": "B-CARD-1", "first_name": "Bea", "last_name": "Tenant",
		"email": "bea@" + b.Slug + ".example.org", "category": "adult", "home_branch_id": b.MainID, "expires_on": "2099-12-31"})
	want(t, p, 201)
	f.PatronID, f.Card = p.Body["id"].(string), "B-CARD-1"
	f.LoanBarcode = "B-LOAN-" + b.Slug
	it := call(t, s, "POST", "/api/v1/items", b.Token, map[string]any{"bib_id": f.BibID, "barcode": f.LoanBarcode, "branch_id": b.MainID})
	want(t, it, 201)
	f.LoanItemID = it.Body["id"].(string)
	co := call(t, s, "POST", "/api/v1/circulation/checkout", b.Token, map[string]any{"patron_card": f.Card, "item_barcode": f.LoanBarcode, "branch_id": b.MainID})
	want(t, co, 201)
	f.LoanID = co.Body["loan"].(map[string]any)["id"].(string)
	p2 := call(t, s, "POST", "/api/v1/patrons", b.Token, map[string]any{"card_number": "B-CARD-2", "first_name": "Bo", "last_name": "Tenant",
		"category": "adult", "home_branch_id": b.MainID, "expires_on": "2099-12-31"})
	want(t, p2, 201)
	h := call(t, s, "POST", "/api/v1/holds", b.Token, map[string]any{"patron_id": p2.Body["id"], "bib_id": f.BibID, "pickup_branch_id": b.MainID})
	want(t, h, 201)
	f.HoldID = h.Body["id"].(string)
	c := call(t, s, "POST", "/api/v1/patrons/"+f.PatronID+"/charges", b.Token, map[string]any{"type": "damage",
		"amount": map[string]any{"amount": 250, "currency": "USD"}, "note": "coffee"})
	want(t, c, 201)
	f.ChargeID = c.Body["id"].(string)
	r := call(t, s, "POST", "/api/v1/circulation/rules", b.Token, map[string]any{"item_type": "dvd", "loan_days": 3})
	want(t, r, 201)
	f.RuleID = r.Body["id"].(string)
	cd := call(t, s, "POST", "/api/v1/calendar/closed-days", b.Token, map[string]any{"branch_id": b.MainID, "day": "2099-12-25", "name": "B holiday"})
	want(t, cd, 201)
	f.ClosedDayID = firstID(cd.Body)
	bl := call(t, s, "POST", "/api/v1/patrons/"+f.PatronID+"/blocks", b.Token, map[string]any{"reason": "B's block"})
	want(t, bl, 201)
	f.BlockID = bl.Body["id"].(string)
	want(t, call(t, s, "POST", "/api/v1/patron-categories", b.Token, map[string]any{"code": "bcat", "name": "B only"}), 201)
	want(t, call(t, s, "POST", "/api/v1/item-types", b.Token, map[string]any{"code": "btype", "name": "B only"}), 201)
	// Returning the loaned copy traps B's hold: a hold-available notice.
	want(t, call(t, s, "POST", "/api/v1/circulation/checkin", b.Token, map[string]any{"item_barcode": f.LoanBarcode, "branch_id": b.MainID}), 200)
	n := call(t, s, "GET", "/api/v1/notices", b.Token, nil)
	want(t, n, 200)
	f.NoticeID = n.Body["items"].([]any)[0].(map[string]any)["id"].(string)
}

// firstID is the id of a created resource, or of the first in a list.
func firstID(body map[string]any) string {
	if id, ok := body["id"].(string); ok {
		return id
	}
	for _, k := range []string{"items", "closed_days", "created"} {
		if l, ok := body[k].([]any); ok && len(l) > 0 {
			return l[0].(map[string]any)["id"].(string)
		}
	}
	return ""
}
