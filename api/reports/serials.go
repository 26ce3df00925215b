package reports

import (
	"strconv"

	"github.com/stacks-ils/stacks/api/acquisitions"
)

// Serials reports read the tables of api/serials
// (migrations/0014_serials.sql); the org unit is the subscription's branch.

// serialClaims is vendor performance: per vendor, the claims sent in the
// period (serial_claims.run_date) and what became of the issues claimed:
// received after all, given up as missing (never received), still open.
func serialClaims(p *Params) (*query, error) {
	args := map[string]any{"from": date(p.From), "to": date(p.To)}
	q := `WITH ` + unitsCTE(p, args) + `,
c AS (SELECT c.vendor_id, c.issue_id, count(*) AS claims
  FROM serial_claims c JOIN subscriptions s ON s.id = c.subscription_id JOIN units u ON u.id = s.branch_id
  WHERE c.run_date BETWEEN CAST(@from AS date) AND CAST(@to AS date) GROUP BY 1, 2)
SELECT v.code, v.id::text, v.name, sum(c.claims)::bigint, count(*)::bigint,
  count(*) FILTER (WHERE i.status = 'received')::bigint, count(*) FILTER (WHERE i.status = 'missing')::bigint,
  count(*) FILTER (WHERE i.status NOT IN ('received', 'missing'))::bigint
FROM c JOIN serial_issues i ON i.id = c.issue_id LEFT JOIN vendors v ON v.id = c.vendor_id
GROUP BY v.code, v.id, v.name ORDER BY v.code, v.id`
	return &query{sql: q, args: args, cols: []Column{
		{Name: "vendor_code", Type: TypeString, Description: "null: subscriptions without a vendor"},
		{Name: "vendor_id", Type: TypeID}, {Name: "vendor_name", Type: TypeString},
		{Name: "claims_sent", Type: TypeInteger, Description: "claims sent in the period", sum: true},
		{Name: "issues_claimed", Type: TypeInteger, sum: true},
		{Name: "received_after_claim", Type: TypeInteger, Description: "claimed issues received since", sum: true},
		{Name: "never_received", Type: TypeInteger, Description: "claimed issues given up as missing", sum: true},
		{Name: "still_open", Type: TypeInteger, Description: "claimed issues neither received nor given up", sum: true},
	}}, nil
}

// subscriptionsExpiring lists active and expiring subscriptions whose
// renewal date (or end, without one) falls within within_days of as_of:
// serials' own renewal rule (GET /subscriptions/renewals).
func subscriptionsExpiring(p *Params) (*query, error) {
	days := 60
	if v := p.get("within_days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 36500 {
			return nil, badParam("within_days", "within_days must be a whole number from 1 to 36500")
		}
		days = n
	}
	args := map[string]any{"asof": date(p.today), "days": days, "limit": p.Limit}
	q := `WITH ` + unitsCTE(p, args) + `
SELECT s.id::text, b.title, v.code, u.code, s.status, to_char(COALESCE(s.renewal_on, s.ends_on), 'YYYY-MM-DD'),
  to_char(s.ends_on, 'YYYY-MM-DD'), (COALESCE(s.renewal_on, s.ends_on) - CAST(@asof AS date))::bigint, s.currency, s.annual_cost
FROM subscriptions s JOIN bibs b ON b.id = s.bib_id JOIN units u ON u.id = s.branch_id LEFT JOIN vendors v ON v.id = s.vendor_id
WHERE s.status IN ('active', 'expiring') AND COALESCE(s.renewal_on, s.ends_on) <= CAST(@asof AS date) + CAST(@days AS integer)
ORDER BY COALESCE(s.renewal_on, s.ends_on), b.title_sort, s.id LIMIT @limit`
	return &query{sql: q, args: args, cols: []Column{
		{Name: "subscription_id", Type: TypeID}, {Name: "title", Type: TypeString}, {Name: "vendor_code", Type: TypeString},
		{Name: "branch_code", Type: TypeString}, {Name: "status", Type: TypeString},
		{Name: "renewal_on", Type: TypeDate, Description: "renewal date, else the end"}, {Name: "ends_on", Type: TypeDate},
		{Name: "days_left", Type: TypeInteger, Description: "renewal_on - as_of; negative when past"},
		{Name: "currency", Type: TypeString}, money("annual_cost", "null when not recorded"),
	}}, nil
}

// serialCosts is cost per title per year: for each subscription period
// ordered (serials' subscription_orders) starting in the range, what the
// fund ledger holds for its order line (summed as acquisitions does), and
// the issues received that year, with the cost per issue received.
func serialCosts(p *Params) (*query, error) {
	args := map[string]any{"from": date(p.From), "to": date(p.To)}
	q := `WITH ` + unitsCTE(p, args) + `,
o AS (SELECT s.bib_id, extract(year FROM so.starts_on)::int AS year, t.currency,
    ` + acquisitions.EncumberedSQL + ` AS encumbered, ` + acquisitions.ExpendedSQL + ` AS expended
  FROM subscription_orders so JOIN subscriptions s ON s.id = so.subscription_id JOIN units u ON u.id = s.branch_id
  JOIN fund_transactions t ON t.po_line_id = so.po_line_id
  WHERE so.starts_on BETWEEN CAST(@from AS date) AND CAST(@to AS date) GROUP BY 1, 2, 3),
r AS (SELECT s.bib_id, extract(year FROM i.expected_on)::int AS year, count(*) AS n
  FROM serial_issues i JOIN subscriptions s ON s.id = i.subscription_id JOIN units u ON u.id = s.branch_id
  WHERE i.status = 'received' AND s.bib_id IN (SELECT bib_id FROM o) GROUP BY 1, 2)
SELECT o.bib_id::text, b.title, o.year::bigint, o.currency, o.encumbered::bigint, o.expended::bigint, COALESCE(r.n, 0)::bigint,
  CASE WHEN COALESCE(r.n, 0) = 0 THEN NULL ELSE round(o.expended::numeric / r.n)::bigint END
FROM o JOIN bibs b ON b.id = o.bib_id LEFT JOIN r ON r.bib_id = o.bib_id AND r.year = o.year
ORDER BY b.title_sort, o.bib_id, o.year, o.currency`
	return &query{sql: q, args: args, cols: []Column{
		{Name: "bib_id", Type: TypeID}, {Name: "title", Type: TypeString},
		{Name: "year", Type: TypeInteger, Description: "year the subscription period starts"},
		{Name: "currency", Type: TypeString, Description: "the funds' currency"},
		money("encumbered", "still on order for the period"), money("expended", "paid for the period: expenditures less credits"),
		{Name: "issues_received", Type: TypeInteger, Description: "issues of the title expected that year and received", sum: true},
		money("cost_per_issue", "expended / issues_received; null without an issue"),
	}}, nil
}
