package reports

import (
	"strconv"
	"strings"

	"github.com/stacks-ils/stacks/api/errs"
)

var errPatronData = errs.E(errs.Forbidden, "patron_data_required",
	"listing patrons needs the reports.patron_data permission (librarian, admin or owner); the aggregate report does not")

// patronActivity counts patrons by category, home branch or member
// library: registered and active at the end of the period, new in it,
// cards expiring in it, and how many borrowed in it. With list=new,
// expiring, active or all it lists the patrons themselves (needs
// reports.patron_data).
func patronActivity(p *Params) (*query, error) {
	args := map[string]any{"start": p.start(), "end": p.end(), "from": date(p.From), "to": date(p.To), "tz": p.tz}
	where := []string{"p.status <> 'merged'"}
	if p.Category != "" {
		where, args["category"] = append(where, "p.category = @category"), p.Category
	}
	borrowed := `EXISTS (SELECT 1 FROM loans l WHERE l.patron_id = p.id AND l.checked_out_at >= @start AND l.checked_out_at < @end)`
	if list := p.get("list"); list != "" {
		if !p.patronData {
			return nil, errPatronData
		}
		switch list {
		case "new":
			where = append(where, "p.created_at >= @start AND p.created_at < @end")
		case "expiring":
			where = append(where, "p.status = 'active' AND p.expires_on BETWEEN CAST(@from AS date) AND CAST(@to AS date)")
		case "active":
			where = append(where, borrowed)
		}
		args["limit"] = p.Limit
		q := `WITH ` + unitsCTE(p, args) + `
SELECT p.id::text, p.card_number, p.last_name, p.first_name, p.email, p.category, u.code, p.status,
  to_char((p.created_at AT TIME ZONE CAST(@tz AS text))::date, 'YYYY-MM-DD'), to_char(p.expires_on, 'YYYY-MM-DD'),
  (SELECT count(*) FROM loans l WHERE l.patron_id = p.id AND l.checked_out_at >= @start AND l.checked_out_at < @end)::bigint
FROM patrons p JOIN units u ON u.id = p.home_branch_id
WHERE ` + strings.Join(where, " AND ") + `
ORDER BY p.name_key, p.card_number LIMIT @limit`
		return &query{sql: q, args: args, cols: []Column{
			{Name: "patron_id", Type: TypeID}, {Name: "card_number", Type: TypeString}, {Name: "last_name", Type: TypeString},
			{Name: "first_name", Type: TypeString}, {Name: "email", Type: TypeString}, {Name: "patron_category", Type: TypeString},
			{Name: "home_branch_code", Type: TypeString}, {Name: "status", Type: TypeString},
			{Name: "registered", Type: TypeDate}, {Name: "expires_on", Type: TypeDate},
			{Name: "checkouts", Type: TypeInteger, Description: "checkouts in the period", sum: true},
		}}, nil
	}
	k, err := dimension(p.GroupBy, source{category: "p.category"}, p, args)
	if err != nil {
		return nil, err
	}
	sel, group := k.aggSelect()
	_, order := k.from()
	q := `WITH ` + unitsCTE(p, args) + `,
agg AS (SELECT ` + sel + `,
  count(*) FILTER (WHERE p.status = 'active' AND p.created_at < @end) AS patrons,
  count(*) FILTER (WHERE p.created_at >= @start AND p.created_at < @end) AS new_registrations,
  count(*) FILTER (WHERE ` + borrowed + `) AS borrowers,
  count(*) FILTER (WHERE p.status = 'active' AND p.expires_on BETWEEN CAST(@from AS date) AND CAST(@to AS date)) AS expiring
  FROM patrons p JOIN units u ON u.id = p.home_branch_id
  WHERE ` + strings.Join(where, " AND ") + ` GROUP BY ` + group + `)
SELECT ` + strings.Join(k.out, ", ") + `, a.patrons::bigint, a.new_registrations::bigint, a.borrowers::bigint, a.expiring::bigint
FROM agg a ORDER BY ` + order
	return &query{sql: q, args: args, cols: append(k.cols,
		Column{Name: "active_patrons", Type: TypeInteger, Description: "active records registered by the end of the period", sum: true},
		Column{Name: "new_registrations", Type: TypeInteger, sum: true},
		Column{Name: "borrowers", Type: TypeInteger, Description: "patrons with a checkout in the period (anonymised loans are not counted)", sum: true},
		Column{Name: "expiring_cards", Type: TypeInteger, Description: "active cards expiring in the period", sum: true})}, nil
}

// overdues lists active loans past their due date as of the report's day
// (now, or the end of as_of). Patron columns only with
// reports.patron_data.
func overdues(p *Params) (*query, error) {
	args := map[string]any{"cutoff": p.asOfInstant, "tz": p.tz, "asof": date(p.today), "limit": p.Limit}
	patronCols, patronSel, patronJoin := []Column(nil), "", ""
	if p.patronData {
		patronSel = ", pt.card_number, btrim(pt.first_name || ' ' || pt.last_name), pt.email"
		patronJoin = " LEFT JOIN patrons pt ON pt.id = l.patron_id"
		patronCols = []Column{{Name: "patron_card", Type: TypeString}, {Name: "patron_name", Type: TypeString}, {Name: "patron_email", Type: TypeString}}
	}
	q := `WITH ` + unitsCTE(p, args) + `
SELECT l.id::text, i.barcode, b.title, COALESCE(NULLIF(i.call_number, ''), b.call_number), u.code, l.item_type, l.patron_category,
  to_char(l.due_at AT TIME ZONE CAST(@tz AS text), 'YYYY-MM-DD'),
  (CAST(@asof AS date) - (l.due_at AT TIME ZONE CAST(@tz AS text))::date)::bigint` + patronSel + `
FROM loans l JOIN units u ON u.id = l.branch_id JOIN items i ON i.id = l.item_id JOIN bibs b ON b.id = l.bib_id` + patronJoin + `
WHERE l.status = 'active' AND l.due_at < @cutoff` + loanFilters(p, args) + `
ORDER BY l.due_at, i.barcode LIMIT @limit`
	return &query{sql: q, args: args, cols: append([]Column{
		{Name: "loan_id", Type: TypeID}, {Name: "barcode", Type: TypeString}, {Name: "title", Type: TypeString},
		{Name: "call_number", Type: TypeString}, {Name: "branch_code", Type: TypeString, Description: "lending branch"},
		{Name: "item_type", Type: TypeString}, {Name: "patron_category", Type: TypeString},
		{Name: "due_date", Type: TypeDate}, {Name: "days_overdue", Type: TypeInteger},
	}, patronCols...)}, nil
}

