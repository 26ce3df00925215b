package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/tz"
	"github.com/stacks-ils/stacks/tenants"
)

// The desk answers in milliseconds, and on a small server every round trip
// to the database costs about as much as the work it carries. DeskPolicy
// therefore reads a transaction's rule and its branch's calendar in one
// statement: the rule row, the ancestors' weekly hours (when the branch has
// none of its own) and the closed days as JSON columns.

// precedenceOrder sorts candidate rules, the winner first (see the package
// comment).
const precedenceOrder = `(CASE WHEN r.item_type IS NULL THEN 0 ELSE 4 END
              + CASE WHEN r.patron_category IS NULL THEN 0 ELSE 2 END
              + CASE WHEN r.branch_id IS NULL THEN 0 ELSE 1 END) DESC,
               array_position(CAST(@rpath AS uuid[]), r.branch_id) DESC NULLS LAST`

// deskPolicyTail is the calendar part of the desk statement.
const deskPolicyTail = `,
  (SELECT json_agg(json_build_object('id', a.id, 'hours', a.opening_hours))
     FROM branches a WHERE a.id = ANY(CAST(@ancestors AS uuid[]))) AS ancestor_hours,
  (SELECT json_agg(json_build_object('branch_id', c.branch_id, 'day', to_char(c.day, 'YYYY-MM-DD'), 'name', c.name))
     FROM closed_days c WHERE (c.branch_id IS NULL OR c.branch_id = ANY(CAST(@path AS uuid[])))
      AND c.day BETWEEN CAST(@first AS date) AND CAST(@last AS date)) AS closed`

// deskPolicyRow is one row of the desk statement.
type deskPolicyRow struct {
	Rule          `gorm:"embedded"`
	Found         bool
	AncestorHours []byte
	Closed        []byte
}

// RuleRef says which rule DeskPolicy loads: the one that applies to
// Subject, or (when ID is set) the rule with this id, falling back to
// Subject's when it has been deleted.
type RuleRef struct {
	Subject Subject
	ID      *uuid.UUID
}

// DeskPolicy returns the rule ref names and the calendar of branch b for
// dates in [from, to] (plus a year after to), in one statement.
func (s *Service) DeskPolicy(ctx context.Context, ref RuleRef, b *tenants.Branch, from, to time.Time) (*Rule, *Calendar, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, nil, err
	}
	path := ref.Subject.BranchPath
	if len(path) == 0 {
		if path, err = s.subjectPath(ctx, ref.Subject); err != nil {
			return nil, nil, err
		}
	}
	first, last := from.AddDate(0, 0, -1).Format(time.DateOnly), to.AddDate(0, 0, maxShift+1).Format(time.DateOnly)
	if r, cal, ok, err := s.cachedDeskPolicy(ctx, ref, b, path, first, last); ok || err != nil {
		return r, cal, err
	}
	cal, ancestors := calendarBase(b)
	args := map[string]any{"path": tenants.UUIDs(b.Path), "ancestors": tenants.UUIDs(ancestors),
		"first": first, "last": last,
		"rpath": tenants.UUIDs(path), "category": ref.Subject.PatronCategory, "type": ref.Subject.ItemType}
	// The rule: by id when given (and still there), else by precedence.
	byID := "false"
	if ref.ID != nil {
		byID = "r.id = @rule_id"
		args["rule_id"] = *ref.ID
	}
	q := `SELECT r.*, r.id IS NOT NULL AS found` + deskPolicyTail + `
FROM (SELECT 1) one LEFT JOIN LATERAL (
  SELECT 0 AS pri, x.* FROM (` + ruleSelect + ` WHERE ` + byID + `) x
  UNION ALL
  SELECT 1 AS pri, y.* FROM (` + ruleSelect + `
      WHERE (r.branch_id IS NULL OR r.branch_id = ANY(CAST(@rpath AS uuid[])))
        AND (r.patron_category IS NULL OR r.patron_category = @category)
        AND (r.item_type IS NULL OR r.item_type = @type)
      ORDER BY ` + precedenceOrder + `
      LIMIT 1) y
  ORDER BY pri LIMIT 1) r ON true`
	var row deskPolicyRow
	if err := db.Raw(q, args).Scan(&row).Error; err != nil {
		return nil, nil, fmt.Errorf("desk policy: %w", err)
	}
	if err := cal.load(b, row.AncestorHours, row.Closed); err != nil {
		return nil, nil, err
	}
	if !row.Found {
		return nil, nil, noRule(ref.Subject)
	}
	r := row.Rule
	return r.fill(), cal, nil
}

// calendarBase starts b's calendar from what the branch row holds, and
// says which ancestors' hours are needed (none when b has its own).
func calendarBase(b *tenants.Branch) (*Calendar, []uuid.UUID) {
	cal := NewCalendar(tz.OrUTC(b.EffectiveTimezone), b.Path, b.OpeningHours, nil)
	if cal.weekly != nil {
		cal.hoursSource = &b.ID
		return cal, nil
	}
	if len(b.Path) > 1 {
		return cal, b.Path[:len(b.Path)-1]
	}
	return cal, nil
}

// ancestorHours is one ancestor's weekly hours in the desk statement.
type ancestorHours struct {
	ID    uuid.UUID            `json:"id"`
	Hours tenants.OpeningHours `json:"hours"`
}

// closedRow is one closed day in the desk statement.
type closedRow struct {
	BranchID *uuid.UUID `json:"branch_id"`
	Day      string     `json:"day"`
	Name     string     `json:"name"`
}

// load fills the calendar from the JSON columns of the desk statement.
func (cal *Calendar) load(b *tenants.Branch, ancestorsJSON, closedJSON []byte) error {
	var anc []ancestorHours
	if len(ancestorsJSON) > 0 {
		if err := json.Unmarshal(ancestorsJSON, &anc); err != nil {
			return fmt.Errorf("ancestor hours: %w", err)
		}
	}
	var rows []closedRow
	if len(closedJSON) > 0 {
		if err := json.Unmarshal(closedJSON, &rows); err != nil {
			return fmt.Errorf("closed days: %w", err)
		}
	}
	cal.fill(b, anc, rows)
	return nil
}

// fill sets the calendar's weekly hours from the nearest ancestor that has
// some (when b has none) and its closed days from rows.
func (cal *Calendar) fill(b *tenants.Branch, anc []ancestorHours, rows []closedRow) {
	for i := len(b.Path) - 2; i >= 0 && cal.weekly == nil; i-- {
		for _, a := range anc {
			if a.ID == b.Path[i] && hasHours(a.Hours) {
				cal.weekly, cal.hoursSource = a.Hours, &a.ID
			}
		}
	}
	// Several rows on one date: the nearest unit's name wins.
	depth := map[string]int{}
	for _, r := range rows {
		d := 0
		if r.BranchID != nil {
			d = slices.Index(b.Path, *r.BranchID) + 1
		}
		if old, ok := depth[r.Day]; !ok || d > old {
			depth[r.Day], cal.closed[r.Day] = d, r.Name
		}
	}
}
