package reports

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/tz"
	"github.com/stacks-ils/stacks/tenants"
)

// Param documents one parameter of a report.
type Param struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"` // date | period | id | string | integer | number | enum
	Description string   `json:"description"`
	Default     string   `json:"default,omitempty"`
	Enum        []string `json:"enum,omitempty"`
	Max         int      `json:"maximum,omitempty"`
}

// Periods are the relative date ranges a schedule can keep: each resolves
// against the library's local date when the report runs.
var Periods = []string{"today", "yesterday", "last_7_days", "last_30_days", "this_week", "last_week",
	"this_month", "last_month", "this_year", "last_year", "year_to_date", "fiscal_year_to_date", "last_fiscal_year"}

// Shared parameter documentation.
var (
	pFrom     = Param{Name: "from", Type: "date", Description: "first day, inclusive, library-local (YYYY-MM-DD)"}
	pTo       = Param{Name: "to", Type: "date", Description: "last day, inclusive, library-local (YYYY-MM-DD); default today"}
	pPeriod   = Param{Name: "period", Type: "enum", Enum: Periods, Description: "a relative range instead of from/to, resolved at run time"}
	pFiscal   = Param{Name: "fiscal_year_start", Type: "integer", Default: "7", Description: "month (1-12) the fiscal year starts, for fiscal_year_to_date and last_fiscal_year"}
	pBranch   = Param{Name: "branch_id", Type: "id", Description: "an org unit: its whole subtree (consortium, member library or branch)"}
	pItemType = Param{Name: "item_type", Type: "string", Description: "item type code"}
	pCategory = Param{Name: "patron_category", Type: "string", Description: "patron category code"}
	pRollup   = Param{Name: "rollup", Type: "enum", Enum: []string{"member"}, Description: "member: a per-member-library breakdown (consortia) in the same query"}
	pCallFrom = Param{Name: "call_from", Type: "string", Description: "first call number, in shelf order (LC or Dewey)"}
	pCallTo   = Param{Name: "call_to", Type: "string", Description: "last call number, in shelf order; call numbers that start with it are included"}
	pAsOf     = Param{Name: "as_of", Type: "date", Description: "the day the report is as of; default today"}
)

func pLimit(def, max int) Param {
	return Param{Name: "limit", Type: "integer", Default: strconv.Itoa(def), Max: max, Description: "at most this many rows"}
}

func pGroupBy(def string, opts ...string) Param {
	return Param{Name: "group_by", Type: "enum", Enum: opts, Default: def, Description: "what each row counts"}
}

// formatParams are the output parameters every report accepts.
var formatParams = []string{"format", "bom"}

// Params are a report's parsed and checked parameters.
type Params struct {
	raw      map[string]string
	tz       string
	loc      *time.Location
	today    time.Time // local midnight of the run's day
	From, To time.Time // local midnights; To inclusive
	hasRange bool
	Branch   *unit
	ItemType string
	Category string
	GroupBy  string
	Rollup   bool
	Limit    int
	// asOfInstant is now, or the end of the as_of day.
	asOfInstant time.Time
	// patronData: the caller may see patrons (reports.patron_data).
	patronData bool
}

// unit is an org unit a report is limited to.
type unit struct {
	ID   uuid.UUID
	Code string
	Path tenants.UUIDs
}

// start and end bound the period as instants: [start, end).
func (p *Params) start() time.Time { return p.From }
func (p *Params) end() time.Time   { return p.To.AddDate(0, 0, 1) }

func (p *Params) get(name string) string { return p.raw[name] }

func date(t time.Time) string { return t.Format(time.DateOnly) }

// echo is the params object of the JSON answer: what the report ran with.
func (p *Params) echo(r *Report) map[string]any {
	out := map[string]any{}
	for k, v := range p.raw {
		if !slices.Contains(formatParams, k) {
			out[k] = v
		}
	}
	if p.hasRange {
		out["from"], out["to"] = date(p.From), date(p.To)
	}
	if p.GroupBy != "" {
		out["group_by"] = p.GroupBy
	}
	if r.has("limit") {
		out["limit"] = p.Limit
	}
	out["timezone"] = p.tz
	return out
}

func badParam(name, msg string) error {
	return errs.E(errs.BadRequest, "bad_query", msg).WithDetails(map[string]any{"field": name})
}

