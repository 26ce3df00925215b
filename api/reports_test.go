package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api"
	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/api/reports"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

// reportsIsolation probes the reports with B's org units and checks that
// A's answers name nothing of B (B has a loan, a checkin, a hold and a
// charge: its aggregates, titles and ledger are not empty).
func reportsIsolation() []isolationCase {
	run := func(q string) func(*fixture) string {
		return func(f *fixture) string {
			return "/api/v1/reports/" + strings.ReplaceAll(strings.ReplaceAll(q, "BBRANCH", f.B.MainID), "BROOT", f.B.RootID)
		}
	}
	sched := func(path string) func(*fixture) string {
		return func(f *fixture) string { return strings.Replace(path, ":id", f.ReportScheduleID, 1) }
	}
	runp := func(path string) func(*fixture) string {
		return func(f *fixture) string { return strings.Replace(path, ":id", f.ReportRunID, 1) }
	}
	return []isolationCase{
		{Method: "GET", Path: "/api/v1/report-files/:token", NotScoped: "public signed link: the token names its library and run under an HMAC (TestReports_MailedLink)"},
		{Method: "GET", Path: "/api/v1/report-schedules"},
		{Method: "POST", Path: "/api/v1/report-schedules", Body: func(f *fixture) any {
			return map[string]any{"report": "circulation_activity", "frequency": "daily", "params": map[string]any{"branch_id": f.B.MainID}}
		}, Status: 422, Code: "invalid_branch"},
		{Method: "GET", Path: "/api/v1/report-schedules/:id", URL: sched("/api/v1/report-schedules/:id"), Status: 404},
		{Method: "PATCH", Path: "/api/v1/report-schedules/:id", URL: sched("/api/v1/report-schedules/:id"),
			Body: func(*fixture) any { return map[string]any{"hour": 3} }, Status: 404},
		{Method: "DELETE", Path: "/api/v1/report-schedules/:id", URL: sched("/api/v1/report-schedules/:id"), Status: 404},
		{Method: "POST", Path: "/api/v1/report-schedules/:id/pause", URL: sched("/api/v1/report-schedules/:id/pause"), Status: 404},
		{Method: "POST", Path: "/api/v1/report-schedules/:id/resume", URL: sched("/api/v1/report-schedules/:id/resume"), Status: 404},
		{Method: "POST", Path: "/api/v1/report-schedules/:id/run", URL: sched("/api/v1/report-schedules/:id/run"), Status: 404},
		{Method: "GET", Path: "/api/v1/report-runs"},
		{Method: "GET", Path: "/api/v1/report-runs", URL: func(f *fixture) string { return "/api/v1/report-runs?schedule_id=" + f.ReportScheduleID }},
		{Method: "GET", Path: "/api/v1/report-runs/:id", URL: runp("/api/v1/report-runs/:id"), Status: 404},
		{Method: "GET", Path: "/api/v1/report-runs/:id/file", URL: runp("/api/v1/report-runs/:id/file"), Status: 404},
		{Method: "GET", Path: "/api/v1/reports"},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("circulation_activity?group_by=branch&rollup=member")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("circulation_activity?branch_id=BBRANCH"), Status: 422, Code: "invalid_branch"},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("fines?branch_id=BROOT"), Status: 422, Code: "invalid_branch"},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("popular_titles?by=holds")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("popular_titles")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("holds_ratio?min_ratio=0")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("collection_age")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("turnover?group_by=branch")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("dead_items?months=1&as_of=2099-01-01")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("items_by_status?group_by=member")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("patron_activity?list=all")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("overdues?as_of=2099-01-01")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("fines?group_by=branch")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("circulation_activity?format=csv")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("fund_status")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: func(f *fixture) string {
			return "/api/v1/reports/fund_status?fiscal_year_id=" + f.Acq["fy"]
		}, Status: 422, Code: "invalid_fiscal_year"},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("fund_status?branch_id=BBRANCH"), Status: 422, Code: "invalid_branch"},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("spending?group_by=vendor&from=2026-01-01&to=2030-12-31")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: func(f *fixture) string {
			return "/api/v1/reports/spending?group_by=fund_month&from=2026-01-01&to=2030-12-31&fund_id=" + f.Acq["fund"]
		}, Status: 422, Code: "invalid_fund"},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: func(f *fixture) string {
			return "/api/v1/reports/late_orders?as_of=2099-01-01&vendor_id=" + f.Acq["vendor"]
		}, Status: 422, Code: "invalid_vendor"},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("late_orders?as_of=2099-01-01")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("cost_per_checkout?group_by=vendor&from=2026-01-01&to=2030-12-31")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("serial_claims?from=2020-01-01&to=2029-12-31")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("subscriptions_expiring?as_of=2099-01-01&within_days=36500")},
		{Method: "GET", Path: "/api/v1/reports/:name", URL: run("serial_costs?from=2020-01-01&to=2029-12-31")},
	}
}

