package policy

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// RuleInput is the body of POST and PATCH /circulation/rules. A null key
// (branch_id, patron_category, item_type) means "any". On PATCH absent
// fields stay and null clears a nullable field; setting loan_hours clears
// loan_days (and the reverse) unless the body sends both, and setting
// fine_per_hour replaces fine_per_day (and the reverse).
type RuleInput struct {
	BranchID            Nullable[uuid.UUID] `json:"branch_id"`
	PatronCategory      Nullable[string]    `json:"patron_category"`
	ItemType            Nullable[string]    `json:"item_type"`
	LoanDays            Nullable[int]       `json:"loan_days"`
	LoanHours           Nullable[int]       `json:"loan_hours"`
	MaxLoans            Nullable[int]       `json:"max_loans"`
	Renewals            *int                `json:"renewals"`
	RenewalDays         Nullable[int]       `json:"renewal_days"`
	NoRenewalBeforeDays Nullable[int]       `json:"no_renewal_before_days"`
	FinePerDay          Nullable[Money]     `json:"fine_per_day"`
	FinePerHour         Nullable[Money]     `json:"fine_per_hour"`
	GraceDays           *int                `json:"grace_days"`
	MaxFine             Nullable[Money]     `json:"max_fine"`
	ProcessingFee       Nullable[Money]     `json:"processing_fee"`
	HoldsAllowed        *bool               `json:"holds_allowed"`
	MaxHolds            Nullable[int]       `json:"max_holds"`
	HoldShelfDays       *int                `json:"hold_shelf_days"`
	AutoRenew           *bool               `json:"auto_renew"`
	Notes               *string             `json:"notes"`
}

// Upper bounds that catch typos (a loan of 70000 days) without limiting
// real policies.
const (
	maxLoanDays  = 3650
	maxLoanHours = 24 * 366
	maxCount     = 100000
)

func intField(field string, v *int, min, max int) error {
	if v != nil && (*v < min || *v > max) {
		return errs.Field(field, "invalid_"+field, fmt.Sprintf("%s must be a whole number from %d to %d", field, min, max))
	}
	return nil
}

func code(field string, v *string) (*string, error) {
	if v == nil {
		return nil, nil
	}
	c := strings.ToLower(strings.TrimSpace(*v))
	if !codeRe.MatchString(c) {
		bad := map[string]string{"patron_category": "unknown_category", "item_type": "unknown_item_type"}[field]
		return nil, errs.Field(field, bad, fmt.Sprintf("%s %q is not a code of this library", field, *v))
	}
	return &c, nil
}