// parseParams checks raw against r's parameters and resolves dates in the
// library's time zone at now.
func (s *Service) parseParams(ctx context.Context, r *Report, raw map[string]string, now time.Time) (*Params, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	for k := range raw {
		if !r.has(k) && !slices.Contains(formatParams, k) {
			names := make([]string, 0, len(r.Params))
			for _, p := range r.Params {
				names = append(names, p.Name)
			}
			return nil, badParam(k, fmt.Sprintf("%s takes no parameter %q; its parameters are %s", r.Name, k, strings.Join(names, ", ")))
		}
	}
	p := &Params{raw: raw}
	if err := db.Raw("SELECT timezone FROM tenants WHERE id = app.current_tenant_id()").Scan(&p.tz).Error; err != nil {
		return nil, fmt.Errorf("library time zone: %w", err)
	}
	if p.loc, err = tz.Load(p.tz); err != nil {
		p.tz, p.loc = "UTC", time.UTC
	}
	local := now.In(p.loc)
	p.today = time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, p.loc)
	p.asOfInstant = now
	if v := raw["as_of"]; v != "" {
		d, err := p.parseDate("as_of", v)
		if err != nil {
			return nil, err
		}
		p.today, p.asOfInstant = d, d.AddDate(0, 0, 1)
	}
	if pr := tenants.PrincipalFrom(ctx); pr != nil {
		p.patronData = pr.Has(tenants.PermPatronData)
	}
	if r.has("from") {
		if err := p.parseRange(r); err != nil {
			return nil, err
		}
	}
	if v := raw["branch_id"]; v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return nil, badParam("branch_id", "branch_id must be an org unit id")
		}
		var us []unit
		if err := db.Raw("SELECT id, code, path FROM branches WHERE id = ?", id).Scan(&us).Error; err != nil {
			return nil, fmt.Errorf("branch: %w", err)
		}
		if len(us) == 0 {
			return nil, errs.Field("branch_id", "invalid_branch", "branch_id names no org unit of this library")
		}
		p.Branch = &us[0]
	}
	if err := checkRecordIDs(db, raw); err != nil {
		return nil, err
	}
	p.ItemType, p.Category = raw["item_type"], raw["patron_category"]
	p.Rollup = raw["rollup"] == "member"
	if v := raw["rollup"]; v != "" && v != "member" {
		return nil, badParam("rollup", `rollup must be "member"`)
	}
	for _, prm := range r.Params {
		switch prm.Name {
		case "group_by":
			p.GroupBy = prm.Default
			if v := raw["group_by"]; v != "" {
				if !slices.Contains(prm.Enum, v) {
					return nil, badParam("group_by", fmt.Sprintf("group_by must be one of %s", strings.Join(prm.Enum, ", ")))
				}
				p.GroupBy = v
			}
		case "limit":
			def, _ := strconv.Atoi(prm.Default)
			max := prm.Max
			p.Limit = def
			if v := raw["limit"]; v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > max {
					return nil, badParam("limit", fmt.Sprintf("limit must be a whole number from 1 to %d", max))
				}
				p.Limit = n
			}
		default:
			if prm.Type == "enum" && raw[prm.Name] != "" && prm.Name != "group_by" && !slices.Contains(prm.Enum, raw[prm.Name]) {
				return nil, badParam(prm.Name, fmt.Sprintf("%s must be one of %s", prm.Name, strings.Join(prm.Enum, ", ")))
			}
		}
	}
	return p, nil
}

func (p *Params) parseDate(name, v string) (time.Time, error) {
	d, err := time.ParseInLocation(time.DateOnly, v, p.loc)
	if err != nil {
		return time.Time{}, badParam(name, name+" must be a date (YYYY-MM-DD)")
	}
	return d, nil
}

// parseRange sets From and To from from/to or a relative period. Without
// either, the range is the last 30 days.
func (p *Params) parseRange(r *Report) error {
	p.hasRange = true
	if v := p.raw["period"]; v != "" {
		if p.raw["from"] != "" || p.raw["to"] != "" {
			return badParam("period", "send either period or from/to, not both")
		}
		fy := 7
		if v := p.raw["fiscal_year_start"]; v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 12 {
				return badParam("fiscal_year_start", "fiscal_year_start must be a month number from 1 to 12")
			}
			fy = n
		}
		from, to, ok := resolvePeriod(v, p.today, fy)
		if !ok {
			return badParam("period", "period must be one of "+strings.Join(Periods, ", "))
		}
		p.From, p.To = from, to
		return nil
	}
	p.To = p.today
	if v := p.raw["to"]; v != "" {
		d, err := p.parseDate("to", v)
		if err != nil {
			return err
		}
		p.To = d
	}
	p.From = p.To.AddDate(0, 0, -29)
	if v := p.raw["from"]; v != "" {
		d, err := p.parseDate("from", v)
		if err != nil {
			return err
		}
		p.From = d
	}
	if p.From.After(p.To) {
		return errs.Field("from", "invalid_range", "from must be on or before to")
	}
	if p.To.Sub(p.From) > 3660*24*time.Hour {
		return errs.Field("from", "range_too_long", "a report covers at most ten years")
	}
	return nil
}

// resolvePeriod turns a relative period into [from, to] (inclusive local
// days) as seen on day today; fyStart is the fiscal year's first month.
func resolvePeriod(name string, today time.Time, fyStart int) (from, to time.Time, ok bool) {
	y, m, _ := today.Date()
	loc := today.Location()
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, loc) }
	monday := today.AddDate(0, 0, -((int(today.Weekday()) + 6) % 7))
	fy := day(y, time.Month(fyStart), 1)
	if fy.After(today) {
		fy = fy.AddDate(-1, 0, 0)
	}
	switch name {
	case "today":
		return today, today, true
	case "yesterday":
		d := today.AddDate(0, 0, -1)
		return d, d, true
	case "last_7_days":
		return today.AddDate(0, 0, -7), today.AddDate(0, 0, -1), true
	case "last_30_days":
		return today.AddDate(0, 0, -30), today.AddDate(0, 0, -1), true
	case "this_week":
		return monday, today, true
	case "last_week":
		return monday.AddDate(0, 0, -7), monday.AddDate(0, 0, -1), true
	case "this_month":
		return day(y, m, 1), today, true
	case "last_month":
		first := day(y, m, 1)
		return first.AddDate(0, -1, 0), first.AddDate(0, 0, -1), true
	case "this_year", "year_to_date":
		return day(y, 1, 1), today, true
	case "last_year":
		return day(y-1, 1, 1), day(y-1, 12, 31), true
	case "fiscal_year_to_date":
		return fy, today, true
	case "last_fiscal_year":
		return fy.AddDate(-1, 0, 0), fy.AddDate(0, 0, -1), true
	}
	return time.Time{}, time.Time{}, false
}
