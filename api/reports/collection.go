package reports

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stacks-ils/stacks/api/catalog/callnumber"
)

// itemFilters are the conditions on items i for the item type and
// call-number range parameters. The range compares shelf-order keys
// (items.call_number_sort, built by api/catalog/callnumber), so "QA76" to
// "QA77" is shelf order, not string order; call_to includes every call
// number that starts with it.
func itemFilters(p *Params, args map[string]any) string {
	var w []string
	if p.ItemType != "" {
		w, args["item_type"] = append(w, "i.item_type = @item_type"), p.ItemType
	}
	if v := p.get("call_from"); v != "" {
		w, args["call_from"] = append(w, "i.call_number_sort >= @call_from"), callnumber.Key(v)
	}
	if v := p.get("call_to"); v != "" {
		k := callnumber.Key(v)
		w, args["call_to"], args["call_to_len"] = append(w, "left(i.call_number_sort, @call_to_len) <= @call_to"), k, len(k)
	}
	if len(w) == 0 {
		return ""
	}
	return " AND " + strings.Join(w, " AND ")
}

// classify is a LATERAL producing (scheme, class) from a call number cn:
// the item's own, else the record's. LC: the class letter (hundreds) or
// the subclass letters (tens); Dewey: the hundreds ("800") or tens ("820")
// of the first three-digit class number after any collection prefix
// ("J 398.2" is 300). The tests follow callnumber.Scheme: LC with the
// number right after the letters first, then Dewey, then "QA 76.73 .G63".
func classify(cn, level string) string {
	lc, dewey := "substring(c.cn from '^[A-Z]')", "left(substring(c.cn from '[0-9]{3}'), 1) || '00'"
	if level == "tens" {
		lc, dewey = "substring(c.cn from '^[A-Z]+')", "left(substring(c.cn from '[0-9]{3}'), 2) || '0'"
	}
	return `CROSS JOIN LATERAL (SELECT upper(btrim(` + cn + `)) AS cn) c
CROSS JOIN LATERAL (SELECT CASE
    WHEN c.cn ~ '^[A-Z]{1,3}[0-9]' THEN 'lc'
    WHEN c.cn ~ '^([A-Z]+ +)*[0-9]{3}' THEN 'dewey'
    WHEN c.cn ~ '^[A-Z]{1,3} +[0-9]+(\.[0-9]+){0,1} *\.{0,1}[A-Z]+[0-9]' THEN 'lc'
    ELSE 'other' END AS scheme) s
CROSS JOIN LATERAL (SELECT CASE s.scheme WHEN 'lc' THEN ` + lc + ` WHEN 'dewey' THEN ` + dewey + `
    ELSE 'unclassified' END AS class) k`
}

// collectionAge counts the items that can circulate (not withdrawn) by
// call-number class, with the age of their editions (publication year).
func collectionAge(p *Params) (*query, error) {
	args := map[string]any{"year": p.today.Year()}
	level := p.get("level")
	if level == "" {
		level = "hundreds"
	}
	q := `WITH ` + unitsCTE(p, args) + `
SELECT s.scheme, k.class, count(*)::bigint, count(b.pub_year)::bigint,
  round(avg(CAST(@year AS integer) - b.pub_year), 1)::float8,
  min(b.pub_year)::bigint, (percentile_disc(0.5) WITHIN GROUP (ORDER BY b.pub_year))::bigint, max(b.pub_year)::bigint
FROM items i JOIN units u ON u.id = i.branch_id JOIN bibs b ON b.id = i.bib_id
` + classify("COALESCE(NULLIF(i.call_number, ''), b.call_number)", level) + `
WHERE i.status <> 'withdrawn'` + itemFilters(p, args) + `
GROUP BY 1, 2 ORDER BY s.scheme = 'other', s.scheme, k.class`
	return &query{sql: q, args: args, cols: []Column{
		{Name: "scheme", Type: TypeString, Description: "lc, dewey or other"},
		{Name: "class", Type: TypeString, Description: "LC class letter(s) or Dewey hundreds/tens; unclassified"},
		{Name: "items", Type: TypeInteger, sum: true},
		{Name: "items_with_year", Type: TypeInteger, Description: "items whose record has a publication year", sum: true},
		{Name: "average_age_years", Type: TypeNumber, Description: "as_of year minus publication year, averaged"},
		{Name: "oldest_year", Type: TypeInteger}, {Name: "median_year", Type: TypeInteger}, {Name: "newest_year", Type: TypeInteger},
	}}, nil
}

