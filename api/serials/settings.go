package serials

import (
	"context"
	"fmt"
	"net/mail"
	"strings"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// Settings are a library's serials settings.
type Settings struct {
	TenantID          uuid.UUID `json:"-" gorm:"primaryKey"`
	ClaimIntervalDays int       `json:"claim_interval_days"`
	MaxClaims         int       `json:"max_claims"`
	RenewalNoticeDays int       `json:"renewal_notice_days"`
	StaffEmail        string    `json:"staff_email"`
}

// TableName is the serial_settings table.
func (Settings) TableName() string { return "serial_settings" }

// GetSettings returns the library's settings (the defaults without a row).
func (s *Service) GetSettings(ctx context.Context) (*Settings, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	st := Settings{TenantID: tenant, ClaimIntervalDays: 30, MaxClaims: 3, RenewalNoticeDays: 60}
	if err := db.Limit(1).Find(&st).Error; err != nil {
		return nil, fmt.Errorf("read serial settings: %w", err)
	}
	return &st, nil
}

// SettingsInput is the body of PATCH /serials/settings.
type SettingsInput struct {
	ClaimIntervalDays *int    `json:"claim_interval_days"`
	MaxClaims         *int    `json:"max_claims"`
	RenewalNoticeDays *int    `json:"renewal_notice_days"`
	StaffEmail        *string `json:"staff_email"`
}

// UpdateSettings changes the settings present in the input.
func (s *Service) UpdateSettings(ctx context.Context, in SettingsInput) (*Settings, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.GetSettings(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name     string
		v        *int
		dst      *int
		min, max int
	}{{"claim_interval_days", in.ClaimIntervalDays, &st.ClaimIntervalDays, 1, 365}, {"max_claims", in.MaxClaims, &st.MaxClaims, 1, 10},
		{"renewal_notice_days", in.RenewalNoticeDays, &st.RenewalNoticeDays, 1, 365}} {
		if f.v == nil {
			continue
		}
		if *f.v < f.min || *f.v > f.max {
			return nil, errs.Field(f.name, "invalid_setting", fmt.Sprintf("%s must be %d to %d", f.name, f.min, f.max))
		}
		*f.dst = *f.v
	}
	if in.StaffEmail != nil {
		e := strings.TrimSpace(*in.StaffEmail)
		if e != "" {
			if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
				return nil, errs.Field("staff_email", "invalid_email", "staff_email must be an email address such as serials@library.example")
			}
		}
		st.StaffEmail = e
	}
	err = db.Exec(`INSERT INTO serial_settings (tenant_id, claim_interval_days, max_claims, renewal_notice_days, staff_email)
VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET claim_interval_days = EXCLUDED.claim_interval_days,
  max_claims = EXCLUDED.max_claims, renewal_notice_days = EXCLUDED.renewal_notice_days, staff_email = EXCLUDED.staff_email, updated_at = now()`,
		st.TenantID, st.ClaimIntervalDays, st.MaxClaims, st.RenewalNoticeDays, st.StaffEmail).Error
	if err != nil {
		return nil, fmt.Errorf("save serial settings: %w", err)
	}
	return st, nil
}
