package api_test

import (
	"testing"

	"github.com/stacks-ils/stacks/api"
)

// serialIDs are tenant B's serials resources the isolation suite probes.
type serialIDs struct {
	SerialBibID, SubscriptionID, IssueID, RoutingListID, PatternID string
}

// serialsFixture gives B a serial record, a routed subscription with its
// predicted issues (the first received), a routing list and a pattern.
func serialsFixture(t *testing.T, s *api.Server, f *fixture) {
	b := f.B
	bib := call(t, s, "POST", "/api/v1/bibs", b.Token, map[string]any{"title": "B's secret quarterly", "format": "serial"})
	want(t, bib, 201)
	f.Serial.SerialBibID = bib.Body["id"].(string)
	rl := call(t, s, "POST", "/api/v1/routing-lists", b.Token, map[string]any{"name": "B readers",
		"members": []map[string]any{{"staff_user_id": b.OwnerID}, {"patron_id": f.PatronID, "note": "B's patron"}}})
	want(t, rl, 201)
	f.Serial.RoutingListID = rl.Body["id"].(string)
	p := call(t, s, "POST", "/api/v1/serial-patterns", b.Token, map[string]any{"name": "B's pattern", "frequency": "monthly",
		"levels": []map[string]any{{"caption": "no."}}, "chronology": []string{"year", "month"}})
	want(t, p, 201)
	f.Serial.PatternID = p.Body["id"].(string)
	sub := call(t, s, "POST", "/api/v1/subscriptions", b.Token, map[string]any{"bib_id": f.Serial.SerialBibID, "branch_id": b.MainID,
		"starts_on": "2099-01-01", "ends_on": "2099-12-31", "pattern_id": "quarterly", "routing_list_id": f.Serial.RoutingListID,
		"first_issue": map[string]any{"expected_on": "2099-01-15", "enumeration": []int{1, 1}}})
	want(t, sub, 201)
	f.Serial.SubscriptionID = sub.Body["id"].(string)
	next := call(t, s, "POST", "/api/v1/subscriptions/"+f.Serial.SubscriptionID+"/receive-next", b.Token, nil)
	want(t, next, 200)
	f.Serial.IssueID = next.Body["issue"].(map[string]any)["id"].(string)
	f.BIDs = append(f.BIDs, f.Serial.SerialBibID, f.Serial.SubscriptionID, f.Serial.IssueID, f.Serial.RoutingListID, f.Serial.PatternID)
}

func serialsSnapshot(f *fixture) []string {
	sub := "/api/v1/subscriptions/" + f.Serial.SubscriptionID
	return []string{sub, sub + "/issues", sub + "/mfhd", "/api/v1/serial-issues/" + f.Serial.IssueID,
		"/api/v1/serial-issues/" + f.Serial.IssueID + "/routing-slip", "/api/v1/routing-lists/" + f.Serial.RoutingListID,
		"/api/v1/serial-patterns", "/api/v1/serials/settings", "/api/v1/subscriptions"}
}

