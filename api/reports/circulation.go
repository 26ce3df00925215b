package reports

import (
	"strconv"
	"strings"
	"time"

	"github.com/stacks-ils/stacks/api/errs"
)

var circSource = source{day: "d.day", hour: "d.hour", itemType: "d.item_type", category: "d.patron_category"}

// dailyRows and hourlyRows are the complete circulation counts: the
// aggregates, which hold every event before the library's rollup
// watermark, and the events since, read live (app.circ_live, one row per
// event; migrations/0018_circ_rollup.sql). Reports sum them like any rows.
const (
	dailyRows = `(SELECT day, branch_id, item_type, patron_category, checkouts, renewals, checkins FROM circ_daily
  UNION ALL SELECT local::date, branch_id, item_type, patron_category, checkouts, renewals, checkins FROM app.circ_live())`
	hourlyRows = `(SELECT day, hour, branch_id, checkouts, renewals, checkins FROM circ_hourly
  UNION ALL SELECT local::date, extract(hour FROM local)::smallint, branch_id, checkouts, renewals, checkins FROM app.circ_live())`
)

// circulationActivity counts checkouts, renewals and checkins from the
// daily aggregate: one row per period (every period of the range, zero when
// nothing happened, closed days included), or per branch, member library,
// item type, patron category or hour of day.
func circulationActivity(p *Params) (*query, error) {
	args := map[string]any{"from": date(p.From), "to": date(p.To)}
	k, err := dimension(p.GroupBy, circSource, p, args)
	if err != nil {
		return nil, err
	}
	where := []string{"d.day BETWEEN CAST(@from AS date) AND CAST(@to AS date)"}
	table := dailyRows
	if p.GroupBy == "hour" {
		// Hours are kept per day and branch only (see the migration).
		table = hourlyRows
		if p.ItemType != "" || p.Category != "" {
			return nil, errs.Field("group_by", "hour_by_branch_only",
				"counts by hour of day are kept per branch: leave out item_type and patron_category, or group by something else")
		}
	}
	if p.ItemType != "" {
		where, args["item_type"] = append(where, "d.item_type = @item_type"), p.ItemType
	}
	if p.Category != "" {
		where, args["category"] = append(where, "d.patron_category = @category"), p.Category
	}
	sel, group := k.aggSelect()
	from, order := k.from()
	q := `WITH ` + unitsCTE(p, args) + `,
agg AS (SELECT ` + sel + `, sum(d.checkouts) AS checkouts, sum(d.renewals) AS renewals, sum(d.checkins) AS checkins
  FROM ` + table + ` d JOIN units u ON u.id = d.branch_id
  WHERE ` + strings.Join(where, " AND ") + `
  GROUP BY ` + group + `)
SELECT ` + strings.Join(k.out, ", ") + `, COALESCE(a.checkouts, 0)::bigint, COALESCE(a.renewals, 0)::bigint, COALESCE(a.checkins, 0)::bigint
FROM ` + from + ` ORDER BY ` + order
	return &query{sql: q, args: args, cols: append(k.cols, sumCols("checkouts", "renewals", "checkins")...)}, nil
}

// loanFilters are the conditions on loans l (joined to units u) for the
// item type and patron category parameters.
func loanFilters(p *Params, args map[string]any) string {
	var w []string
	if p.ItemType != "" {
		w, args["item_type"] = append(w, "l.item_type = @item_type"), p.ItemType
	}
	if p.Category != "" {
		w, args["category"] = append(w, "l.patron_category = @category"), p.Category
	}
	if len(w) == 0 {
		return ""
	}
	return " AND " + strings.Join(w, " AND ")
}

var titleCols = []Column{
	{Name: "rank", Type: TypeInteger},
	{Name: "bib_id", Type: TypeID},
	{Name: "title", Type: TypeString},
	{Name: "author", Type: TypeString, Description: "first author"},
	{Name: "checkouts", Type: TypeInteger, Description: "checkouts in the period", sum: true},
	{Name: "holds", Type: TypeInteger, Description: "holds placed in the period", sum: true},
}