// apply validates the input and copies its present fields onto r.
func (in *RuleInput) apply(r *Rule, currency string) error {
	var err error
	if in.BranchID.Set {
		r.BranchID = in.BranchID.Value
	}
	if in.PatronCategory.Set {
		if r.PatronCategory, err = code("patron_category", in.PatronCategory.Value); err != nil {
			return err
		}
	}
	if in.ItemType.Set {
		if r.ItemType, err = code("item_type", in.ItemType.Value); err != nil {
			return err
		}
	}
	// The loan period: exactly one of days and hours.
	if in.LoanDays.Set {
		r.LoanDays = in.LoanDays.Value
		if r.LoanDays != nil && !in.LoanHours.Set {
			r.LoanHours = nil
		}
	}
	if in.LoanHours.Set {
		r.LoanHours = in.LoanHours.Value
		if r.LoanHours != nil && !in.LoanDays.Set {
			r.LoanDays = nil
		}
	}
	if (r.LoanDays == nil) == (r.LoanHours == nil) ||
		(r.LoanDays != nil && (*r.LoanDays < 1 || *r.LoanDays > maxLoanDays)) ||
		(r.LoanHours != nil && (*r.LoanHours < 1 || *r.LoanHours > maxLoanHours)) {
		return errs.Field("loan_days", "invalid_loan_period",
			fmt.Sprintf("give exactly one of loan_days (1 to %d) and loan_hours (1 to %d)", maxLoanDays, maxLoanHours))
	}
	for _, f := range []struct {
		name     string
		v        *int
		min, max int
	}{
		{"renewal_days", in.RenewalDays.Value, 1, maxLoanDays},
		{"no_renewal_before_days", in.NoRenewalBeforeDays.Value, 0, maxLoanDays},
		{"max_loans", in.MaxLoans.Value, 0, maxCount},
		{"renewals", in.Renewals, 0, 1000},
		{"grace_days", in.GraceDays, 0, maxLoanDays},
		{"max_holds", in.MaxHolds.Value, 0, maxCount},
		{"hold_shelf_days", in.HoldShelfDays, 1, 365},
	} {
		if err := intField(f.name, f.v, f.min, f.max); err != nil {
			return err
		}
	}
	if in.MaxLoans.Set {
		r.MaxLoans = in.MaxLoans.Value
	}
	if in.Renewals != nil {
		r.Renewals = *in.Renewals
	}
	if in.RenewalDays.Set {
		r.RenewalDays = in.RenewalDays.Value
	}
	if in.NoRenewalBeforeDays.Set {
		r.NoRenewalBeforeDays = in.NoRenewalBeforeDays.Value
	}
	if in.GraceDays != nil {
		r.GraceDays = *in.GraceDays
	}
	if in.MaxHolds.Set {
		r.MaxHolds = in.MaxHolds.Value
	}
	if in.HoldShelfDays != nil {
		r.HoldShelfDays = *in.HoldShelfDays
	}
	if in.HoldsAllowed != nil {
		r.HoldsAllowed = *in.HoldsAllowed
	}
	if in.AutoRenew != nil {
		r.AutoRenew = *in.AutoRenew
	}
	if in.Notes != nil {
		n := strings.TrimSpace(*in.Notes)
		if len(n) > 2000 {
			return errs.Field("notes", "invalid_notes", "notes must be at most 2000 characters")
		}
		r.Notes = n
	}
	// Fines: per day or per hour, never both (fine_amount + fine_interval).
	day, hour := in.FinePerDay, in.FinePerHour
	switch {
	case day.Value != nil && hour.Value != nil:
		return errs.Field("fine_per_hour", "invalid_fine", "fine_per_day and fine_per_hour are mutually exclusive; send one")
	case day.Value != nil:
		if r.FineAmount, err = amount("fine_per_day", day.Value, currency); err != nil {
			return err
		}
		r.FineInterval = FineDay
	case hour.Value != nil:
		if r.FineAmount, err = amount("fine_per_hour", hour.Value, currency); err != nil {
			return err
		}
		r.FineInterval = FineHour
	case (day.Set && r.FineInterval == FineDay) || (hour.Set && r.FineInterval == FineHour):
		r.FineAmount, r.FineInterval = 0, FineDay
	}
	if in.MaxFine.Set {
		r.MaxFineAmount = nil
		if in.MaxFine.Value != nil {
			a, err := amount("max_fine", in.MaxFine.Value, currency)
			if err != nil {
				return err
			}
			r.MaxFineAmount = &a
		}
	}
	if in.ProcessingFee.Set {
		r.ProcessingFeeAmount = 0
		if in.ProcessingFee.Value != nil {
			if r.ProcessingFeeAmount, err = amount("processing_fee", in.ProcessingFee.Value, currency); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkKeys verifies that the rule's keys name things of this library and
// that the caller may set rules there; it returns the path of the rule's
// scope (the root's for a library-wide rule).
func (s *Service) checkKeys(ctx context.Context, r *Rule) ([]uuid.UUID, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	path, err := s.branchPath(ctx, r.BranchID, "branch_id")
	if err != nil {
		return nil, err
	}
	if r.PatronCategory != nil {
		var n int64
		if err := db.Raw(`SELECT count(*) FROM patron_categories WHERE code = ?`, *r.PatronCategory).Scan(&n).Error; err != nil {
			return nil, fmt.Errorf("check category: %w", err)
		}
		if n == 0 {
			return nil, errs.Field("patron_category", "unknown_category",
				fmt.Sprintf("patron_category %q is not a patron category of this library", *r.PatronCategory))
		}
	}
	if r.ItemType != nil {
		var n int64
		if err := db.Raw(`SELECT count(*) FROM item_types WHERE code = ?`, *r.ItemType).Scan(&n).Error; err != nil {
			return nil, fmt.Errorf("check item type: %w", err)
		}
		if n == 0 {
			return nil, errs.Field("item_type", "unknown_item_type",
				fmt.Sprintf("item_type %q is not an item type of this library", *r.ItemType))
		}
	}
	return path, nil
}

func ruleScope(r *Rule) string {
	if r.BranchID == nil {
		return "set circulation rules for the whole library"
	}
	return "set circulation rules for this org unit"
}

// duplicate returns the 409 naming the rule that already has r's keys, or nil.
func duplicate(db *gorm.DB, r *Rule) error {
	var ids []idRow
	err := db.Raw(`SELECT id FROM circ_rules WHERE branch_id IS NOT DISTINCT FROM ? AND patron_category IS NOT DISTINCT FROM ?
		AND item_type IS NOT DISTINCT FROM ? AND id <> ? LIMIT 1`, r.BranchID, r.PatronCategory, r.ItemType, r.ID).Scan(&ids).Error
	if err != nil {
		return fmt.Errorf("find duplicate rule: %w", err)
	}
	if len(ids) > 0 {
		return errs.E(errs.Conflict, "rule_exists",
			"a rule for this branch, patron category and item type already exists; change that rule instead").
			WithDetails(map[string]any{"rule_id": ids[0].ID})
	}
	return nil
}

const ruleSelect = `SELECT r.*, t.currency FROM circ_rules r JOIN tenants t ON t.id = r.tenant_id`

// GetRule returns one rule.
func (s *Service) GetRule(ctx context.Context, id uuid.UUID) (*Rule, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var r Rule
	res := db.Raw(ruleSelect+` WHERE r.id = ?`, id).Scan(&r)
	if res.Error != nil {
		return nil, fmt.Errorf("get rule %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, errs.NotFoundf("no such circulation rule")
	}
	return r.fill(), nil
}

// RuleFilter narrows ListRules; a set field keeps the rules whose key
// equals it.
type RuleFilter struct {
	BranchID       *uuid.UUID
	PatronCategory string
	ItemType       string
	After          uuid.UUID
	Limit          int
}

// ListRules lists rules in id order (Limit+1 rows at most).
func (s *Service) ListRules(ctx context.Context, f RuleFilter) ([]Rule, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	q, args := ruleSelect+` WHERE r.id > ?`, []any{f.After}
	if f.BranchID != nil {
		q, args = q+` AND r.branch_id = ?`, append(args, *f.BranchID)
	}
	if f.PatronCategory != "" {
		q, args = q+` AND r.patron_category = ?`, append(args, f.PatronCategory)
	}
	if f.ItemType != "" {
		q, args = q+` AND r.item_type = ?`, append(args, f.ItemType)
	}
	var out []Rule
	if err := db.Raw(q+` ORDER BY r.id LIMIT ?`, append(args, f.Limit+1)...).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	for i := range out {
		out[i].fill()
	}
	return out, nil
}

// allRules loads every rule of the library (explain, lint).
func allRules(ctx context.Context) ([]Rule, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var out []Rule
	if err := db.Raw(ruleSelect + ` ORDER BY r.id`).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("load rules: %w", err)
	}
	for i := range out {
		out[i].fill()
	}
	return out, nil
}

// CreateRule adds a rule. The caller needs circulation.rules at the rule's
// branch (at the root for a rule without a branch).
func (s *Service) CreateRule(ctx context.Context, in RuleInput) (*Rule, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	cur, err := s.TenantCurrency(ctx)
	if err != nil {
		return nil, err
	}
	r := &Rule{TenantID: tenant, ID: tenants.NewID(), FineInterval: FineDay, HoldsAllowed: true, HoldShelfDays: 7}
	if err := in.apply(r, cur); err != nil {
		return nil, err
	}
	path, err := s.checkKeys(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := allowedAt(ctx, tenants.PermCirculationRules, path, ruleScope(r)); err != nil {
		return nil, err
	}
	if err := duplicate(db, r); err != nil {
		return nil, err
	}
	err = db.Transaction(func(tx *gorm.DB) error {
		return tx.Omit("Currency", "CreatedAt", "UpdatedAt").Create(r).Error
	})
	if err != nil {
		if c, _ := tenants.PgCode(err); c == tenants.PgUniqueViolation {
			if e := duplicate(db, r); e != nil {
				return nil, e
			}
		}
		return nil, fmt.Errorf("insert rule: %w", err)
	}
	return s.GetRule(ctx, r.ID)
}

// UpdateRule changes a rule; the caller needs circulation.rules at its
// scope before and after the change.
func (s *Service) UpdateRule(ctx context.Context, id uuid.UUID, in RuleInput) (*Rule, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.GetRule(ctx, id)
	if err != nil {
		return nil, err
	}
	old, err := s.branchPath(ctx, r.BranchID, "branch_id")
	if err != nil {
		return nil, err
	}
	if err := allowedAt(ctx, tenants.PermCirculationRules, old, ruleScope(r)); err != nil {
		return nil, err
	}
	if err := in.apply(r, r.Currency); err != nil {
		return nil, err
	}
	path, err := s.checkKeys(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := allowedAt(ctx, tenants.PermCirculationRules, path, ruleScope(r)); err != nil {
		return nil, err
	}
	if err := duplicate(db, r); err != nil {
		return nil, err
	}
	err = db.Transaction(func(tx *gorm.DB) error {
		return tx.Model(&Rule{}).Where("id = ?", id).Updates(map[string]any{
			"branch_id": r.BranchID, "patron_category": r.PatronCategory, "item_type": r.ItemType,
			"loan_days": r.LoanDays, "loan_hours": r.LoanHours, "max_loans": r.MaxLoans, "renewals": r.Renewals,
			"renewal_days": r.RenewalDays, "no_renewal_before_days": r.NoRenewalBeforeDays,
			"fine_amount": r.FineAmount, "fine_interval": r.FineInterval, "grace_days": r.GraceDays,
			"max_fine": r.MaxFineAmount, "processing_fee": r.ProcessingFeeAmount, "holds_allowed": r.HoldsAllowed,
			"max_holds": r.MaxHolds, "hold_shelf_days": r.HoldShelfDays, "auto_renew": r.AutoRenew,
			"notes": r.Notes, "updated_at": gorm.Expr("now()")}).Error
	})
	if err != nil {
		if c, _ := tenants.PgCode(err); c == tenants.PgUniqueViolation {
			if e := duplicate(db, r); e != nil {
				return nil, e
			}
		}
		return nil, fmt.Errorf("update rule %s: %w", id, err)
	}
	return s.GetRule(ctx, id)
}

// DeleteRule removes a rule. Deleting the fallback (the rule with no keys)
// is allowed; lint then reports the combinations no rule covers.
func (s *Service) DeleteRule(ctx context.Context, id uuid.UUID) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	r, err := s.GetRule(ctx, id)
	if err != nil {
		return err
	}
	path, err := s.branchPath(ctx, r.BranchID, "branch_id")
	if err != nil {
		return err
	}
	if err := allowedAt(ctx, tenants.PermCirculationRules, path, ruleScope(r)); err != nil {
		return err
	}
	if err := db.Exec(`DELETE FROM circ_rules WHERE id = ?`, id).Error; err != nil {
		return fmt.Errorf("delete rule %s: %w", id, err)
	}
	return nil
}