// fines sums the fee ledger per period, branch or member library and
// currency: charged, paid, waived, credited and refunded in the period, and
// outstanding (charges + refunds - payments - waivers - credits) at the end
// of each period (periods) or of the range (branches). Entries without a
// branch count only when no branch is asked for.
func fines(p *Params) (*query, error) {
	args := map[string]any{"start": p.start(), "end": p.end(), "tz": p.tz}
	src := source{day: "(f.created_at AT TIME ZONE CAST(@tz AS text))::date"}
	isPeriod := p.GroupBy == "day" || p.GroupBy == "week" || p.GroupBy == "month"
	k, err := dimension(p.GroupBy, src, p, args)
	if err != nil {
		return nil, err
	}
	// Periods: entries before the range fall into one NULL bucket that
	// only carries the opening balance into the running sum.
	exprs := append([]string(nil), k.exprs...)
	if isPeriod {
		last := len(exprs) - 1
		exprs[last] = "CASE WHEN f.created_at < @start THEN NULL ELSE " + exprs[last] + " END"
	}
	var sel, grp []string
	for i, e := range exprs {
		sel = append(sel, e+" AS k"+itoa(i))
		grp = append(grp, itoa(i+1))
	}
	n := len(exprs)
	grp = append(grp, itoa(n+1))
	join := "LEFT JOIN units u ON u.id = f.branch_id"
	where := "f.created_at < @end"
	if p.Branch != nil {
		join = "JOIN units u ON u.id = f.branch_id"
	}
	in := "f.created_at >= @start"
	outstanding := "a.net"
	final := ""
	var order []string
	for i := 0; i < n; i++ {
		order = append(order, "a.k"+itoa(i))
	}
	if isPeriod {
		var part []string
		for i := 0; i < n-1; i++ {
			part = append(part, "a.k"+itoa(i))
		}
		part = append(part, "a.currency")
		outstanding = "sum(a.net) OVER (PARTITION BY " + strings.Join(part, ", ") + " ORDER BY a.k" + itoa(n-1) + " NULLS FIRST)"
		final = " WHERE r.k" + itoa(n-1) + " IS NOT NULL"
	}
	var outs []string
	for i, o := range k.out {
		if k.fill != "" && i == len(k.out)-1 {
			o = "to_char(a.k" + itoa(n-1) + ", 'YYYY-MM-DD')"
		}
		outs = append(outs, o)
	}
	q := `WITH ` + unitsCTE(p, args) + `,
agg AS (SELECT ` + strings.Join(sel, ", ") + `, f.currency,
  COALESCE(sum(f.amount) FILTER (WHERE f.kind = 'charge' AND ` + in + `), 0) AS charged,
  COALESCE(sum(f.amount) FILTER (WHERE f.kind = 'payment' AND ` + in + `), 0) AS paid,
  COALESCE(sum(f.amount) FILTER (WHERE f.kind = 'waiver' AND ` + in + `), 0) AS waived,
  COALESCE(sum(f.amount) FILTER (WHERE f.kind = 'credit' AND ` + in + `), 0) AS credited,
  COALESCE(sum(f.amount) FILTER (WHERE f.kind = 'refund' AND ` + in + `), 0) AS refunded,
  sum(CASE WHEN f.kind IN ('charge', 'refund') THEN f.amount ELSE -f.amount END) AS net
  FROM fee_entries f ` + join + ` WHERE ` + where + ` GROUP BY ` + strings.Join(grp, ", ") + `),
r AS (SELECT a.*, ` + outstanding + ` AS outstanding FROM agg a)
SELECT ` + strings.Join(outs, ", ") + `, a.currency, a.charged::bigint, a.paid::bigint, a.waived::bigint, a.credited::bigint,
  a.refunded::bigint, a.outstanding::bigint
FROM r a` + strings.Replace(final, "r.", "a.", 1) + ` ORDER BY ` + strings.Join(order, ", ") + `, a.currency`
	money := func(name, desc string, sum bool) Column {
		return Column{Name: name, Type: TypeMoney, Description: desc, sum: sum}
	}
	return &query{sql: q, args: args, cols: append(k.cols, Column{Name: "currency", Type: TypeString},
		money("charged", "fines and fees charged in the period", true), money("paid", "payments received", true),
		money("waived", "charges forgiven by staff", true), money("credited", "charges reversed (lost items found)", true),
		money("refunded", "money given back", true),
		money("outstanding", "balance owed at the end of the period (periods) or of the range", !isPeriod))}, nil
}

func itoa(i int) string { return strconv.Itoa(i) }
