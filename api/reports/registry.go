package reports

import (
	"slices"
	"time"
)

// Report is one built-in report: a named, parameterised query.
type Report struct {
	Name        string  `json:"name"`
	Title       string  `json:"title"`
	Description string  `json:"description"`
	Params      []Param `json:"params"`
	// Columns are the columns with the default parameters (group_by
	// changes the leading key columns).
	Columns []Column `json:"columns"`
	// Chart is the SVG chart's kind (line for time series, bar), "" when
	// the report has none.
	Chart string `json:"chart,omitempty"`
	// chartValues are the columns drawn; the label is the key columns.
	chartValues []string
	build       func(p *Params) (*query, error)
}

func (r *Report) has(name string) bool {
	return slices.ContainsFunc(r.Params, func(p Param) bool { return p.Name == name })
}

var rangeParams = []Param{pFrom, pTo, pPeriod, pFiscal}

func params(groups ...[]Param) []Param {
	var out []Param
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// registry lists the built-in reports in the order GET /reports shows them.
var registry = []*Report{
	{Name: "circulation_activity", Title: "Circulation activity", Chart: "line",
		Description: "Checkouts, renewals and checkins per day, week, month or hour of day, or by branch, item type or patron category. " +
			"From the daily aggregates: periods without activity (closed days) are rows of zeros. Renewals count at the lending branch, checkins at the return branch. " +
			"Hours of day are kept per branch only (no item_type or patron_category filter with group_by=hour).",
		Params: params(rangeParams, []Param{pBranch, pItemType, pCategory,
			pGroupBy("day", "day", "week", "month", "hour", "branch", "member", "item_type", "patron_category"), pRollup}),
		chartValues: []string{"checkouts", "renewals", "checkins"}, build: circulationActivity},
	{Name: "popular_titles", Title: "Popular titles", Chart: "bar",
		Description: "The top titles by checkouts (at the lending branch) or by holds placed (at the pickup branch) in the period.",
		Params: params(rangeParams, []Param{pBranch, pItemType, pCategory,
			{Name: "by", Type: "enum", Enum: []string{"checkouts", "holds"}, Default: "checkouts", Description: "what ranks the titles"}, pLimit(20, 1000)}),
		chartValues: []string{"checkouts", "holds"}, build: popularTitles},
	{Name: "holds_ratio", Title: "Holds per copy", Chart: "bar",
		Description: "Titles with more than min_ratio active holds per copy that can circulate: purchase suggestions, with how many copies would bring them to the ratio.",
		Params: []Param{pBranch, pItemType,
			{Name: "min_ratio", Type: "number", Default: "3", Description: "holds per copy above which a title is listed"}, pLimit(100, 10000)},
		chartValues: []string{"holds", "copies"}, build: holdsRatio},
	{Name: "collection_age", Title: "Collection size and age by class", Chart: "bar",
		Description: "Items (not withdrawn) by call-number class: LC class letters or Dewey hundreds (level=hundreds), LC subclasses or Dewey tens (level=tens); with the age of their editions.",
		Params: []Param{pBranch, pItemType, pCallFrom, pCallTo, pAsOf,
			{Name: "level", Type: "enum", Enum: []string{"hundreds", "tens"}, Default: "hundreds", Description: "Dewey hundreds / LC class letter, or Dewey tens / LC subclass"}},
		chartValues: []string{"items"}, build: collectionAge},
	{Name: "turnover", Title: "Turnover", Chart: "bar",
		Description: "Checkouts in the period per item held (not withdrawn, lost or missing), by item type, branch or member library.",
		Params:      params(rangeParams, []Param{pBranch, pItemType, pCallFrom, pCallTo, pGroupBy("item_type", "item_type", "branch", "member"), pRollup}),
		chartValues: []string{"turnover"}, build: turnover},
	{Name: "dead_items", Title: "Dead items (weeding candidates)",
		Description: "Items that can circulate, held for at least `months` and not checked out in that time, in shelf order.",
		Params: []Param{pBranch, pItemType, pCallFrom, pCallTo, pAsOf,
			{Name: "months", Type: "integer", Default: "24", Description: "months without a checkout"}, pLimit(1000, 100000)},
		build: deadItems},
	{Name: "lost_missing", Title: "Lost and missing items",
		Description: "Copies lost or gone missing in the period: loans declared lost (aged to lost or at the desk) and copies whose status is lost or missing now and last changed in the period, in date order, with their price.",
		Params:      params(rangeParams, []Param{pBranch, pItemType, pCallFrom, pCallTo, pLimit(1000, 100000)}),
		build:       lostMissing},
	{Name: "items_by_status", Title: "Items by status", Chart: "bar",
		Description: "Holdings per status by branch, member library or item type.",
		Params:      []Param{pBranch, pItemType, pCallFrom, pCallTo, pGroupBy("branch", "branch", "member", "item_type"), pRollup},
		chartValues: []string{"total"}, build: itemsByStatus},
	{Name: "patron_activity", Title: "Patron activity", Chart: "bar",
		Description: "Active patrons, new registrations, borrowers and expiring cards by category, home branch or member library. " +
			"list=new|expiring|active|all lists the patrons instead (needs reports.patron_data).",
		Params: params(rangeParams, []Param{pBranch, pCategory, pGroupBy("patron_category", "patron_category", "branch", "member"), pRollup,
			{Name: "list", Type: "enum", Enum: []string{"new", "expiring", "active", "all"}, Description: "list patrons (reports.patron_data)"}, pLimit(1000, 100000)}),
		chartValues: []string{"active_patrons", "new_registrations", "borrowers"}, build: patronActivity},
	{Name: "overdues", Title: "Overdue items",
		Description: "Active loans past their due date, oldest first; patron card, name and email only for callers with reports.patron_data.",
		Params:      []Param{pBranch, pItemType, pCategory, pAsOf, pLimit(1000, 100000)},
		build:       overdues},
	{Name: "fines", Title: "Fines and fees", Chart: "bar",
		Description: "The fee ledger per period, branch or member library: charged, paid, waived, credited and refunded in the period, outstanding at its end (minor units of the currency).",
		Params:      params(rangeParams, []Param{pBranch, pGroupBy("month", "day", "week", "month", "branch", "member"), pRollup}),
		chartValues: []string{"charged", "paid", "waived"}, build: fines},
	{Name: "fund_status", Title: "Budget status by fund", Chart: "bar",
		Description: "Every fund of a fiscal year (default the current one) with its allocated, encumbered, expended and available money, " +
			"summed from the fund ledger as acquisitions does, from the entries made before the end of as_of. " +
			"With branch_id, the funds owned in that subtree.",
		Params:      []Param{pFiscalYear, pBranch, pAsOf},
		chartValues: []string{"encumbered", "expended", "available"}, build: fundStatus},
	{Name: "spending", Title: "Spending by vendor, fund and period", Chart: "bar",
		Description: "Money paid from the funds in the period (ledger expenditures less credits, in each fund's currency) per day, week or month " +
			"(every period, zeros included), vendor, fund, or vendor or fund per month. With branch_id, the funds owned in that subtree.",
		Params: params(rangeParams, []Param{pBranch, pVendor, pFund,
			pGroupBy("month", "month", "week", "day", "vendor", "fund", "vendor_month", "fund_month")}),
		chartValues: []string{"expended"}, build: spending},
	{Name: "late_orders", Title: "Open orders past due",
		Description: "Open order lines not all received whose vendor's lead time after the order day has passed on as_of (the lines acquisitions claims chase), " +
			"latest first, with the copies outstanding and what the ledger still encumbers for them. With branch_id, lines with a copy still to come for that subtree (per-copy destinations count).",
		Params: []Param{pBranch, pVendor, pAsOf, pLimit(1000, 100000)},
		build:  lateOrders},
	{Name: "cost_per_checkout", Title: "Cost per checkout of items acquired in a period", Chart: "bar",
		Description: "Copies acquired in the period (acquired_on) that have a price, with their cost and their checkouts up to as_of, " +
			"per item type, branch, member library or vendor (the order they were received on). Copies received on an order are priced at the line's net unit price.",
		Params: params(rangeParams, []Param{pBranch, pItemType, pAsOf,
			pGroupBy("item_type", "item_type", "branch", "member", "vendor")}),
		chartValues: []string{"cost_per_checkout"}, build: costPerCheckout},
	{Name: "serial_claims", Title: "Serials claims per vendor", Chart: "bar",
		Description: "Vendor performance: claims sent in the period per vendor, the issues claimed, and how many were received after all, " +
			"given up as missing (never received) or are still open. With branch_id, subscriptions at that subtree.",
		Params:      params(rangeParams, []Param{pBranch}),
		chartValues: []string{"claims_sent", "received_after_claim", "never_received"}, build: serialClaims},
	{Name: "subscriptions_expiring", Title: "Subscriptions expiring",
		Description: "Active and expiring subscriptions whose renewal date (or end, without one) is within within_days of as_of, soonest first (serials' renewal rule).",
		Params:      []Param{pBranch, pAsOf, {Name: "within_days", Type: "integer", Default: "60", Description: "days ahead of as_of"}, pLimit(1000, 100000)},
		build:       subscriptionsExpiring},
	{Name: "serial_costs", Title: "Serials cost per title per year", Chart: "bar",
		Description: "Per title and year of the subscription periods starting in the range: what the fund ledger holds for their order lines " +
			"(encumbered, expended), the issues of that year received, and the cost per issue received.",
		Params:      params(rangeParams, []Param{pBranch}),
		chartValues: []string{"expended"}, build: serialCosts},
}

func init() {
	// Document each report's default columns from its own query builder.
	for _, r := range registry {
		p := &Params{raw: map[string]string{}, tz: "UTC", loc: time.UTC, Limit: 1}
		p.From, p.To = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
		p.today = p.To
		for _, prm := range r.Params {
			if prm.Name == "group_by" {
				p.GroupBy = prm.Default
			}
		}
		q, err := r.build(p)
		if err != nil {
			panic("report " + r.Name + ": " + err.Error())
		}
		r.Columns = q.cols
	}
}

// Lookup returns the report called name.
func Lookup(name string) (*Report, bool) {
	i := slices.IndexFunc(registry, func(r *Report) bool { return r.Name == name })
	if i < 0 {
		return nil, false
	}
	return registry[i], true
}

// Reports lists the built-in reports.
func Reports() []*Report { return registry }
