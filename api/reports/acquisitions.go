package reports

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"

	"github.com/stacks-ils/stacks/api/acquisitions"
)

// Acquisitions reports read the tables of api/acquisitions
// (migrations/0013_acquisitions.sql). Money comes from the fund ledger
// (fund_transactions) summed with the acquisitions module's own
// expressions (acquisitions.AllocatedSQL, ...), and late lines are the ones
// its claims would send (acquisitions.LateWhere), so a report never
// disagrees with GET /funds/{id} or GET /acquisitions/late-lines.
//
// Money columns are minor units of the row's currency column. They are not
// added into the result's totals: funds may be in several currencies.

var (
	pFiscalYear = Param{Name: "fiscal_year_id", Type: "id", Description: "a fiscal year; default the current one (every year when none is current)"}
	pVendor     = Param{Name: "vendor_id", Type: "id", Description: "only this vendor"}
	pFund       = Param{Name: "fund_id", Type: "id", Description: "only this fund"}
)

// recordParams are the id parameters naming an acquisitions record, with
// its table and what to call it.
var recordParams = []struct{ name, table, what string }{
	{"fiscal_year_id", "fiscal_years", "fiscal year"}, {"vendor_id", "vendors", "vendor"}, {"fund_id", "funds", "fund"},
}

// checkRecordIDs refuses ids that name no record of this library (422, like
// branch_id), so a report never runs with, nor echoes, another library's id.
func checkRecordIDs(db *gorm.DB, raw map[string]string) error {
	for _, rp := range recordParams {
		v := raw[rp.name]
		if v == "" {
			continue
		}
		id, err := uuid.Parse(v)
		if err != nil {
			return badParam(rp.name, rp.name+" must be an id")
		}
		var n int64
		if err := db.Raw("SELECT count(*) FROM "+rp.table+" WHERE id = ?", id).Scan(&n).Error; err != nil {
			return fmt.Errorf("%s: %w", rp.name, err)
		}
		if n == 0 {
			return errs.Field(rp.name, "invalid_"+strings.TrimSuffix(rp.name, "_id"), rp.name+" names no "+rp.what+" of this library")
		}
	}
	return nil
}

func money(name, desc string) Column { return Column{Name: name, Type: TypeMoney, Description: desc} }

// idParam reads an id parameter; "" when absent.
func idParam(p *Params, name string, args map[string]any) (bool, error) {
	v := p.get(name)
	if v == "" {
		return false, nil
	}
	id, err := uuid.Parse(v)
	if err != nil {
		return false, badParam(name, name+" must be an id")
	}
	args[name] = id
	return true, nil
}

// fundUnits joins the fund's org unit: with a branch parameter only funds
// owned in the subtree count; without one, funds owned by no unit count too.
func fundUnits(p *Params) string {
	if p.Branch != nil {
		return "JOIN units u ON u.id = f.branch_id"
	}
	return "LEFT JOIN units u ON u.id = f.branch_id"
}

// fundStatus is every fund of a fiscal year with its four balances from the
// ledger entries made before the end of as_of (default now).
func fundStatus(p *Params) (*query, error) {
	args := map[string]any{"cutoff": p.asOfInstant}
	year := "(y.current OR NOT EXISTS (SELECT 1 FROM fiscal_years x WHERE x.current))"
	if ok, err := idParam(p, "fiscal_year_id", args); err != nil {
		return nil, err
	} else if ok {
		year = "f.fiscal_year_id = CAST(@fiscal_year_id AS uuid)"
	}
	q := `WITH ` + unitsCTE(p, args) + `
SELECT f.id::text, f.code, f.name, y.code, COALESCE(pf.code, ''), COALESCE(u.code, ''), f.currency,
  b.allocated::bigint, b.encumbered::bigint, b.expended::bigint, (b.allocated - b.encumbered - b.expended)::bigint,
  CASE WHEN b.allocated <= 0 THEN NULL ELSE round((b.encumbered + b.expended) * 100.0 / b.allocated, 1)::float8 END
FROM funds f JOIN fiscal_years y ON y.id = f.fiscal_year_id ` + fundUnits(p) + `
LEFT JOIN funds pf ON pf.id = f.parent_id
CROSS JOIN LATERAL (SELECT ` + acquisitions.AllocatedSQL + ` AS allocated, ` + acquisitions.EncumberedSQL + ` AS encumbered,
    ` + acquisitions.ExpendedSQL + ` AS expended
  FROM fund_transactions t WHERE t.fund_id = f.id AND t.created_at < @cutoff) b
WHERE ` + year + `
ORDER BY y.starts_on, f.code, f.id`
	return &query{sql: q, args: args, cols: []Column{
		{Name: "fund_id", Type: TypeID}, {Name: "fund_code", Type: TypeString}, {Name: "fund_name", Type: TypeString},
		{Name: "fiscal_year", Type: TypeString, Description: "fiscal year code"},
		{Name: "parent_code", Type: TypeString, Description: "parent fund; empty for a top-level fund"},
		{Name: "branch_code", Type: TypeString, Description: "org unit owning the fund; empty when none"},
		{Name: "currency", Type: TypeString},
		money("allocated", "allocations and transfers"), money("encumbered", "on order: encumbrances less releases"),
		money("expended", "paid: expenditures less credits"), money("available", "allocated - encumbered - expended"),
		{Name: "used_percent", Type: TypeNumber, Description: "(encumbered + expended) / allocated × 100; null without an allocation"},
	}}, nil
}