// reportsFixture gives B a report schedule with a completed run.
func reportsFixture(t *testing.T, s *api.Server, f *fixture) {
	sc := call(t, s, "POST", "/api/v1/report-schedules", f.B.Token, map[string]any{"report": "circulation_activity",
		"frequency": "weekly", "params": map[string]any{"period": "last_week", "group_by": "branch"}, "recipients": []string{"b@" + f.B.Slug + ".example.org"}})
	want(t, sc, 201)
	f.ReportScheduleID = sc.Body["id"].(string)
	run := call(t, s, "POST", "/api/v1/report-schedules/"+f.ReportScheduleID+"/run", f.B.Token, nil)
	want(t, run, 202)
	f.ReportRunID = run.Body["id"].(string)
}

// Every desk path writes the aggregates in its own transaction: a
// checkout, a renewal and a checkin at the desk, and an offline replay.
func TestReports_DeskPathsAreCounted(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "rep-desk", "library")
	bib := call(t, s, "POST", "/api/v1/bibs", lib.Token, map[string]any{"title": "Counted & <Checked>", "authors": []string{"Desk, A."}})
	want(t, bib, 201)
	for _, bc := range []string{"RD-1", "RD-2"} {
		want(t, call(t, s, "POST", "/api/v1/items", lib.Token, map[string]any{"bib_id": bib.Body["id"], "barcode": bc, "branch_id": lib.MainID}), 201)
	}
	p := call(t, s, "POST", "/api/v1/patrons", lib.Token, map[string]any{"card_number": "RD-P1", "last_name": "Reader",
		"category": "adult", "home_branch_id": lib.MainID, "expires_on": "2099-12-31"})
	want(t, p, 201)
	co := call(t, s, "POST", "/api/v1/circulation/checkout", lib.Token, map[string]any{"patron_card": "RD-P1", "item_barcode": "RD-1", "branch_id": lib.MainID})
	want(t, co, 201)
	loan := co.Body["loan"].(map[string]any)["id"].(string)
	want(t, call(t, s, "POST", "/api/v1/loans/"+loan+"/renew", lib.Token, nil), 200)
	want(t, call(t, s, "POST", "/api/v1/circulation/checkin", lib.Token, map[string]any{"item_barcode": "RD-1", "branch_id": lib.MainID}), 200)
	// Offline: a checkout an hour ago and its checkin.
	at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	off := call(t, s, "POST", "/api/v1/circulation/offline", lib.Token, map[string]any{"transactions": []map[string]any{
		{"type": "checkout", "at": at, "patron_card": "RD-P1", "item_barcode": "RD-2", "branch_id": lib.MainID},
		{"type": "checkin", "at": at, "item_barcode": "RD-2", "branch_id": lib.MainID}}})
	want(t, off, 200)

	// The default range is the last 30 days up to today (local).
	r := call(t, s, "GET", "/api/v1/reports/circulation_activity?group_by=branch", lib.Token, nil)
	want(t, r, 200)
	tot := func(r resp, k string) int {
		return int(r.Body["totals"].(map[string]any)[k].(float64))
	}
	if tot(r, "checkouts") != 2 || tot(r, "renewals") != 1 || tot(r, "checkins") != 2 {
		t.Errorf("totals %v, want 2 checkouts, 1 renewal, 2 checkins", r.Body["totals"])
	}
	if rows := r.Body["rows"].([]any); len(rows) != 1 || rows[0].([]any)[1] != "MAIN" {
		t.Errorf("by branch: %s", r.Raw)
	}
	today := call(t, s, "GET", "/api/v1/reports/circulation_activity?period=today&group_by=month", lib.Token, nil)
	want(t, today, 200)
	if cols := today.Body["columns"].([]any); cols[0].(map[string]any)["name"] != "month" || cols[1].(map[string]any)["type"] != "integer" {
		t.Errorf("columns %v", cols)
	}
	if today.Body["report"] != "circulation_activity" || today.Body["params"].(map[string]any)["timezone"] != "America/Chicago" {
		t.Errorf("envelope %s", today.Raw)
	}

	// CSV: the same columns as the header, encoding/csv quoting, BOM on request.
	c := call(t, s, "GET", "/api/v1/reports/popular_titles?bom=1&format=csv", lib.Token, nil)
	want(t, c, 200)
	if !bytes.HasPrefix(c.Raw, []byte("\xef\xbb\xbf")) || !strings.HasPrefix(c.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV without BOM or type: %q %s", c.Raw, c.Header.Get("Content-Type"))
	}
	recs, err := csv.NewReader(bytes.NewReader(c.Raw[3:])).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, c.Raw)
	}
	if strings.Join(recs[0], ",") != "rank,bib_id,title,author,checkouts,holds" || len(recs) != 2 ||
		recs[1][2] != "Counted & <Checked>" || recs[1][4] != "2" {
		t.Errorf("CSV %q", recs)
	}
	// Accept: text/csv does the same without format=.
	if c2 := callAccept(t, s, "/api/v1/reports/circulation_activity?period=today&group_by=hour", lib.Token, "text/csv"); !strings.HasPrefix(c2, "hour,checkouts,renewals,checkins\n0,") {
		t.Errorf("Accept text/csv: %q", c2)
	}

	// SVG: well-formed XML naming the title (escaped) and the series.
	svg := call(t, s, "GET", "/api/v1/reports/popular_titles?format=svg", lib.Token, nil)
	want(t, svg, 200)
	checkSVG(t, svg.Raw, "Popular titles", "Counted &amp; &lt;Checked&gt;", "checkouts")
	line := call(t, s, "GET", "/api/v1/reports/circulation_activity?format=svg", lib.Token, nil)
	want(t, line, 200)
	checkSVG(t, line.Raw, "Circulation activity", "checkouts", "renewals", "checkins")
	want(t, call(t, s, "GET", "/api/v1/reports/overdues?format=svg", lib.Token, nil), 422, "no_chart")
	for _, name := range []string{"popular_titles", "overdues"} { // a chart report and a list
		pdf := call(t, s, "GET", "/api/v1/reports/"+name+"?format=pdf", lib.Token, nil)
		want(t, pdf, 200)
		if !bytes.HasPrefix(pdf.Raw, []byte("%PDF-")) || pdf.Header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("%s as PDF: %s %q", name, pdf.Header.Get("Content-Type"), pdf.Raw[:min(20, len(pdf.Raw))])
		}
	}

	// The list names every report with its parameters; a clerk may read
	// reports but not list patrons.
	l := call(t, s, "GET", "/api/v1/reports", lib.Token, nil)
	want(t, l, 200)
	if n := len(l.Body["items"].([]any)); n != 18 {
		t.Errorf("%d reports listed", n)
	}
	_, clerk := addStaff(t, s, lib, "clerk@"+lib.Slug+".example.org", tenants.RoleCirculation, lib.MainID)
	want(t, call(t, s, "GET", "/api/v1/reports/patron_activity?list=all", clerk, nil), 403, "patron_data_required")
	want(t, call(t, s, "GET", "/api/v1/reports/patron_activity", clerk, nil), 200)
	want(t, call(t, s, "GET", "/api/v1/reports/nope", lib.Token, nil), 404, "report_not_found")
	want(t, call(t, s, "GET", "/api/v1/reports/circulation_activity?from=yesterday", lib.Token, nil), 400, "bad_query")
}

