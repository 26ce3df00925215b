package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// resolveQuery picks the winning rule in one statement: the candidates are
// the rules whose keys are null or match (a branch key matches when it is on
// the transaction branch's path), ordered by specificity (item type 4,
// patron category 2, branch 1) and then by the depth of their branch on the
// path. A library has tens to hundreds of rules, so the candidates come from
// a scan of the tenant's rows; the statement takes a fraction of a
// millisecond.
const resolveQuery = ruleSelect + `
WHERE (r.branch_id IS NULL OR r.branch_id = ANY(CAST(@rpath AS uuid[])))
  AND (r.patron_category IS NULL OR r.patron_category = @category)
  AND (r.item_type IS NULL OR r.item_type = @type)
ORDER BY ` + precedenceOrder + `
LIMIT 1`

// subjectPath returns subj.BranchPath, loading the branch when it is empty.
func (s *Service) subjectPath(ctx context.Context, subj Subject) ([]uuid.UUID, error) {
	if len(subj.BranchPath) > 0 {
		return subj.BranchPath, nil
	}
	b, err := s.tenants.GetBranch(ctx, subj.BranchID)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, errs.Field("branch_id", "invalid_branch", "branch_id names no org unit of this library")
		}
		return nil, err
	}
	return b.Path, nil
}

// Resolve returns the rule that applies to subj (see the package comment
// for the precedence), in one query when subj.BranchPath is filled. No
// matching rule is a 422 "no_rule".
func (s *Service) Resolve(ctx context.Context, subj Subject) (*Rule, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	path, err := s.subjectPath(ctx, subj)
	if err != nil {
		return nil, err
	}
	p := tenants.UUIDs(path)
	var r Rule
	res := db.Raw(resolveQuery, map[string]any{"rpath": p, "category": subj.PatronCategory, "type": subj.ItemType}).Scan(&r)
	if res.Error != nil {
		return nil, fmt.Errorf("resolve rule: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, noRule(subj)
	}
	return r.fill(), nil
}

// match reports whether r applies to a transaction at the branch with path
// for category and item type, and the depth of its branch on path (1 for
// the root, 0 for a rule without a branch). An empty itemType stands for an
// item type the library does not list: only rules without one match it.
func match(r *Rule, path []uuid.UUID, category, itemType string) (ok bool, depth int) {
	if r.BranchID != nil {
		i := slices.Index(path, *r.BranchID)
		if i < 0 {
			return false, 0
		}
		depth = i + 1
	}
	if r.PatronCategory != nil && *r.PatronCategory != category {
		return false, 0
	}
	if r.ItemType != nil && *r.ItemType != itemType {
		return false, 0
	}
	return true, depth
}

// beats reports whether a candidate (score, depth) wins over another.
func beats(scoreA, depthA, scoreB, depthB int) bool {
	return scoreA > scoreB || (scoreA == scoreB && depthA > depthB)
}

// Explanation says which rule applies to a subject and why every other rule
// does not.
type Explanation struct {
	Subject     Subject       `json:"subject"`
	BranchPath  []uuid.UUID   `json:"branch_path"`
	Rule        *Rule         `json:"rule"` // null when no rule matches
	Candidates  []Candidate   `json:"candidates"`
	NotMatching []NotMatching `json:"not_matching"`
}

// Candidate is a rule that matches the subject, with its score and why it
// won or lost.
type Candidate struct {
	Rule  *Rule  `json:"rule"`
	Score int    `json:"score"`
	Depth int    `json:"depth"` // of its branch on the subject's path; 0 without a branch
	Won   bool   `json:"won"`
	Why   string `json:"why"`
}

// NotMatching is a rule that does not apply, and why.
type NotMatching struct {
	RuleID uuid.UUID `json:"rule_id"`
	Why    string    `json:"why"`
}

// unitInfo names org units in explanations.
type unitInfo struct {
	ID   uuid.UUID
	Code string
	Name string
	Kind string
	Path tenants.UUIDs
}

func loadUnits(ctx context.Context) (map[uuid.UUID]unitInfo, []unitInfo, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, nil, err
	}
	var list []unitInfo
	if err := db.Raw(`SELECT id, code, name, kind, path FROM branches ORDER BY path`).Scan(&list).Error; err != nil {
		return nil, nil, fmt.Errorf("load branches: %w", err)
	}
	m := make(map[uuid.UUID]unitInfo, len(list))
	for _, u := range list {
		m[u.ID] = u
	}
	return m, list, nil
}

