package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// deskConfig is what the desk needs of a library's policy, kept in memory
// per configuration epoch (tenants.Cached): every rule, and the closed days
// from closedFrom on. A library has tens to hundreds of rules and a few
// dozen closed days a year per branch.
type deskConfig struct {
	rules      []Rule
	closedFrom string // YYYY-MM-DD; older dates are read from the database
	closed     []closedRow
}

// closedHistory is how far back the cached closed days reach: backdated
// desk work (offline uploads, book drops) is days old, not years.
const closedHistory = 400 * 24 * time.Hour

func (s *Service) loadDeskConfig(ctx context.Context) (*deskConfig, int64, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, 0, err
	}
	cfg := &deskConfig{closedFrom: s.now().Add(-closedHistory).UTC().Format(time.DateOnly)}
	// The epoch, the rules and the closed days in one statement, so the
	// three agree.
	var row struct {
		Epoch  int64
		Closed []byte
	}
	if err := db.Raw(`SELECT `+tenants.EpochSQL+` AS epoch,
  (SELECT json_agg(json_build_object('branch_id', c.branch_id, 'day', to_char(c.day, 'YYYY-MM-DD'), 'name', c.name))
     FROM closed_days c WHERE c.day >= CAST(@from AS date)) AS closed`, map[string]any{"from": cfg.closedFrom}).
		Scan(&row).Error; err != nil {
		return nil, 0, fmt.Errorf("desk configuration: %w", err)
	}
	if len(row.Closed) > 0 {
		if err := json.Unmarshal(row.Closed, &cfg.closed); err != nil {
			return nil, 0, fmt.Errorf("closed days: %w", err)
		}
	}
	// The rules in a second statement, with the epoch again: when a change
	// committed in between, the two epochs differ and nothing is cached.
	var rules []struct {
		Rule  `gorm:"embedded"`
		Epoch int64
	}
	if err := db.Raw(`SELECT x.*, ` + tenants.EpochSQL + ` AS epoch FROM (` + ruleSelect + `) x ORDER BY x.id`).
		Scan(&rules).Error; err != nil {
		return nil, 0, fmt.Errorf("desk rules: %w", err)
	}
	epoch := row.Epoch
	for _, r := range rules {
		if r.Epoch != epoch {
			epoch = -1
		}
		cfg.rules = append(cfg.rules, *r.Rule.fill())
	}
	return cfg, epoch, nil
}

// cachedDeskPolicy is DeskPolicy from the configuration cache. ok is false
// when the cache cannot answer (dates before the cached closed days); the
// caller then asks the database.
func (s *Service) cachedDeskPolicy(ctx context.Context, ref RuleRef, b *tenants.Branch, path []uuid.UUID, first, last string) (*Rule, *Calendar, bool, error) {
	cfg, err := tenants.Cached(ctx, "desk-policy", s.loadDeskConfig)
	if err != nil || first < cfg.closedFrom {
		return nil, nil, false, err
	}
	cal, ancestors := calendarBase(b)
	var anc []ancestorHours
	for _, id := range ancestors {
		a, err := s.tenants.DeskBranch(ctx, id)
		if err != nil {
			return nil, nil, false, err
		}
		anc = append(anc, ancestorHours{ID: a.ID, Hours: a.OpeningHours})
	}
	var closed []closedRow
	for _, c := range cfg.closed {
		if c.Day >= first && c.Day <= last && (c.BranchID == nil || slices.Contains(b.Path, *c.BranchID)) {
			closed = append(closed, c)
		}
	}
	cal.fill(b, anc, closed)
	rule := pickRule(cfg.rules, ref, path)
	if rule == nil {
		return nil, nil, true, noRule(ref.Subject)
	}
	r := *rule // the cached rule stays as it is
	return &r, cal, true, nil
}

// pickRule is the rule ref names among rules: the one with ref.ID when it
// still exists, else the most specific that matches the subject (the same
// precedence as precedenceOrder and Explain).
func pickRule(rules []Rule, ref RuleRef, path []uuid.UUID) *Rule {
	if ref.ID != nil {
		for i := range rules {
			if rules[i].ID == *ref.ID {
				return &rules[i]
			}
		}
	}
	var best *Rule
	bestScore, bestDepth := 0, 0
	for i := range rules {
		r := &rules[i]
		ok, depth := match(r, path, ref.Subject.PatronCategory, ref.Subject.ItemType)
		if ok && (best == nil || beats(r.Score(), depth, bestScore, bestDepth)) {
			best, bestScore, bestDepth = r, r.Score(), depth
		}
	}
	return best
}

// noRule is the refusal when no rule matches a subject.
func noRule(subj Subject) error {
	return errs.E(errs.Invalid, "no_rule", fmt.Sprintf(
		"no circulation rule matches patron category %q and item type %q at this branch; add a fallback rule",
		subj.PatronCategory, subj.ItemType)).
		WithDetails(map[string]any{"branch_id": subj.BranchID, "patron_category": subj.PatronCategory, "item_type": subj.ItemType})
}