// turnover is checkouts in the period per item held: checkouts from the
// daily aggregate (at the lending branch), items from the current holdings
// that can circulate (not withdrawn, lost or missing).
func turnover(p *Params) (*query, error) {
	args := map[string]any{"from": date(p.From), "to": date(p.To)}
	kc, err := dimension(p.GroupBy, circSource, p, args)
	if err != nil {
		return nil, err
	}
	ki, _ := dimension(p.GroupBy, source{itemType: "i.item_type"}, p, args)
	selC, group := kc.aggSelect()
	selI, _ := ki.aggSelect()
	var using []string
	for i := range kc.exprs {
		using = append(using, fmt.Sprintf("k%d", i))
	}
	cw := ""
	if p.ItemType != "" {
		cw = " AND d.item_type = @item_type"
	}
	_, order := kc.from()
	q := `WITH ` + unitsCTE(p, args) + `,
c AS (SELECT ` + selC + `, sum(d.checkouts) AS n FROM ` + dailyRows + ` d JOIN units u ON u.id = d.branch_id
  WHERE d.day BETWEEN CAST(@from AS date) AND CAST(@to AS date)` + cw + ` GROUP BY ` + group + `),
i AS (SELECT ` + selI + `, count(*) AS n FROM items i JOIN units u ON u.id = i.branch_id
  WHERE i.status NOT IN ('withdrawn', 'lost', 'missing')` + itemFilters(p, args) + ` GROUP BY ` + group + `),
agg AS (SELECT ` + strings.Join(using, ", ") + `, COALESCE(i.n, 0) AS items, COALESCE(c.n, 0) AS checkouts
  FROM i FULL JOIN c USING (` + strings.Join(using, ", ") + `))
SELECT ` + strings.Join(kc.out, ", ") + `, a.items::bigint, a.checkouts::bigint,
  CASE WHEN a.items = 0 THEN NULL ELSE round(a.checkouts::numeric / a.items, 2)::float8 END
FROM agg a ORDER BY ` + order
	return &query{sql: q, args: args, cols: append(kc.cols, Column{Name: "items", Type: TypeInteger, sum: true},
		Column{Name: "checkouts", Type: TypeInteger, sum: true},
		Column{Name: "turnover", Type: TypeNumber, Description: "checkouts per item; null without items"})}, nil
}

// deadItems lists weeding candidates: items on the shelf (not out, lost,
// missing or withdrawn), held since before the cut-off (months before
// as_of) and not checked out since.
func deadItems(p *Params) (*query, error) {
	months := 24
	if v := p.get("months"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 600 {
			return nil, badParam("months", "months must be a whole number from 1 to 600")
		}
		months = n
	}
	cutoff := p.today.AddDate(0, -months, 0)
	args := map[string]any{"cutoff": cutoff, "cutoff_day": date(cutoff), "tz": p.tz, "limit": p.Limit}
	q := `WITH ` + unitsCTE(p, args) + `
SELECT i.id::text, i.barcode, b.title, COALESCE(NULLIF(i.call_number, ''), b.call_number), u.code, i.item_type, i.status,
  to_char(lc.at AT TIME ZONE CAST(@tz AS text), 'YYYY-MM-DD'),
  to_char(COALESCE(i.acquired_on, (i.created_at AT TIME ZONE CAST(@tz AS text))::date), 'YYYY-MM-DD')
FROM items i JOIN units u ON u.id = i.branch_id JOIN bibs b ON b.id = i.bib_id
LEFT JOIN LATERAL (SELECT max(l.checked_out_at) AS at FROM loans l WHERE l.item_id = i.id) lc ON true
WHERE i.status NOT IN ('withdrawn', 'lost', 'missing', 'checked_out')
  AND COALESCE(i.acquired_on, (i.created_at AT TIME ZONE CAST(@tz AS text))::date) < CAST(@cutoff_day AS date)
  AND (lc.at IS NULL OR lc.at < @cutoff)` + itemFilters(p, args) + `
ORDER BY i.call_number_sort, i.barcode LIMIT @limit`
	return &query{sql: q, args: args, cols: []Column{
		{Name: "item_id", Type: TypeID}, {Name: "barcode", Type: TypeString}, {Name: "title", Type: TypeString},
		{Name: "call_number", Type: TypeString}, {Name: "branch_code", Type: TypeString}, {Name: "item_type", Type: TypeString},
		{Name: "status", Type: TypeString},
		{Name: "last_checkout", Type: TypeDate, Description: "null: never checked out"},
		{Name: "acquired", Type: TypeDate, Description: "acquired_on, else the day the item was added"},
	}}, nil
}