func unitName(units map[uuid.UUID]unitInfo, id uuid.UUID) string {
	if u, ok := units[id]; ok {
		return u.Code
	}
	return id.String()
}

// keys describes a rule's set keys with its score: "item type dvd + branch
// MAIN (5)"; a rule without keys is "the fallback (0)".
func keys(r *Rule, units map[uuid.UUID]unitInfo) string {
	var parts []string
	if r.ItemType != nil {
		parts = append(parts, "item type "+*r.ItemType)
	}
	if r.PatronCategory != nil {
		parts = append(parts, "patron category "+*r.PatronCategory)
	}
	if r.BranchID != nil {
		parts = append(parts, "branch "+unitName(units, *r.BranchID))
	}
	if len(parts) == 0 {
		return "the fallback (0)"
	}
	return fmt.Sprintf("%s (%d)", strings.Join(parts, " + "), r.Score())
}

// Explain lists every rule of the library as a candidate for subj (with its
// score and why it won or lost) or as not matching (with why), and the
// winner, by the same precedence as Resolve.
func (s *Service) Explain(ctx context.Context, subj Subject) (*Explanation, error) {
	path, err := s.subjectPath(ctx, subj)
	if err != nil {
		return nil, err
	}
	rules, err := allRules(ctx)
	if err != nil {
		return nil, err
	}
	units, _, err := loadUnits(ctx)
	if err != nil {
		return nil, err
	}
	ex := &Explanation{Subject: subj, BranchPath: path, Candidates: []Candidate{}, NotMatching: []NotMatching{}}
	ex.Subject.BranchID = path[len(path)-1]
	here := unitName(units, ex.Subject.BranchID)
	for i := range rules {
		r := &rules[i]
		ok, depth := match(r, path, subj.PatronCategory, subj.ItemType)
		if ok {
			ex.Candidates = append(ex.Candidates, Candidate{Rule: r, Score: r.Score(), Depth: depth})
			continue
		}
		var why []string
		if r.BranchID != nil && !slices.Contains(path, *r.BranchID) {
			why = append(why, fmt.Sprintf("branch is %s, rule is for %s, which is neither it nor one of its parents",
				here, unitName(units, *r.BranchID)))
		}
		if r.PatronCategory != nil && *r.PatronCategory != subj.PatronCategory {
			why = append(why, fmt.Sprintf("patron category is %s, rule wants %s", orNone(subj.PatronCategory), *r.PatronCategory))
		}
		if r.ItemType != nil && *r.ItemType != subj.ItemType {
			why = append(why, fmt.Sprintf("item type is %s, rule wants %s", orNone(subj.ItemType), *r.ItemType))
		}
		ex.NotMatching = append(ex.NotMatching, NotMatching{RuleID: r.ID, Why: strings.Join(why, "; ")})
	}
	slices.SortStableFunc(ex.Candidates, func(a, b Candidate) int {
		switch {
		case beats(a.Score, a.Depth, b.Score, b.Depth):
			return -1
		case beats(b.Score, b.Depth, a.Score, a.Depth):
			return 1
		}
		return 0
	})
	if len(ex.Candidates) == 0 {
		return ex, nil
	}
	w := &ex.Candidates[0]
	w.Won, ex.Rule = true, w.Rule
	if len(ex.Candidates) == 1 {
		w.Why = fmt.Sprintf("wins: the only rule that matches (%s)", keys(w.Rule, units))
	} else {
		w.Why = fmt.Sprintf("wins: %s is the most specific of %d matching rules", keys(w.Rule, units), len(ex.Candidates))
	}
	for i := 1; i < len(ex.Candidates); i++ {
		c := &ex.Candidates[i]
		if c.Score == w.Score {
			c.Why = fmt.Sprintf("beaten by rule %s: both score %d; its branch %s is closer to %s than %s",
				w.Rule.ID, w.Score, unitName(units, *w.Rule.BranchID), here, unitName(units, *c.Rule.BranchID))
		} else {
			c.Why = fmt.Sprintf("beaten by rule %s: %s is more specific than %s", w.Rule.ID, keys(w.Rule, units), keys(c.Rule, units))
		}
	}
	return ex, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