// spending sums the money paid from the funds (expenditures less credits in
// the ledger) in the period, per day/week/month (every period, zeros
// included, per currency), vendor, fund, or vendor or fund per month.
// Vendors come from the order line an entry pays for; credits posted on a
// fund by hand have no vendor.
func spending(p *Params) (*query, error) {
	args := map[string]any{"start": p.start(), "end": p.end(), "tz": p.tz, "from": date(p.From), "to": date(p.To)}
	where := []string{"t.kind IN ('expenditure', 'credit')", "t.created_at >= @start", "t.created_at < @end"}
	if ok, err := idParam(p, "vendor_id", args); err != nil {
		return nil, err
	} else if ok {
		where = append(where, "o.vendor_id = CAST(@vendor_id AS uuid)")
	}
	if ok, err := idParam(p, "fund_id", args); err != nil {
		return nil, err
	} else if ok {
		where = append(where, "t.fund_id = CAST(@fund_id AS uuid)")
	}
	day := "(t.created_at AT TIME ZONE CAST(@tz AS text))::date"
	vendor := keyPart{exprs: []string{"v.code", "v.id", "v.name"}, out: []string{"a.k%d", "a.k%d::text", "a.k%d"},
		cols: []Column{{Name: "vendor_code", Type: TypeString, Description: "null: entries without an order (credits on a fund)"},
			{Name: "vendor_id", Type: TypeID}, {Name: "vendor_name", Type: TypeString}}}
	fund := keyPart{exprs: []string{"f.code", "f.id", "f.name"}, out: []string{"a.k%d", "a.k%d::text", "a.k%d"},
		cols: []Column{{Name: "fund_code", Type: TypeString}, {Name: "fund_id", Type: TypeID}, {Name: "fund_name", Type: TypeString}}}
	period := func(trunc string) keyPart {
		desc := "first day of the " + trunc
		if trunc == "day" {
			desc = "the library's local date"
		}
		return keyPart{exprs: []string{fmt.Sprintf("date_trunc('%s', %s)::date", trunc, day)}, out: []string{"to_char(a.k%d, 'YYYY-MM-DD')"},
			cols: []Column{{Name: trunc, Type: TypeDate, Description: desc}}}
	}
	var parts []keyPart
	fill := ""
	switch p.GroupBy {
	case "day", "week", "month":
		parts = []keyPart{period(p.GroupBy)}
		fill = p.GroupBy
	case "vendor":
		parts = []keyPart{vendor}
	case "fund":
		parts = []keyPart{fund}
	case "vendor_month":
		parts = []keyPart{vendor, period("month")}
	case "fund_month":
		parts = []keyPart{fund, period("month")}
	default:
		return nil, badParam("group_by", "cannot group by "+p.GroupBy)
	}
	var exprs, outs, order []string
	var cols []Column
	for _, kp := range parts {
		for i, e := range kp.exprs {
			n := len(exprs)
			exprs = append(exprs, fmt.Sprintf("%s AS k%d", e, n))
			outs = append(outs, fmt.Sprintf(kp.out[i], n))
			order = append(order, fmt.Sprintf("a.k%d", n))
		}
		cols = append(cols, kp.cols...)
	}
	var group []string
	for i := range exprs {
		group = append(group, itoa(i+1))
	}
	group = append(group, itoa(len(exprs)+1))
	from := "agg a"
	if fill != "" {
		// Every period of the range for every currency spent in it.
		step := "1 " + fill
		from = fmt.Sprintf(`generate_series(date_trunc('%s', CAST(@from AS date)), CAST(@to AS date), interval '%s') AS g(k)
  CROSS JOIN (SELECT DISTINCT currency FROM agg) c
  LEFT JOIN agg x ON x.k0 = g.k AND x.currency = c.currency
  CROSS JOIN LATERAL (SELECT g.k::date AS k0, c.currency, COALESCE(x.paid, 0) AS paid, COALESCE(x.credited, 0) AS credited,
    COALESCE(x.expended, 0) AS expended) a`, fill, step)
	}
	q := `WITH ` + unitsCTE(p, args) + `,
agg AS (SELECT ` + strings.Join(exprs, ", ") + `, t.currency,
  COALESCE(sum(t.amount) FILTER (WHERE t.kind = 'expenditure'), 0) AS paid,
  COALESCE(sum(t.amount) FILTER (WHERE t.kind = 'credit'), 0) AS credited,
  ` + acquisitions.ExpendedSQL + ` AS expended
  FROM fund_transactions t JOIN funds f ON f.id = t.fund_id ` + fundUnits(p) + `
  LEFT JOIN po_lines pl ON pl.id = t.po_line_id LEFT JOIN purchase_orders o ON o.id = pl.po_id LEFT JOIN vendors v ON v.id = o.vendor_id
  WHERE ` + strings.Join(where, " AND ") + `
  GROUP BY ` + strings.Join(group, ", ") + `)
SELECT ` + strings.Join(outs, ", ") + `, a.currency, a.paid::bigint, a.credited::bigint, a.expended::bigint
FROM ` + from + ` ORDER BY ` + strings.Join(order, ", ") + `, a.currency`
	return &query{sql: q, args: args, cols: append(cols, Column{Name: "currency", Type: TypeString},
		money("paid", "expenditures: invoices paid"), money("credited", "credits: money back from vendors"),
		money("expended", "paid - credited"))}, nil
}

