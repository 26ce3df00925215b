package tenants

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/tz"
)

// TenantInput is the body of PATCH /api/v1/tenant: absent fields stay.
type TenantInput struct {
	Name     *string `json:"name"`
	Timezone *string `json:"timezone"`
	Country  *string `json:"country"`
	// Currency can change only while the library has no money on its books
	// (fines ledger empty): amounts are never converted.
	Currency *string `json:"currency"`
}

// checkCurrency accepts an ISO 4217 code.
func checkCurrency(c string) error {
	if u, err := currency.ParseISO(c); err != nil || u.String() != c {
		return errs.Field("currency", "invalid_currency", fmt.Sprintf("%q is not an ISO 4217 currency code such as USD or EUR", c))
	}
	return nil
}

// GetTenant returns the caller's own tenant.
func (s *Service) GetTenant(ctx context.Context) (*Tenant, error) {
	id, err := CurrentTenant(ctx)
	if err != nil {
		return nil, err
	}
	return Find[Tenant](ctx, "no such library", "id = ?", id)
}

// UpdateTenant changes the library's name, time zone or country. The time
// zone is the default of every branch without its own.
func (s *Service) UpdateTenant(ctx context.Context, in TenantInput) (*Tenant, error) {
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.GetTenant(ctx)
	if err != nil {
		return nil, err
	}
	set := map[string]any{"updated_at": gorm.Expr("now()")}
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		if n == "" || len(n) > 200 {
			return nil, errs.Field("name", "invalid_name", "name is required and must be at most 200 characters")
		}
		set["name"] = n
	}
	if in.Timezone != nil {
		if _, err := tz.Load(*in.Timezone); err != nil || *in.Timezone == "" || *in.Timezone == "Local" {
			return nil, errs.Field("timezone", "invalid_timezone", fmt.Sprintf("%q is not an IANA time zone such as America/Chicago", *in.Timezone))
		}
		set["timezone"] = *in.Timezone
	}
	if in.Country != nil {
		c := strings.ToUpper(strings.TrimSpace(*in.Country))
		if r, err := language.ParseRegion(c); err != nil || len(c) != 2 || !r.IsCountry() {
			return nil, errs.Field("country", "invalid_country", fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 country code such as US or FR", c))
		}
		set["country"] = c
	}
	if in.Currency != nil && *in.Currency != t.Currency {
		if err := checkCurrency(*in.Currency); err != nil {
			return nil, err
		}
		var used bool
		if err := db.Raw("SELECT EXISTS (SELECT 1 FROM fee_entries)").Scan(&used).Error; err != nil {
			return nil, fmt.Errorf("ledger in use: %w", err)
		}
		if used {
			return nil, errs.E(errs.Conflict, "currency_in_use", "the fines ledger already holds amounts in "+t.Currency+"; the currency cannot change")
		}
		set["currency"] = *in.Currency
	}
	if err := db.Model(&Tenant{}).Where("id = ?", t.ID).Updates(set).Error; err != nil {
		return nil, fmt.Errorf("update tenant %s: %w", t.ID, err)
	}
	return s.GetTenant(ctx)
}
