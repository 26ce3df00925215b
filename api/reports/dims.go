package reports

import (
	"fmt"
	"strings"
)

// query is a report's statement with its named arguments and columns.
type query struct {
	sql  string
	args map[string]any
	cols []Column
}

// unitsCTE lists the org units with their member library: the shallowest
// unit of kind library on the unit's path, or the root when there is none
// (a branch directly under a consortium, or the consortium itself). With a
// branch parameter only that unit's subtree is listed, so joining units
// limits any report to the subtree.
func unitsCTE(p *Params, args map[string]any) string {
	where := ""
	if p.Branch != nil {
		args["branch"] = p.Branch.ID
		where = " WHERE CAST(@branch AS uuid) = ANY(b.path)"
	}
	return `units AS (SELECT b.id, b.code, b.name, b.path, m.id AS member_id, m.code AS member_code, m.name AS member_name
  FROM branches b CROSS JOIN LATERAL (SELECT x.id, x.code, x.name FROM branches x WHERE x.id = ANY(b.path)
    ORDER BY (x.kind = 'library') DESC, cardinality(x.path) LIMIT 1) m` + where + `)`
}

// source says how a report's rows express each dimension; the org unit is
// always the units row u joined to the source.
type source struct {
	day, hour, itemType, category string
}

// key is the grouping of a report: the expressions grouped by, the columns
// they become, and how to fill periods without rows.
type key struct {
	exprs []string // k0, k1, ... in the aggregate
	cols  []Column
	out   []string // output expressions over a.k0, a.k1, ...
	// fill: a FROM item producing every period (g.k) when the key is one
	// period; "" when rows come only from data.
	fill string
}

var memberCols = []Column{
	{Name: "member_id", Type: TypeID, Description: "member library (consortium roll-up)"},
	{Name: "member_code", Type: TypeString}, {Name: "member_name", Type: TypeString},
}

// dimension builds the key for group_by g over src, with the member library
// first when the report is rolled up.
func dimension(g string, src source, p *Params, args map[string]any) (key, error) {
	var k key
	// Org units group by code first, so rows come in code order.
	if p.Rollup && g != "member" {
		k.exprs = append(k.exprs, "u.member_code", "u.member_id", "u.member_name")
		k.cols = append(k.cols, memberCols...)
		k.out = append(k.out, "a.k1::text", "a.k0", "a.k2")
	}
	n := len(k.exprs)
	ref := func(i int) string { return fmt.Sprintf("a.k%d", n+i) }
	period := func(name, trunc, step string) {
		expr := src.day
		if trunc != "" {
			expr = fmt.Sprintf("date_trunc('%s', %s)::date", trunc, src.day)
		}
		k.exprs = append(k.exprs, expr)
		desc := "the library's local date"
		if trunc != "" {
			desc = "first day of the " + name
		}
		k.cols = append(k.cols, Column{Name: name, Type: TypeDate, Description: desc})
		if p.Rollup {
			k.out = append(k.out, "to_char("+ref(0)+", 'YYYY-MM-DD')")
			return
		}
		args["from"], args["to"] = date(p.From), date(p.To)
		start := "CAST(@from AS date)"
		if trunc != "" {
			start = fmt.Sprintf("date_trunc('%s', CAST(@from AS date))", trunc)
		}
		k.fill = fmt.Sprintf("generate_series(%s, CAST(@to AS date), interval '%s') AS g(k)", start, step)
		k.out = append(k.out, "to_char(g.k, 'YYYY-MM-DD')")
	}
	switch g {
	case "day":
		period("day", "", "1 day")
	case "week":
		period("week", "week", "1 week")
	case "month":
		period("month", "month", "1 month")
	case "hour":
		k.exprs = append(k.exprs, src.hour)
		k.cols = append(k.cols, Column{Name: "hour", Type: TypeInteger, Description: "local hour of day (0-23)"})
		if p.Rollup {
			k.out = append(k.out, ref(0))
		} else {
			k.fill = "generate_series(0, 23) AS g(k)"
			k.out = append(k.out, "g.k")
		}
	case "branch":
		k.exprs = append(k.exprs, "u.code", "u.id", "u.name")
		k.cols = append(k.cols, Column{Name: "branch_id", Type: TypeID}, Column{Name: "branch_code", Type: TypeString}, Column{Name: "branch_name", Type: TypeString})
		k.out = append(k.out, ref(1)+"::text", ref(0), ref(2))
	case "member":
		k.exprs = append(k.exprs, "u.member_code", "u.member_id", "u.member_name")
		k.cols = append(k.cols, memberCols...)
		k.out = append(k.out, ref(1)+"::text", ref(0), ref(2))
	case "item_type":
		k.exprs = append(k.exprs, src.itemType)
		k.cols = append(k.cols, Column{Name: "item_type", Type: TypeString})
		k.out = append(k.out, ref(0))
	case "patron_category":
		k.exprs = append(k.exprs, src.category)
		k.cols = append(k.cols, Column{Name: "patron_category", Type: TypeString})
		k.out = append(k.out, ref(0))
	default:
		return k, badParam("group_by", "cannot group by "+g)
	}
	return k, nil
}

// aggSelect is "e0 AS k0, e1 AS k1, ..." and its GROUP BY list.
func (k key) aggSelect() (sel, group string) {
	var s, g []string
	for i, e := range k.exprs {
		s = append(s, fmt.Sprintf("%s AS k%d", e, i))
		g = append(g, fmt.Sprint(i+1))
	}
	return strings.Join(s, ", "), strings.Join(g, ", ")
}

// from is the final FROM clause: every period left-joined to the data, or
// the data alone; and the ORDER BY.
func (k key) from() (from, order string) {
	if k.fill != "" {
		return k.fill + " LEFT JOIN agg a ON a.k0 = g.k", "g.k"
	}
	var o []string
	for i := range k.exprs {
		o = append(o, fmt.Sprintf("a.k%d", i))
	}
	return "agg a", strings.Join(o, ", ")
}

// sumCols are integer columns added into the totals.
func sumCols(names ...string) []Column {
	cs := make([]Column, len(names))
	for i, n := range names {
		cs[i] = Column{Name: n, Type: TypeInteger, sum: true}
	}
	return cs
}