// keyPart is one grouping of a report: its expressions, their output
// (a format with the key's index) and columns.
type keyPart struct {
	exprs, out []string
	cols       []Column
}

// lateOrders lists the order lines late on as_of (default today): open
// lines not all received whose vendor's lead time after the order day has
// passed, exactly the lines acquisitions claims would chase. The branch is
// the line's receiving branch; encumbered is what the ledger still holds
// for the line.
func lateOrders(p *Params) (*query, error) {
	args := map[string]any{"tz": p.tz, "asof": date(p.today), "limit": p.Limit}
	where := acquisitions.LateWhere
	if ok, err := idParam(p, "vendor_id", args); err != nil {
		return nil, err
	} else if ok {
		where += " AND o.vendor_id = CAST(@vendor_id AS uuid)"
	}
	days := "(CAST(@asof AS date) - (" + acquisitions.ExpectedOnSQL + "))"
	// The ledger is summed only for the rows kept (after the LIMIT).
	q := `WITH ` + unitsCTE(p, args) + `,
late AS (SELECT l.id, o.number, l.line_no, v.code AS vendor_code, v.name AS vendor_name, b.title, u.code AS branch_code,
    l.quantity, l.received_quantity, ` + acquisitions.OrderedOnSQL + ` AS ordered_on, ` + acquisitions.ExpectedOnSQL + ` AS expected_on,
    ` + days + ` AS days_late, l.claim_count, l.last_claimed_on
  FROM ` + acquisitions.LateFrom + ` JOIN bibs b ON b.id = l.bib_id JOIN branches u ON u.id = l.branch_id
  WHERE ` + where + outstandingIn(p) + `
  ORDER BY days_late DESC, v.code, o.number, l.line_no LIMIT @limit)
SELECT x.id::text, x.number, x.line_no::bigint, x.vendor_code, x.vendor_name, x.title, x.branch_code, x.quantity::bigint,
  x.received_quantity::bigint, (x.quantity - x.received_quantity)::bigint, to_char(x.ordered_on, 'YYYY-MM-DD'),
  to_char(x.expected_on, 'YYYY-MM-DD'), x.days_late::bigint, x.claim_count::bigint, to_char(x.last_claimed_on, 'YYYY-MM-DD'),
  e.currency, e.encumbered::bigint
FROM late x CROSS JOIN LATERAL (SELECT min(t.currency) AS currency, ` + acquisitions.EncumberedSQL + ` AS encumbered
  FROM fund_transactions t WHERE t.po_line_id = x.id) e
ORDER BY x.days_late DESC, x.vendor_code, x.number, x.line_no`
	return &query{sql: q, args: args, cols: []Column{
		{Name: "po_line_id", Type: TypeID}, {Name: "po_number", Type: TypeString}, {Name: "line_no", Type: TypeInteger},
		{Name: "vendor_code", Type: TypeString}, {Name: "vendor_name", Type: TypeString}, {Name: "title", Type: TypeString},
		{Name: "branch_code", Type: TypeString, Description: "the line's branch (copies may have destinations of their own)"},
		{Name: "quantity", Type: TypeInteger, sum: true}, {Name: "received", Type: TypeInteger, sum: true},
		{Name: "outstanding", Type: TypeInteger, Description: "copies still to come", sum: true},
		{Name: "ordered_on", Type: TypeDate}, {Name: "expected_on", Type: TypeDate, Description: "order day + the vendor's lead time"},
		{Name: "days_late", Type: TypeInteger, Description: "as_of - expected_on"},
		{Name: "claims", Type: TypeInteger, Description: "claims sent for the line", sum: true},
		{Name: "last_claimed_on", Type: TypeDate, Description: "null: never claimed"},
		{Name: "currency", Type: TypeString, Description: "the funds' currency"},
		money("encumbered", "still encumbered for the line in the ledger"),
	}}, nil
}