// popularTitles ranks titles by checkouts (or holds placed) in the period.
// Checkouts count at the lending branch, holds at the pickup branch.
func popularTitles(p *Params) (*query, error) {
	args := map[string]any{"start": p.start(), "end": p.end(), "limit": p.Limit}
	units := unitsCTE(p, args)
	lf := loanFilters(p, args)
	// Without a branch the units join is left out: counting the
	// loans_checked_out_idx entries (which carry bib_id) is then an
	// index-only scan.
	lj, hj := "", ""
	if p.Branch != nil {
		lj, hj = " JOIN units u ON u.id = l.branch_id", " JOIN units u ON u.id = h.pickup_branch_id"
	}
	co := `SELECT l.bib_id, count(*) AS n FROM loans l` + lj + `
  WHERE l.checked_out_at >= @start AND l.checked_out_at < @end` + lf + ` GROUP BY l.bib_id`
	coTop := co
	if p.Branch == nil && lf == "" && titleMonths(p, args) {
		// Without filters, the monthly title aggregate answers.
		co = `SELECT x.bib_id, sum(x.n) AS n FROM app.title_checkouts(` + titleArgs + `) x GROUP BY x.bib_id`
		coTop = `SELECT x.title AS bib_id, x.total AS n FROM app.top_titles(` + titleArgs + `, CAST(@limit AS integer)) x`
	}
	ho := `SELECT h.bib_id, count(*) AS n FROM holds h` + hj + `
  WHERE h.requested_at >= @start AND h.requested_at < @end GROUP BY h.bib_id`
	rank, otherSQL := "c", ho
	if p.get("by") == "holds" {
		rank, otherSQL = "h", co
	}
	first := coTop
	if rank == "h" {
		first = ho
	}
	q := `WITH ` + units + `,
top AS (SELECT bib_id, n FROM (` + first + `) x ORDER BY n DESC, bib_id LIMIT @limit),
other AS (SELECT y.bib_id, y.n FROM (` + otherSQL + `) y WHERE y.bib_id IN (SELECT bib_id FROM top))
SELECT row_number() OVER (ORDER BY t.n DESC, b.title_sort, t.bib_id), t.bib_id::text, b.title, COALESCE(b.authors[1], ''),
  ` + pick(rank == "c", "t.n", "COALESCE(o.n, 0)") + `::bigint, ` + pick(rank == "h", "t.n", "COALESCE(o.n, 0)") + `::bigint
FROM top t JOIN bibs b ON b.id = t.bib_id LEFT JOIN other o ON o.bib_id = t.bib_id
ORDER BY 1`
	return &query{sql: q, args: args, cols: titleCols}, nil
}

// titleMonths sets the arguments of app.title_checkouts and app.top_titles
// (migrations/0018_circ_rollup.sql) for the period: its whole months and
// their instants. False when the period holds no whole month (the loans
// index alone is then as fast).
func titleMonths(p *Params, args map[string]any) bool {
	first := p.start()
	if first.Day() != 1 {
		first = time.Date(first.Year(), first.Month()+1, 1, 0, 0, 0, 0, first.Location())
	}
	end := p.end()
	end = time.Date(end.Year(), end.Month(), 1, 0, 0, 0, 0, end.Location())
	if !first.Before(end) {
		return false
	}
	args["mlo"], args["mhi"], args["mfirst"], args["mend"] = first, end, date(first), date(end)
	return true
}

const titleArgs = `@start, @end, @mlo, @mhi, CAST(@mfirst AS date), CAST(@mend AS date)`

func pick(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

// holdsRatio lists titles with more than min_ratio active holds per
// available copy: purchase suggestions. Copies that can still circulate
// (not withdrawn, lost, missing or damaged) at units of the subtree count;
// holds count by pickup branch.
func holdsRatio(p *Params) (*query, error) {
	ratio := 3.0
	if v := p.get("min_ratio"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1000 {
			return nil, badParam("min_ratio", "min_ratio must be a number from 0 to 1000")
		}
		ratio = f
	}
	args := map[string]any{"ratio": ratio, "limit": p.Limit}
	itf := ""
	if p.ItemType != "" {
		itf, args["item_type"] = " AND i.item_type = @item_type", p.ItemType
	}
	q := `WITH ` + unitsCTE(p, args) + `,
h AS (SELECT h.bib_id, count(*) AS n FROM holds h JOIN units u ON u.id = h.pickup_branch_id
  WHERE h.status IN ('pending', 'in_transit', 'waiting') GROUP BY h.bib_id),
c AS (SELECT i.bib_id, count(*) AS n FROM items i JOIN units u ON u.id = i.branch_id
  WHERE i.bib_id IN (SELECT bib_id FROM h) AND i.status NOT IN ('withdrawn', 'lost', 'missing', 'damaged')` + itf + `
  GROUP BY i.bib_id)
SELECT h.bib_id::text, b.title, COALESCE(b.authors[1], ''), h.n::bigint, COALESCE(c.n, 0)::bigint,
  CASE WHEN COALESCE(c.n, 0) = 0 THEN NULL ELSE round(h.n::numeric / c.n, 2)::float8 END,
  GREATEST(ceil(h.n / CAST(@ratio AS float8))::bigint - COALESCE(c.n, 0), 0)
FROM h JOIN bibs b ON b.id = h.bib_id LEFT JOIN c ON c.bib_id = h.bib_id
WHERE h.n > CAST(@ratio AS float8) * COALESCE(c.n, 0)
ORDER BY COALESCE(c.n, 0) = 0 DESC, h.n::numeric / NULLIF(c.n, 0) DESC NULLS FIRST, h.n DESC, b.title_sort
LIMIT @limit`
	return &query{sql: q, args: args, cols: []Column{
		{Name: "bib_id", Type: TypeID}, {Name: "title", Type: TypeString}, {Name: "author", Type: TypeString},
		{Name: "holds", Type: TypeInteger, Description: "active holds (pending, in transit, waiting)", sum: true},
		{Name: "copies", Type: TypeInteger, Description: "copies that can circulate", sum: true},
		{Name: "holds_per_copy", Type: TypeNumber, Description: "null when there is no copy"},
		{Name: "copies_to_buy", Type: TypeInteger, Description: "copies to add to get to min_ratio holds per copy", sum: true},
	}}, nil
}
