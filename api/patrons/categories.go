package patrons

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// CategoryInput is the body of POST /patron-categories and PATCH
// /patron-categories/{code}. On PATCH absent fields stay and null clears a
// limit (no limit).
type CategoryInput struct {
	Code            *string    `json:"code"`
	Name            *string    `json:"name"`
	EnrolmentMonths Opt[int]   `json:"enrolment_months"`
	MinAge          Opt[int]   `json:"min_age"`
	MaxAge          Opt[int]   `json:"max_age"`
	MaxLoans        Opt[int]   `json:"max_loans"`
	MaxHolds        Opt[int]   `json:"max_holds"`
	FineThreshold   Opt[Money] `json:"fine_threshold"`
	MaxOverdue      Opt[int]   `json:"max_overdue"`
	MaxLost         Opt[int]   `json:"max_lost"`
}

// TenantCurrency is the library's ISO 4217 currency: every amount of the
// tenant is in it.
func TenantCurrency(ctx context.Context) (string, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return "", err
	}
	var cur string
	if err := db.Raw(`SELECT currency FROM tenants WHERE id = app.current_tenant_id()`).Row().Scan(&cur); err != nil {
		return "", fmt.Errorf("tenant currency: %w", err)
	}
	return cur, nil
}

// fill sets the JSON view of the fine threshold.
func (c *Category) fill(currency string) *Category {
	c.FineLimit = nil
	if c.FineThreshold != nil {
		c.FineLimit = &Money{Amount: *c.FineThreshold, Currency: currency}
	}
	return c
}

// apply validates the input's present fields and copies them onto c.
func (in *CategoryInput) apply(c *Category, currency string) error {
	if in.Code != nil {
		code := strings.TrimSpace(*in.Code)
		if !categoryRe.MatchString(code) {
			return errs.Field("code", "invalid_code", "code must be 1-40 lowercase letters, digits, '_' or '-', such as adult or child")
		}
		c.Code = code
	}
	if in.Name != nil {
		name, err := text("name", *in.Name, true, 200)
		if err != nil {
			return err
		}
		c.Name = name
	}
	ints := []struct {
		field string
		in    Opt[int]
		dst   **int
		min   int
	}{
		{"enrolment_months", in.EnrolmentMonths, &c.EnrolmentMonths, 1},
		{"min_age", in.MinAge, &c.MinAge, 0},
		{"max_age", in.MaxAge, &c.MaxAge, 0},
		{"max_loans", in.MaxLoans, &c.MaxLoans, 0},
		{"max_holds", in.MaxHolds, &c.MaxHolds, 0},
		{"max_overdue", in.MaxOverdue, &c.MaxOverdue, 0},
		{"max_lost", in.MaxLost, &c.MaxLost, 0},
	}
	for _, f := range ints {
		if !f.in.Set {
			continue
		}
		v := f.in.Ptr()
		if v != nil && (*v < f.min || *v > 100000) {
			return errs.Field(f.field, "invalid_limit", fmt.Sprintf("%s must be a whole number from %d to 100000, or null for none", f.field, f.min))
		}
		*f.dst = v
	}
	if c.EnrolmentMonths != nil && *c.EnrolmentMonths > 1200 {
		return errs.Field("enrolment_months", "invalid_limit", "enrolment_months must be at most 1200 (100 years)")
	}
	if c.MinAge != nil && c.MaxAge != nil && *c.MinAge > *c.MaxAge {
		return errs.Field("min_age", "invalid_age_range", fmt.Sprintf("min_age %d is above max_age %d", *c.MinAge, *c.MaxAge))
	}
	if in.FineThreshold.Set {
		if m := in.FineThreshold.Ptr(); m == nil {
			c.FineThreshold = nil
		} else {
			if m.Amount < 0 {
				return errs.Field("fine_threshold", "invalid_money", "fine_threshold.amount must be minor units (cents) >= 0")
			}
			if m.Currency != currency {
				return errs.Field("fine_threshold", "currency_mismatch",
					fmt.Sprintf("fine_threshold.currency must be the library's currency %s, not %q", currency, m.Currency)).
					WithDetails(map[string]any{"field": "fine_threshold", "currency": currency})
			}
			a := m.Amount
			c.FineThreshold = &a
		}
	}
	return nil
}

func categoryConflict(err error) error {
	code, constraint := tenants.PgCode(err)
	switch {
	case code == tenants.PgUniqueViolation && strings.Contains(constraint, "pkey"):
		return errs.E(errs.Conflict, "category_code_taken", "a patron category with this code already exists").
			WithDetails(map[string]any{"field": "code"})
	case code == tenants.PgForeignKeyViolation:
		return errs.E(errs.Conflict, "category_in_use", "patrons or circulation rules use this category; move them to another category first")
	}
	return err
}