// serialsIsolation probes every serials route with B's subscriptions,
// issues, routing lists, records and patrons.
func serialsIsolation(id func(string, func(*fixture) string) func(*fixture) string) []isolationCase {
	sub := func(f *fixture) string { return f.Serial.SubscriptionID }
	issue := func(f *fixture) string { return f.Serial.IssueID }
	list := func(f *fixture) string { return f.Serial.RoutingListID }
	subCase := func(method, path string, body func(*fixture) any) isolationCase {
		return isolationCase{Method: method, Path: path, URL: id(path, sub), Body: body, Status: 404}
	}
	issueCase := func(method, path string, body func(*fixture) any) isolationCase {
		return isolationCase{Method: method, Path: path, URL: id(path, issue), Body: body, Status: 404}
	}
	return []isolationCase{
		{Method: "GET", Path: "/api/v1/serial-patterns"},
		{Method: "POST", Path: "/api/v1/serial-patterns", Body: func(*fixture) any {
			return map[string]any{"name": "B's pattern", "frequency": "annual", "levels": []map[string]any{{"caption": "v."}}}
		}, Status: 201},
		{Method: "GET", Path: "/api/v1/serials/settings"},
		{Method: "PATCH", Path: "/api/v1/serials/settings", Body: func(*fixture) any { return map[string]any{"max_claims": 5} }},
		// A's run claims A's issues only; B's snapshot stays the same.
		{Method: "POST", Path: "/api/v1/serials/claims/run", Status: 202},
		{Method: "GET", Path: "/api/v1/serials/renewals", URL: func(*fixture) string { return "/api/v1/serials/renewals?within_days=36500" }},
		{Method: "GET", Path: "/api/v1/subscriptions"},
		{Method: "GET", Path: "/api/v1/subscriptions", URL: func(f *fixture) string { return "/api/v1/subscriptions?bib_id=" + f.Serial.SerialBibID }},
		{Method: "POST", Path: "/api/v1/subscriptions", Body: func(f *fixture) any {
			return map[string]any{"bib_id": f.Serial.SerialBibID, "branch_id": f.A.MainID, "starts_on": "2099-01-01", "ends_on": "2099-12-31",
				"pattern_id": "quarterly", "first_issue": map[string]any{"expected_on": "2099-01-15", "enumeration": []int{1, 1}}}
		}, Status: 422, Code: "invalid_bib"},
		// A's subscription naming B's pattern: A has no such pattern.
		{Method: "POST", Path: "/api/v1/subscriptions", Body: func(f *fixture) any {
			return map[string]any{"bib_id": f.ASerialBibID, "branch_id": f.A.MainID, "starts_on": "2099-01-01", "ends_on": "2099-12-31",
				"pattern_id": f.Serial.PatternID, "first_issue": map[string]any{"expected_on": "2099-01-15", "enumeration": []int{1}}}
		}, Status: 422, Code: "invalid_pattern"},
		// A's subscription naming B's vendor, fund or order line.
		{Method: "POST", Path: "/api/v1/subscriptions", Body: func(f *fixture) any {
			return aSubscription(f, map[string]any{"vendor_id": f.Acq["vendor"]})
		}, Status: 422, Code: "invalid_vendor"},
		{Method: "POST", Path: "/api/v1/subscriptions", Body: func(f *fixture) any {
			return aSubscription(f, map[string]any{"fund_id": f.Acq["fund"]})
		}, Status: 422, Code: "invalid_fund"},
		{Method: "POST", Path: "/api/v1/subscriptions", Body: func(f *fixture) any {
			return aSubscription(f, map[string]any{"po_line_id": f.Acq["line"]})
		}, Status: 422, Code: "invalid_po_line"},
		subCase("GET", "/api/v1/subscriptions/:id", nil),
		subCase("PATCH", "/api/v1/subscriptions/:id", func(*fixture) any { return map[string]any{"notes": "pwned"} }),
		subCase("GET", "/api/v1/subscriptions/:id/issues", nil),
		subCase("POST", "/api/v1/subscriptions/:id/issues", func(*fixture) any { return map[string]any{"label": "pwned", "kind": "supplement"} }),
		subCase("POST", "/api/v1/subscriptions/:id/predict", nil),
		subCase("POST", "/api/v1/subscriptions/:id/regenerate", func(*fixture) any { return map[string]any{"pattern_id": "annual"} }),
		subCase("POST", "/api/v1/subscriptions/:id/receive-next", nil),
		subCase("POST", "/api/v1/subscriptions/:id/renew", nil),
		subCase("GET", "/api/v1/subscriptions/:id/mfhd", nil),
		subCase("GET", "/api/v1/subscriptions/:id/orders", nil),
		{Method: "GET", Path: "/api/v1/serial-issues"},
		{Method: "GET", Path: "/api/v1/serial-issues", URL: func(f *fixture) string { return "/api/v1/serial-issues?status=received&vendor_id=" + f.Acq["vendor"] }},
		issueCase("GET", "/api/v1/serial-issues/:id", nil),
		issueCase("POST", "/api/v1/serial-issues/:id/receive", nil),
		issueCase("POST", "/api/v1/serial-issues/:id/missing", nil),
		issueCase("POST", "/api/v1/serial-issues/:id/damaged", func(*fixture) any { return map[string]any{"note": "torn"} }),
		issueCase("POST", "/api/v1/serial-issues/:id/not-published", nil),
		issueCase("GET", "/api/v1/serial-issues/:id/routing-slip", nil),
		{Method: "GET", Path: "/api/v1/routing-lists"},
		// B's patron on A's routing list: A has no such patron.
		{Method: "POST", Path: "/api/v1/routing-lists", Body: func(f *fixture) any {
			return map[string]any{"name": "spy", "members": []map[string]any{{"patron_id": f.PatronID}}}
		}, Status: 422, Code: "invalid_member"},
		{Method: "GET", Path: "/api/v1/routing-lists/:id", URL: id("/api/v1/routing-lists/:id", list), Status: 404},
		{Method: "PUT", Path: "/api/v1/routing-lists/:id", URL: id("/api/v1/routing-lists/:id", list),
			Body: func(f *fixture) any {
				return map[string]any{"name": "pwned", "members": []map[string]any{{"staff_user_id": f.A.OwnerID}}}
			}, Status: 404},
		{Method: "DELETE", Path: "/api/v1/routing-lists/:id", URL: id("/api/v1/routing-lists/:id", list), Status: 404},
	}
}

// aSubscription is a valid subscription of A to its own serial, with extra.
func aSubscription(f *fixture, extra map[string]any) map[string]any {
	m := map[string]any{"bib_id": f.ASerialBibID, "branch_id": f.A.MainID, "starts_on": "2099-01-01", "ends_on": "2099-12-31",
		"pattern_id": "quarterly", "first_issue": map[string]any{"expected_on": "2099-01-15", "enumeration": []int{1, 1}}}
	for k, v := range extra {
		m[k] = v
	}
	return m
}