var itemStatuses = []string{"available", "checked_out", "in_transit", "on_hold_shelf", "lost", "missing", "damaged", "withdrawn", "in_processing"}

// itemsByStatus counts the holdings per status, by branch, member library
// or item type.
func itemsByStatus(p *Params) (*query, error) {
	args := map[string]any{}
	k, err := dimension(p.GroupBy, source{itemType: "i.item_type"}, p, args)
	if err != nil {
		return nil, err
	}
	sel, group := k.aggSelect()
	var counts, outs []string
	cols := k.cols
	for _, st := range itemStatuses {
		counts = append(counts, fmt.Sprintf("count(*) FILTER (WHERE i.status = '%s') AS %s", st, st))
		outs = append(outs, "a."+st+"::bigint")
		cols = append(cols, Column{Name: st, Type: TypeInteger, sum: true})
	}
	cols = append(cols, Column{Name: "total", Type: TypeInteger, sum: true})
	_, order := k.from()
	q := `WITH ` + unitsCTE(p, args) + `,
agg AS (SELECT ` + sel + `, ` + strings.Join(counts, ", ") + `, count(*) AS total
  FROM items i JOIN units u ON u.id = i.branch_id WHERE true` + itemFilters(p, args) + ` GROUP BY ` + group + `)
SELECT ` + strings.Join(k.out, ", ") + `, ` + strings.Join(outs, ", ") + `, a.total::bigint FROM agg a ORDER BY ` + order
	return &query{sql: q, args: args, cols: cols}, nil
}

// lostMissing lists the copies lost or gone missing in the period: a loan
// declared lost (at its lost_at: aged to lost or marked at the desk, the
// patron billed) and copies whose status is lost or missing now and last
// changed in the period (marked by staff: inventory, shelf checks). A copy
// counts once, at its loan's loss when it has one.
func lostMissing(p *Params) (*query, error) {
	args := map[string]any{"start": p.start(), "end": p.end(), "tz": p.tz, "limit": p.Limit}
	q := `WITH ` + unitsCTE(p, args) + `,
ev AS (
  (SELECT DISTINCT ON (l.item_id) l.item_id, 'lost' AS how, l.lost_at AS at, 'loan' AS via
  FROM loans l WHERE l.lost_at >= @start AND l.lost_at < @end ORDER BY l.item_id, l.lost_at)
  UNION ALL
  SELECT i.id, i.status, i.updated_at, 'item' FROM items i
  WHERE i.status IN ('lost', 'missing') AND i.updated_at >= @start AND i.updated_at < @end
    AND NOT EXISTS (SELECT 1 FROM loans l WHERE l.item_id = i.id AND l.lost_at >= @start AND l.lost_at < @end))
SELECT i.id::text, i.barcode, b.title, COALESCE(NULLIF(i.call_number, ''), b.call_number), u.code, i.item_type, ev.how, ev.via,
  to_char(ev.at AT TIME ZONE CAST(@tz AS text), 'YYYY-MM-DD'), i.status, i.price_amount, COALESCE(i.price_currency, '')
FROM ev JOIN items i ON i.id = ev.item_id JOIN units u ON u.id = i.branch_id JOIN bibs b ON b.id = i.bib_id
WHERE true` + itemFilters(p, args) + `
ORDER BY ev.at, i.barcode LIMIT @limit`
	return &query{sql: q, args: args, cols: []Column{
		{Name: "item_id", Type: TypeID}, {Name: "barcode", Type: TypeString}, {Name: "title", Type: TypeString},
		{Name: "call_number", Type: TypeString}, {Name: "branch_code", Type: TypeString}, {Name: "item_type", Type: TypeString},
		{Name: "event", Type: TypeString, Description: "lost or missing"},
		{Name: "recorded_by", Type: TypeString, Description: "loan: a loan declared lost; item: the copy's status set by staff"},
		{Name: "on", Type: TypeDate, Description: "the local day of the loss, or of the copy's last change"},
		{Name: "status_now", Type: TypeString, Description: "the copy's status today (a lost copy found again is no longer lost)"},
		{Name: "price", Type: TypeMoney, Description: "the copy's price, when known"},
		{Name: "currency", Type: TypeString},
	}}, nil
}