// outstandingIn limits late lines to those with a copy still to come for
// the branch subtree: copy n goes to its per-copy destination
// (po_line_copies) when the line has one, else to the line's branch.
func outstandingIn(p *Params) string {
	if p.Branch == nil {
		return ""
	}
	return `
  AND EXISTS (SELECT 1 FROM generate_series(l.received_quantity + 1, l.quantity) n(n)
    LEFT JOIN po_line_copies pc ON pc.po_line_id = l.id AND pc.copy_no = n.n
    JOIN units w ON w.id = COALESCE(pc.branch_id, l.branch_id))`
}

// costPerCheckout takes the copies acquired in the period (acquired_on in
// from..to) that have a price (copies received on an order carry the
// line's net unit price, set at receipt) and divides their cost by their
// checkouts up to as_of (default now), per item type, branch, member
// library or vendor (the order the copy was received on).
func costPerCheckout(p *Params) (*query, error) {
	args := map[string]any{"from": date(p.From), "to": date(p.To), "cutoff": p.asOfInstant}
	var k key
	if p.GroupBy == "vendor" {
		k = key{exprs: []string{"v.code", "v.id", "v.name"}, out: []string{"a.k0", "a.k1::text", "a.k2"},
			cols: []Column{{Name: "vendor_code", Type: TypeString, Description: "null: copies not received on an order"},
				{Name: "vendor_id", Type: TypeID}, {Name: "vendor_name", Type: TypeString}}}
	} else {
		var err error
		if k, err = dimension(p.GroupBy, source{itemType: "i.item_type"}, p, args); err != nil {
			return nil, err
		}
	}
	sel, group := k.aggSelect()
	group += ", " + itoa(len(k.exprs)+1)
	_, order := k.from()
	q := `WITH ` + unitsCTE(p, args) + `,
agg AS (SELECT ` + sel + `, i.price_currency AS currency, count(*) AS items, sum(c.n) AS checkouts,
  count(*) FILTER (WHERE c.n = 0) AS unused, sum(i.price_amount) AS cost
  FROM items i JOIN units u ON u.id = i.branch_id
  LEFT JOIN po_receipts r ON r.item_id = i.id LEFT JOIN po_lines pl ON pl.id = r.po_line_id
  LEFT JOIN purchase_orders o ON o.id = pl.po_id LEFT JOIN vendors v ON v.id = o.vendor_id
  CROSS JOIN LATERAL (SELECT count(*) AS n FROM loans l WHERE l.item_id = i.id AND l.checked_out_at < @cutoff) c
  WHERE i.acquired_on BETWEEN CAST(@from AS date) AND CAST(@to AS date) AND i.price_amount IS NOT NULL` + itemFilters(p, args) + `
  GROUP BY ` + group + `)
SELECT ` + strings.Join(k.out, ", ") + `, a.currency, a.items::bigint, a.checkouts::bigint, a.unused::bigint, a.cost::bigint,
  CASE WHEN a.checkouts = 0 THEN NULL ELSE round(a.cost::numeric / a.checkouts)::bigint END
FROM agg a ORDER BY ` + order + `, a.currency`
	return &query{sql: q, args: args, cols: append(k.cols, Column{Name: "currency", Type: TypeString},
		Column{Name: "items", Type: TypeInteger, Description: "priced copies acquired in the period", sum: true},
		Column{Name: "checkouts", Type: TypeInteger, Description: "their checkouts up to as_of", sum: true},
		Column{Name: "never_checked_out", Type: TypeInteger, sum: true},
		money("cost", "sum of the copies' prices"),
		money("cost_per_checkout", "cost / checkouts, rounded half away from zero; null without a checkout"))}, nil
}
