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
	"github.com/stacks-ils/stacks/api/serials"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

// newSerialsServer builds the API with the serials clock at now.
func newSerialsServer(t *testing.T, now time.Time) *api.Server {
	t.Helper()
	env := tenanttest.Get(t)
	counter, svc := env.Isolated(tenants.Options{})
	cat := catalog.NewService(svc)
	acq := acquisitions.NewService(svc, cat)
	ser := serials.NewService(svc, cat, acq).SetClock(func() time.Time { return now })
	return api.New(api.Config{}, api.Deps{Log: slog.New(slog.DiscardHandler), Pool: env.Pool, Redis: env.Redis,
		Counter: counter, Tenants: svc, Catalog: cat, Acquisitions: acq, Serials: ser})
}

func items(r resp) []map[string]any {
	var out []map[string]any
	for _, it := range r.Body["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

func labels(r resp) []string {
	var out []string
	for _, it := range items(r) {
		out = append(out, it["label"].(string))
	}
	return out
}

// byLabel finds an issue of a subscription by its label.
func byLabel(t *testing.T, s *api.Server, token, sub, label string) map[string]any {
	t.Helper()
	r := call(t, s, "GET", "/api/v1/subscriptions/"+sub+"/issues", token, nil)
	want(t, r, 200)
	for _, it := range items(r) {
		if it["label"] == label {
			return it
		}
	}
	t.Fatalf("no issue %q in %v", label, labels(r))
	return nil
}

// A monthly journal with July/August combined, from subscription to
// renewal: prediction, out-of-order check-in with an item, missing,
// regeneration after a pattern change that keeps what was received,
// damaged and not-published issues, a supplement, a routed issue's slip,
// holdings, MFHD and the renewal list.
func TestSerials_SubscriptionLifecycle(t *testing.T) {
	s := newSerialsServer(t, time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	lib := signup(t, s, "serials", "library")
	tok := lib.Token
	bib := call(t, s, "POST", "/api/v1/bibs", tok, map[string]any{"title": "Journal of Test Results", "format": "serial", "issns": []string{"0028-0836"}})
	want(t, bib, 201)
	serial := bib.Body["id"].(string)
	book := call(t, s, "POST", "/api/v1/bibs", tok, map[string]any{"title": "A monograph"})
	want(t, book, 201)

	body := func(extra map[string]any) map[string]any {
		m := map[string]any{"bib_id": serial, "branch_id": lib.MainID, "starts_on": "2027-01-01", "ends_on": "2027-12-31",
			"renewal_on": "2027-11-01", "location": "Periodicals", "pattern_id": "monthly-july-august-combined",
			"first_issue": map[string]any{"expected_on": "2027-01-15", "enumeration": []int{12, 1}}}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	// Refusals, each naming its field.
	for _, c := range []struct {
		extra       map[string]any
		code, field string
	}{
		{map[string]any{"bib_id": book.Body["id"]}, "not_a_serial", "bib_id"},
		{map[string]any{"pattern_id": "fortnightly-gazette"}, "invalid_pattern", "pattern_id"},
		{map[string]any{"pattern_id": nil, "pattern": map[string]any{"name": "x", "frequency": "fortnightly", "levels": []any{}, "chronology": []string{"year"}}}, "invalid_pattern", "pattern.frequency"},
		{map[string]any{"first_issue": map[string]any{"expected_on": "2027-01-15", "enumeration": []int{12}}}, "invalid_pattern", "first_issue.enumeration"},
		{map[string]any{"ends_on": "2026-12-31"}, "invalid_period", "ends_on"},
		{map[string]any{"grace_days": 400}, "invalid_grace_days", "grace_days"},
	} {
		m := body(c.extra)
		if m["pattern_id"] == nil {
			delete(m, "pattern_id")
		}
		r := call(t, s, "POST", "/api/v1/subscriptions", tok, m)
		want(t, r, 422, c.code)
		if f := r.Body["error"].(map[string]any)["details"].(map[string]any)["field"]; f != c.field {
			t.Errorf("%s: field %v, want %s", c.code, f, c.field)
		}
	}

	cr := call(t, s, "POST", "/api/v1/subscriptions", tok, body(nil))
	want(t, cr, 201)
	sub := cr.Body["id"].(string)
	if cr.Body["grace_days"] != 30.0 || cr.Body["predicted_until"] != "2027-12-31" || cr.Body["status"] != "active" || cr.Body["title"] != "Journal of Test Results" {
		t.Fatalf("subscription: %s", cr.Raw)
	}
	all := call(t, s, "GET", "/api/v1/subscriptions/"+sub+"/issues", tok, nil)
	want(t, all, 200)
	wantLabels := []string{"v.12 no.1 (Jan. 2027)", "v.12 no.2 (Feb. 2027)", "v.12 no.3 (Mar. 2027)", "v.12 no.4 (Apr. 2027)",
		"v.12 no.5 (May 2027)", "v.12 no.6 (June 2027)", "v.12 no.7/8 (July/Aug. 2027)", "v.12 no.9 (Sept. 2027)",
		"v.12 no.10 (Oct. 2027)", "v.12 no.11 (Nov. 2027)", "v.12 no.12 (Dec. 2027)"}
	if got := strings.Join(labels(all), "|"); got != strings.Join(wantLabels, "|") {
		t.Fatalf("predicted:\n%s\nwant\n%s", got, strings.Join(wantLabels, "|"))
	}
	combined := items(all)[6]
	if combined["expected_on"] != "2027-07-15" || fmt.Sprint(combined["enumeration"], combined["enumeration_end"]) != "[12 7] [12 8]" ||
		fmt.Sprint(combined["chronology"]) != "map[month:7 year:2027]" || combined["status"] != "expected" || combined["claims"] != 0.0 {
		t.Fatalf("combined issue: %v", combined)
	}
	rng := call(t, s, "GET", "/api/v1/subscriptions/"+sub+"/issues?from=2027-03-01&to=2027-09-30", tok, nil)
	want(t, rng, 200)
	if got := strings.Join(labels(rng), "|"); got != strings.Join(wantLabels[2:8], "|") {
		t.Fatalf("from/to: %s", got)
	}
	p1 := call(t, s, "GET", "/api/v1/subscriptions/"+sub+"/issues?limit=4", tok, nil)
	want(t, p1, 200)
	p2 := call(t, s, "GET", "/api/v1/subscriptions/"+sub+"/issues?limit=10&cursor="+p1.Body["next_cursor"].(string), tok, nil)
	want(t, p2, 200)
	if len(items(p1)) != 4 || len(items(p2)) != 7 || p2.Body["next_cursor"] != nil || labels(p2)[0] != wantLabels[4] {
		t.Fatalf("pages: %v / %v", labels(p1), labels(p2))
	}
	want(t, call(t, s, "GET", "/api/v1/subscriptions/"+sub+"/issues?from=March", tok, nil), 400, "bad_query")

	// Check-in: next expected, one out of order as an item, a missing one.
	r := call(t, s, "POST", "/api/v1/subscriptions/"+sub+"/receive-next", tok, nil)
	want(t, r, 200)
	if iss := r.Body["issue"].(map[string]any); iss["label"] != wantLabels[0] || iss["status"] != "received" || r.Body["item"] != nil || r.Body["routing_slip"] != nil {
		t.Fatalf("receive-next: %s", r.Raw)
	}
	no3 := byLabel(t, s, tok, sub, wantLabels[2])["id"].(string)
	r = call(t, s, "POST", "/api/v1/serial-issues/"+no3+"/receive", tok, map[string]any{"barcode": "SER-0003"})
	want(t, r, 200)
	item := r.Body["item"].(map[string]any)
	if item["barcode"] != "SER-0003" || item["bib_id"] != serial || item["location"] != "Periodicals" || item["item_type"] != "magazine" ||
		item["notes"] != wantLabels[2] || r.Body["issue"].(map[string]any)["item_id"] != item["id"] {
		t.Fatalf("item: %s", r.Raw)
	}
	want(t, call(t, s, "POST", "/api/v1/serial-issues/"+no3+"/receive", tok, nil), 409, "already_received")
	r = call(t, s, "POST", "/api/v1/subscriptions/"+sub+"/receive-next", tok, nil)
	want(t, r, 200)
	if r.Body["issue"].(map[string]any)["label"] != wantLabels[1] {
		t.Fatalf("second receive-next took %v", r.Body["issue"])
	}
	no4 := byLabel(t, s, tok, sub, wantLabels[3])["id"].(string)
	want(t, call(t, s, "POST", "/api/v1/serial-issues/"+no4+"/missing", tok, map[string]any{"note": "never came"}), 200)
	r = call(t, s, "POST", "/api/v1/subscriptions/"+sub+"/receive-next", tok, nil)
	want(t, r, 200)
	if r.Body["issue"].(map[string]any)["label"] != wantLabels[4] {
		t.Fatalf("receive-next skips the missing issue, took %v", r.Body["issue"])
	}
	g := call(t, s, "GET", "/api/v1/subscriptions/"+sub, tok, nil)
	want(t, g, 200)
	if g.Body["holdings"] != "v.12 (2027); lacks v.12 no.4" {
		t.Fatalf("holdings %q", g.Body["holdings"])
	}

	// The publisher stops combining July and August: regenerate. The five
	// issues with a status of their own stay; the six still expected go.
	rg := call(t, s, "POST", "/api/v1/subscriptions/"+sub+"/regenerate", tok, map[string]any{"pattern_id": "monthly-journal"})
	want(t, rg, 200)
	if rg.Body["removed"] != 6.0 || rg.Body["kept"] != 5.0 || rg.Body["added"] != 7.0 {
		t.Fatalf("regenerate: removed %v kept %v added %v", rg.Body["removed"], rg.Body["kept"], rg.Body["added"])
	}
	all = call(t, s, "GET", "/api/v1/subscriptions/"+sub+"/issues", tok, nil)
	regen := []string{"v.12 no.1 (Jan. 2027)", "v.12 no.2 (Feb. 2027)", "v.12 no.3 (Mar. 2027)", "v.12 no.4 (Apr. 2027)",
		"v.12 no.5 (May 2027)", "v.12 no.6 (June 2027)", "v.12 no.7 (July 2027)", "v.12 no.8 (Aug. 2027)", "v.12 no.9 (Sept. 2027)",
		"v.12 no.10 (Oct. 2027)", "v.12 no.11 (Nov. 2027)", "v.12 no.12 (Dec. 2027)"}
	if got := strings.Join(labels(all), "|"); got != strings.Join(regen, "|") {
		t.Fatalf("regenerated:\n%s", got)
	}
	var statuses []string
	for _, it := range items(all) {
		statuses = append(statuses, it["status"].(string))
	}
	if got := strings.Join(statuses[:6], ","); got != "received,received,received,missing,received,expected" {
		t.Fatalf("statuses after regeneration: %s", got)
	}
	if items(all)[2]["id"] != no3 || items(all)[2]["item_id"] != item["id"] {
		t.Fatalf("the received issue was replaced: %v", items(all)[2])
	}

	// Damaged (with a note), not published, refusals by status.
	no5 := items(all)[4]["id"].(string)
	want(t, call(t, s, "POST", "/api/v1/serial-issues/"+no5+"/damaged", tok, map[string]any{"note": " "}), 422, "required")
	d := call(t, s, "POST", "/api/v1/serial-issues/"+no5+"/damaged", tok, map[string]any{"note": "torn cover"})
	want(t, d, 200)
	if d.Body["status"] != "damaged" || d.Body["note"] != "torn cover" {
		t.Fatalf("damaged: %s", d.Raw)
	}
	no6 := items(all)[5]["id"].(string)
	want(t, call(t, s, "POST", "/api/v1/serial-issues/"+no6+"/not-published", tok, nil), 200)
	want(t, call(t, s, "POST", "/api/v1/serial-issues/"+items(all)[0]["id"].(string)+"/not-published", tok, nil), 409, "invalid_issue_status")

	// A supplement nobody predicted.
	sp := call(t, s, "POST", "/api/v1/subscriptions/"+sub+"/issues", tok, map[string]any{"kind": "supplement", "label": "v.12 suppl. 1", "expected_on": "2027-03-20"})
	want(t, sp, 201)
	if iss := sp.Body["issue"].(map[string]any); iss["status"] != "received" || iss["kind"] != "supplement" || iss["seq"] != nil {
		t.Fatalf("supplement: %s", sp.Raw)
	}
	want(t, call(t, s, "POST", "/api/v1/subscriptions/"+sub+"/issues", tok, map[string]any{"kind": "regular", "label": "x"}), 422, "invalid_kind")

	// Routing: the next issue goes round a staff member and a patron.
	pat := call(t, s, "POST", "/api/v1/patrons", tok, map[string]any{"card_number": "R-1", "first_name": "Rita", "last_name": "Reader",
		"email": "rita@example.org", "category": "adult", "home_branch_id": lib.MainID, "expires_on": "2099-12-31"})
	want(t, pat, 201)
	rl := call(t, s, "POST", "/api/v1/routing-lists", tok, map[string]any{"name": "Research team", "members": []map[string]any{
		{"staff_user_id": lib.OwnerID, "note": "first"}, {"patron_id": pat.Body["id"]}}})
	want(t, rl, 201)
	want(t, call(t, s, "POST", "/api/v1/routing-lists", tok, map[string]any{"name": "Research team", "members": []map[string]any{{"staff_user_id": lib.OwnerID}}}), 422, "routing_list_name_taken")
	want(t, call(t, s, "PATCH", "/api/v1/subscriptions/"+sub, tok, map[string]any{"routing_list_id": rl.Body["id"]}), 200)
	r = call(t, s, "POST", "/api/v1/subscriptions/"+sub+"/receive-next", tok, nil)
	want(t, r, 200)
	slip := r.Body["routing_slip"].(map[string]any)
	recips := slip["recipients"].([]any)
	if slip["issue"] != "v.12 no.7 (July 2027)" || slip["title"] != "Journal of Test Results" || len(recips) != 2 ||
		recips[0].(map[string]any)["email"] != lib.OwnerEmail || recips[1].(map[string]any)["name"] != "Rita Reader" || slip["routing_list"] != "Research team" {
		t.Fatalf("slip: %s", r.Raw)
	}
	routed := r.Body["issue"].(map[string]any)["id"].(string)
	h := call(t, s, "GET", "/api/v1/serial-issues/"+routed+"/routing-slip?format=html", tok, nil)
	want(t, h, 200)
	if page := string(h.Raw); !strings.HasPrefix(h.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, "Rita Reader") ||
		!strings.Contains(page, "v.12 no.7 (July 2027)") || !strings.Contains(page, "<td>1</td>") {
		t.Fatalf("html slip: %s", page)
	}
	want(t, call(t, s, "DELETE", "/api/v1/routing-lists/"+rl.Body["id"].(string), tok, nil), 409, "routing_list_in_use")

	// The desk's cross-subscription list.
	miss := call(t, s, "GET", "/api/v1/serial-issues?status=missing", tok, nil)
	want(t, miss, 200)
	if l := items(miss); len(l) != 1 || l[0]["id"] != no4 || l[0]["title"] != "Journal of Test Results" || l[0]["branch_id"] != lib.MainID {
		t.Fatalf("missing list: %s", miss.Raw)
	}
	want(t, call(t, s, "GET", "/api/v1/serial-issues?status=lost", tok, nil), 400, "bad_query")

	// Holdings and MFHD: received no.1-3, damaged no.5 and no.7 held; no.4
	// lacking; no.6 never published.
	g = call(t, s, "GET", "/api/v1/subscriptions/"+sub, tok, nil)
	if g.Body["holdings"] != "v.12 (2027); lacks v.12 no.4" {
		t.Fatalf("holdings %q", g.Body["holdings"])
	}
	// The catalogue shows the statement with the record and its search hit.
	rec := call(t, s, "GET", "/api/v1/bibs/"+serial, tok, nil)
	want(t, rec, 200)
	if h, _ := rec.Body["holdings"].([]any); len(h) != 1 || !strings.HasSuffix(h[0].(string), ", Periodicals: v.12 (2027); lacks v.12 no.4") {
		t.Fatalf("record holdings: %v", rec.Body["holdings"])
	}
	hits := call(t, s, "GET", "/api/v1/search?q=journal+test+results", tok, nil)
	want(t, hits, 200)
	if res := hits.Body["results"].([]any); len(res) != 1 || fmt.Sprint(res[0].(map[string]any)["holdings"]) != fmt.Sprint(rec.Body["holdings"]) {
		t.Fatalf("search hit: %s", hits.Raw)
	}
	if _, ok := call(t, s, "GET", "/api/v1/bibs/"+book.Body["id"].(string), tok, nil).Body["holdings"]; ok {
		t.Fatal("a book has no holdings statement")
	}
	m := call(t, s, "GET", "/api/v1/subscriptions/"+sub+"/mfhd", tok, nil)
	want(t, m, 200)
	raw := string(m.Raw)
	if strings.Count(raw, `"863"`) != 5 || !strings.Contains(raw, `"853"`) || !strings.Contains(raw, `{"a":"v."}`) || !strings.Contains(raw, `{"a":"v.12 (2027); lacks v.12 no.4"}`) {
		t.Fatalf("mfhd: %s", raw)
	}

	// Renewals: 335 days from 2026-12-01 to the renewal date; none within
	// the default 60 days.
	rn := call(t, s, "GET", "/api/v1/serials/renewals?within_days=400", tok, nil)
	want(t, rn, 200)
	if l := items(rn); len(l) != 1 || l[0]["subscription_id"] != sub || l[0]["renewal_on"] != "2027-11-01" || l[0]["days_left"] != 335.0 {
		t.Fatalf("renewals: %s", rn.Raw)
	}
	if l := items(call(t, s, "GET", "/api/v1/serials/renewals", tok, nil)); len(l) != 0 {
		t.Fatalf("renewals within 60 days: %v", l)
	}
	rw := call(t, s, "POST", "/api/v1/subscriptions/"+sub+"/renew", tok, nil)
	want(t, rw, 200)
	if rw.Body["starts_on"] != "2028-01-01" || rw.Body["ends_on"] != "2028-12-31" || rw.Body["renewal_on"] != "2028-11-01" || rw.Body["predicted_until"] != "2028-12-31" {
		t.Fatalf("renewed: %s", rw.Raw)
	}
	next := call(t, s, "GET", "/api/v1/subscriptions/"+sub+"/issues?from=2028-01-01", tok, nil)
	if l := labels(next); len(l) != 12 || l[0] != "v.13 no.1 (Jan. 2028)" || l[11] != "v.13 no.12 (Dec. 2028)" {
		t.Fatalf("next period: %v", l)
	}

	// Patterns: the shipped ones and the library's own.
	pp := call(t, s, "POST", "/api/v1/serial-patterns", tok, map[string]any{"name": "Our bulletin", "frequency": "irregular",
		"levels": []map[string]any{{"caption": "no."}}, "chronology": []string{"year", "month", "day"}, "dates": []string{"03-15", "10-01"}})
	want(t, pp, 201)
	want(t, call(t, s, "POST", "/api/v1/serial-patterns", tok, map[string]any{"name": "bad", "frequency": "daily", "levels": []any{}, "chronology": []string{"year"}, "weekdays": []string{"sunday"}}), 422, "invalid_pattern")
	ps := call(t, s, "GET", "/api/v1/serial-patterns", tok, nil)
	want(t, ps, 200)
	var ids []string
	for _, p := range items(ps) {
		ids = append(ids, p["id"].(string))
	}
	if got := strings.Join(ids[:6], ","); got != "weekly-magazine,monthly-journal,monthly-july-august-combined,quarterly,daily-newspaper-except-sunday,annual" || len(ids) != 7 || ids[6] != pp.Body["id"] {
		t.Fatalf("patterns: %v", ids)
	}
}

// A subscription with a vendor, a fund and an annual cost is ordered like
// any title: a PO line whose cost is encumbered on the fund; renewing
// orders the next period on a new line.
func TestSerials_SubscriptionIsOrdered(t *testing.T) {
	s := newSerialsServer(t, time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	lib := signup(t, s, "serord", "library")
	tok := lib.Token
	fy := call(t, s, "POST", "/api/v1/fiscal-years", tok, map[string]any{"code": "FY27", "starts_on": "2026-07-01", "ends_on": "2027-06-30", "current": true})
	want(t, fy, 201)
	fund := call(t, s, "POST", "/api/v1/funds", tok, map[string]any{"code": "SER", "name": "Serials", "fiscal_year_id": fy.Body["id"],
		"allocation": map[string]any{"amount": 1000000, "currency": "USD"}})
	want(t, fund, 201)
	v := call(t, s, "POST", "/api/v1/vendors", tok, map[string]any{"code": "EBS", "name": "Subscription agent", "currency": "USD", "email": "claims@agent.example"})
	want(t, v, 201)
	bib := call(t, s, "POST", "/api/v1/bibs", tok, map[string]any{"title": "Quarterly Review", "format": "serial"})
	want(t, bib, 201)
	cr := call(t, s, "POST", "/api/v1/subscriptions", tok, map[string]any{"bib_id": bib.Body["id"], "branch_id": lib.MainID,
		"vendor_id": v.Body["id"], "fund_id": fund.Body["id"], "annual_cost": map[string]any{"amount": 24900, "currency": "USD"},
		"starts_on": "2027-01-01", "ends_on": "2027-12-31", "pattern_id": "quarterly",
		"first_issue": map[string]any{"expected_on": "2027-01-10", "enumeration": []int{30, 1}}})
	want(t, cr, 201)
	line, ok := cr.Body["po_line_id"].(string)
	if !ok || cr.Body["annual_cost"].(map[string]any)["amount"] != 24900.0 {
		t.Fatalf("no PO line: %s", cr.Raw)
	}
	f := call(t, s, "GET", "/api/v1/funds/"+fund.Body["id"].(string), tok, nil)
	want(t, f, 200)
	if f.Body["encumbered"].(map[string]any)["amount"] != 24900.0 {
		t.Fatalf("fund after subscribing: %s", f.Raw)
	}
	rw := call(t, s, "POST", "/api/v1/subscriptions/"+cr.Body["id"].(string)+"/renew", tok, map[string]any{"annual_cost": map[string]any{"amount": 26000, "currency": "USD"}})
	want(t, rw, 200)
	if rw.Body["po_line_id"] == line || rw.Body["po_line_id"] == nil {
		t.Fatalf("renewal did not order a new line: %s", rw.Raw)
	}
	f = call(t, s, "GET", "/api/v1/funds/"+fund.Body["id"].(string), tok, nil)
	if f.Body["encumbered"].(map[string]any)["amount"] != 50900.0 {
		t.Fatalf("fund after renewing: %s", f.Raw)
	}
	// Both periods' lines are remembered.
	m := call(t, s, "GET", "/api/v1/subscriptions/"+cr.Body["id"].(string)+"/orders", tok, nil)
	want(t, m, 200)
	if l := items(m); len(l) != 2 || l[0]["po_line_id"] != line || l[1]["po_line_id"] != rw.Body["po_line_id"] ||
		l[0]["starts_on"] != "2027-01-01" || l[1]["starts_on"] != "2028-01-01" || l[1]["ends_on"] != "2028-12-31" {
		t.Fatalf("orders: %s", m.Raw)
	}
	// A subscription's lines never show as late orders (issues are claimed by serials).
	late := call(t, s, "GET", "/api/v1/po-lines/late?as_of=2029-06-01", tok, nil)
	want(t, late, 200)
	if strings.Contains(string(late.Raw), line) || strings.Contains(string(late.Raw), rw.Body["po_line_id"].(string)) {
		t.Fatalf("subscription lines listed as late orders: %s", late.Raw)
	}
}