func callAccept(t *testing.T, s *api.Server, path, token, accept string) string {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", accept)
	res, err := s.App.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("%s: %d %s", path, res.StatusCode, b)
	}
	return string(b)
}

// checkSVG parses the chart as XML and looks for the texts in it.
func checkSVG(t *testing.T, raw []byte, texts ...string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(raw))
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not XML: %v\n%s", err, raw)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q", root)
	}
	for _, s := range texts {
		if !bytes.Contains(raw, []byte(s)) {
			t.Errorf("SVG lacks %q", s)
		}
	}
}

// A mailed link downloads the file without logging in, until it is
// tampered with.
func TestReports_MailedLink(t *testing.T) {
	env := tenanttest.Get(t)
	counter, svc := env.Isolated(tenants.Options{})
	cat := catalog.NewService(svc)
	reps := reports.NewService(env.Pool, nil).SetNotices(notices.NewService(env.Pool, nil, nil, nil)).
		SetLinks("http://stacks.test", []byte("test link secret")).SetAttachLimit(1)
	s := api.New(api.Config{}, api.Deps{Log: slog.New(slog.DiscardHandler), Pool: env.Pool, Redis: env.Redis,
		Counter: counter, Tenants: svc, Catalog: cat, Reports: reps})
	lib := signup(t, s, "rep-link", "library")
	sc := call(t, s, "POST", "/api/v1/report-schedules", lib.Token, map[string]any{"report": "items_by_status", "frequency": "daily",
		"recipients": []string{"head@" + lib.Slug + ".example.org"}})
	want(t, sc, 201)
	run := call(t, s, "POST", "/api/v1/report-schedules/"+sc.Body["id"].(string)+"/run", lib.Token, nil)
	want(t, run, 202)
	if run.Body["status"] != "completed" {
		t.Fatalf("run %s", run.Raw)
	}
	var text string
	err := env.Pool.Tx(context.Background(), uuid.MustParse(lib.TenantID), func(ctx context.Context, tx *gorm.DB) error {
		return tx.Raw("SELECT body_text FROM notices WHERE kind = 'report'").Row().Scan(&text)
	})
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(text, "http://stacks.test/api/v1/report-files/")
	if i < 0 {
		t.Fatalf("no link in %q", text)
	}
	link := strings.Fields(text[i+len("http://stacks.test"):])[0]
	f := call(t, s, "GET", link, "", nil)
	want(t, f, 200)
	if !strings.HasPrefix(string(f.Raw), "\ufeffbranch_id,branch_code,branch_name,available") {
		t.Errorf("file %q", f.Raw)
	}
	want(t, call(t, s, "GET", link+"x", "", nil), 404, "link_invalid")
	// The logged-in download is the same file.
	dl := call(t, s, "GET", "/api/v1/report-runs/"+run.Body["id"].(string)+"/file", lib.Token, nil)
	want(t, dl, 200)
	if string(dl.Raw) != string(f.Raw) {
		t.Errorf("download differs")
	}
	list := call(t, s, "GET", "/api/v1/report-runs?schedule_id="+sc.Body["id"].(string), lib.Token, nil)
	want(t, list, 200)
	if items := list.Body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["row_count"].(float64) != 0 || items[0].(map[string]any)["size_bytes"].(float64) != float64(len(f.Raw)) {
		t.Errorf("runs %s", list.Raw)
	}
}