// ListCategories returns every patron category in code order (a library has
// a handful).
func (s *Service) ListCategories(ctx context.Context) ([]Category, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := TenantCurrency(ctx)
	if err != nil {
		return nil, err
	}
	var out []Category
	if err := db.Order("code").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	for i := range out {
		out[i].fill(cur)
	}
	return out, nil
}

// CategoryView is GetCategory with the fine threshold's JSON view filled.
func (s *Service) CategoryView(ctx context.Context, code string) (*Category, error) {
	c, err := s.GetCategory(ctx, code)
	if err != nil {
		return nil, err
	}
	cur, err := TenantCurrency(ctx)
	if err != nil {
		return nil, err
	}
	return c.fill(cur), nil
}

// CreateCategory adds a patron category.
func (s *Service) CreateCategory(ctx context.Context, in CategoryInput) (*Category, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	cur, err := TenantCurrency(ctx)
	if err != nil {
		return nil, err
	}
	if in.Code == nil {
		return nil, errs.Field("code", "required", "code is required")
	}
	if in.Name == nil {
		return nil, errs.Field("name", "required", "name is required")
	}
	c := Category{TenantID: tenant}
	if err := in.apply(&c, cur); err != nil {
		return nil, err
	}
	if err := db.Create(&c).Error; err != nil {
		if e := categoryConflict(err); e != err {
			return nil, e
		}
		return nil, fmt.Errorf("insert category: %w", err)
	}
	return s.CategoryView(ctx, c.Code)
}

// UpdateCategory changes a category. A new code cascades to the patrons and
// rules that use it and to the self-registration setting.
func (s *Service) UpdateCategory(ctx context.Context, code string, in CategoryInput) (*Category, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := TenantCurrency(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.GetCategory(ctx, code)
	if err != nil {
		return nil, err
	}
	if err := in.apply(c, cur); err != nil {
		return nil, err
	}
	err = db.Model(&Category{}).Where("code = ?", code).Updates(map[string]any{
		"code": c.Code, "name": c.Name, "enrolment_months": c.EnrolmentMonths, "min_age": c.MinAge,
		"max_age": c.MaxAge, "max_loans": c.MaxLoans, "max_holds": c.MaxHolds, "fine_threshold": c.FineThreshold,
		"max_overdue": c.MaxOverdue, "max_lost": c.MaxLost, "updated_at": gorm.Expr("now()")}).Error
	if err != nil {
		if e := categoryConflict(err); e != err {
			return nil, e
		}
		return nil, fmt.Errorf("update category %s: %w", code, err)
	}
	if c.Code != code {
		if err := db.Exec(`UPDATE circ_settings SET self_registration_category = ?, updated_at = now()
			WHERE self_registration_category = ?`, c.Code, code).Error; err != nil {
			return nil, fmt.Errorf("rename category in settings: %w", err)
		}
	}
	return s.CategoryView(ctx, c.Code)
}

// DeleteCategory removes a category no patron, rule or setting uses.
func (s *Service) DeleteCategory(ctx context.Context, code string) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	if _, err := s.GetCategory(ctx, code); err != nil {
		return err
	}
	var use struct{ Patrons, Rules, Settings int64 }
	if err := db.Raw(`SELECT
  (SELECT count(*) FROM patrons WHERE category = @c) AS patrons,
  (SELECT count(*) FROM circ_rules WHERE patron_category = @c) AS rules,
  (SELECT count(*) FROM circ_settings WHERE self_registration_category = @c) AS settings`,
		map[string]any{"c": code}).Scan(&use).Error; err != nil {
		return fmt.Errorf("category use: %w", err)
	}
	if use.Patrons > 0 || use.Rules > 0 || use.Settings > 0 {
		return errs.E(errs.Conflict, "category_in_use", fmt.Sprintf(
			"category %s is used by %d patrons, %d circulation rules and %d self-registration settings; move them to another category first",
			code, use.Patrons, use.Rules, use.Settings)).
			WithDetails(map[string]any{"patrons": use.Patrons, "rules": use.Rules, "self_registration": use.Settings > 0})
	}
	if err := db.Where("code = ?", code).Delete(&Category{}).Error; err != nil {
		if e := categoryConflict(err); e != err {
			return e
		}
		return fmt.Errorf("delete category %s: %w", code, err)
	}
	return nil
}
