package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/tenants"
)

// Problem kinds reported by Lint.
const (
	ProblemShadowed    = "shadowed"     // the rule can never win
	ProblemUncovered   = "uncovered"    // a combination no rule matches
	ProblemNotLoanable = "not_loanable" // the rule names an item type that is not loanable (warning)
)

// maxUncoveredListed caps the uncovered combinations Lint lists.
const maxUncoveredListed = 50

// Problem is one finding of Lint.
type Problem struct {
	Kind        string       `json:"kind"`
	RuleID      *uuid.UUID   `json:"rule_id,omitempty"`
	Message     string       `json:"message"`
	ShadowedBy  []uuid.UUID  `json:"shadowed_by,omitempty"`
	Combination *Combination `json:"combination,omitempty"`
}

// Combination is one (branch, patron category, item type) a transaction can
// have. ItemType "" stands for an item type the library does not list
// (items.item_type is free text).
type Combination struct {
	BranchID       uuid.UUID `json:"branch_id"`
	PatronCategory string    `json:"patron_category"`
	ItemType       string    `json:"item_type"`
}

// LintReport is the result of Lint. UncoveredTotal counts every uncovered
// combination; at most 50 are listed as problems.
type LintReport struct {
	Problems       []Problem `json:"problems"`
	UncoveredTotal int       `json:"uncovered_total"`
	Combinations   int       `json:"combinations"`
}

// Lint checks the rule matrix against every combination of service point
// (org units of kind branch, where transactions happen; every unit when
// there is none), patron category and item type (the listed ones plus "an
// unlisted type", which only rules without an item type match). It reports
// rules that win no combination (shadowed, with the rules that win their
// combinations), combinations no rule matches (uncovered; non-loanable item
// types are skipped there, they are never lent) and rules naming a
// non-loanable item type.
func (s *Service) Lint(ctx context.Context) (*LintReport, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	rules, err := allRules(ctx)
	if err != nil {
		return nil, err
	}
	units, list, err := loadUnits(ctx)
	if err != nil {
		return nil, err
	}
	var categories []string
	if err := db.Raw(`SELECT code FROM patron_categories ORDER BY code`).Scan(&categories).Error; err != nil {
		return nil, fmt.Errorf("load categories: %w", err)
	}
	var types []struct {
		Code     string
		Loanable bool
	}
	if err := db.Raw(`SELECT code, loanable FROM item_types ORDER BY code`).Scan(&types).Error; err != nil {
		return nil, fmt.Errorf("load item types: %w", err)
	}
	loanable := map[string]bool{"": true}
	typeCodes := []string{}
	for _, t := range types {
		loanable[t.Code] = t.Loanable
		typeCodes = append(typeCodes, t.Code)
	}
	typeCodes = append(typeCodes, "")
	var points []unitInfo
	for _, u := range list {
		if u.Kind == tenants.KindBranch {
			points = append(points, u)
		}
	}
	if len(points) == 0 {
		points = list
	}

	rep := &LintReport{Problems: []Problem{}}
	matched := make([]bool, len(rules))               // the rule matches some combination
	won := make([]bool, len(rules))                   // the rule wins some combination
	winners := make([]map[uuid.UUID]bool, len(rules)) // who wins the rule's combinations
	for _, b := range points {
		for _, cat := range categories {
			for _, typ := range typeCodes {
				rep.Combinations++
				best, bestScore, bestDepth := -1, 0, 0
				var matching []int
				for i := range rules {
					ok, depth := match(&rules[i], b.Path, cat, typ)
					if !ok {
						continue
					}
					matching = append(matching, i)
					if sc := rules[i].Score(); best < 0 || beats(sc, depth, bestScore, bestDepth) {
						best, bestScore, bestDepth = i, sc, depth
					}
				}
				if best < 0 {
					if !loanable[typ] {
						continue
					}
					rep.UncoveredTotal++
					if rep.UncoveredTotal <= maxUncoveredListed {
						rep.Problems = append(rep.Problems, Problem{Kind: ProblemUncovered,
							Combination: &Combination{BranchID: b.ID, PatronCategory: cat, ItemType: typ},
							Message: fmt.Sprintf("no rule matches branch %s, patron category %s, %s; add a rule or a fallback",
								b.Code, cat, describeType(typ))})
					}
					continue
				}
				won[best] = true
				for _, i := range matching {
					matched[i] = true
					if i != best {
						if winners[i] == nil {
							winners[i] = map[uuid.UUID]bool{}
						}
						winners[i][rules[best].ID] = true
					}
				}
			}
		}
	}
	for i := range rules {
		r := &rules[i]
		id := r.ID
		if !won[i] {
			p := Problem{Kind: ProblemShadowed, RuleID: &id}
			if !matched[i] {
				p.Message = fmt.Sprintf("rule %s (%s) matches no combination of branch, patron category and item type; it never applies",
					id, keys(r, units))
			} else {
				for w := range winners[i] {
					p.ShadowedBy = append(p.ShadowedBy, w)
				}
				slices.SortFunc(p.ShadowedBy, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
				ids := make([]string, len(p.ShadowedBy))
				for j, w := range p.ShadowedBy {
					ids[j] = w.String()
				}
				p.Message = fmt.Sprintf("rule %s (%s) never wins: every combination it matches goes to a more specific rule (%s)",
					id, keys(r, units), strings.Join(ids, ", "))
			}
			rep.Problems = append(rep.Problems, p)
		}
		if r.ItemType != nil && !loanable[*r.ItemType] {
			rep.Problems = append(rep.Problems, Problem{Kind: ProblemNotLoanable, RuleID: &id,
				Message: fmt.Sprintf("rule %s names item type %s, which is not loanable; its loan settings never apply", id, *r.ItemType)})
		}
	}
	return rep, nil
}

func describeType(t string) string {
	if t == "" {
		return "an item type the library does not list"
	}
	return "item type " + t
}