// Lost and missing in a period: a loan declared lost (once, at its loss),
// a copy marked missing by staff; a copy lost before the period, and one
// found again, are not listed.
func TestReports_LostMissing(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "rep-lost")
	main := d.lib.MainID
	p := d.patron(main, nil)
	lost, missing, old := d.item(main, "book"), d.item(main, "dvd"), d.item(main, "book")
	want(t, call(t, s, "PATCH", "/api/v1/items/"+lost["id"].(string), d.lib.Token, map[string]any{"price": money(2500)}), 200)
	co := d.checkout(d.lib.Token, p, lost, main, nil)
	want(t, co, 201)
	want(t, call(t, s, "POST", "/api/v1/loans/"+obj(co.Body["loan"])["id"].(string)+"/lost", d.lib.Token, nil), 200)
	want(t, call(t, s, "PATCH", "/api/v1/items/"+missing["id"].(string), d.lib.Token, map[string]any{"status": "missing"}), 200)
	want(t, call(t, s, "PATCH", "/api/v1/items/"+old["id"].(string), d.lib.Token, map[string]any{"status": "missing"}), 200)
	d.sql("UPDATE items SET updated_at = now() - interval '60 days' WHERE id = ?", old["id"])

	// The default range: the last 30 days up to today (local).
	r := call(t, s, "GET", "/api/v1/reports/lost_missing", d.lib.Token, nil)
	want(t, r, 200)
	rows := r.Body["rows"].([]any)
	got := []string{}
	for _, row := range rows {
		c := row.([]any)
		got = append(got, fmt.Sprintf("%s/%s/%s/%s/%v", c[1], c[6], c[7], c[9], c[10]))
	}
	wantRows := []string{lost["barcode"].(string) + "/lost/loan/lost/2500", missing["barcode"].(string) + "/missing/item/missing/<nil>"}
	if strings.Join(got, ",") != strings.Join(wantRows, ",") {
		t.Fatalf("lost_missing rows %v, want %v\n%s", got, wantRows, r.Raw)
	}
}
