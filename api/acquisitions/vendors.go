package acquisitions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// Vendor is a supplier the library orders from.
type Vendor struct {
	TenantID          uuid.UUID       `json:"-" gorm:"primaryKey"`
	ID                uuid.UUID       `json:"id" gorm:"primaryKey"`
	Code              string          `json:"code"`
	Name              string          `json:"name"`
	Email             string          `json:"email"`
	Contacts          json.RawMessage `json:"contacts" gorm:"type:jsonb"`
	Addresses         json.RawMessage `json:"addresses" gorm:"type:jsonb"`
	AccountNumbers    json.RawMessage `json:"account_numbers" gorm:"type:jsonb"`
	Currency          string          `json:"currency"`
	DiscountBP        int64           `json:"-" gorm:"column:discount_bp"`
	Discount          Percent         `json:"discount_percent" gorm:"-"`
	LeadTimeDays      int             `json:"lead_time_days"`
	ClaimIntervalDays int             `json:"claim_interval_days"`
	EDIID             string          `json:"edi_id" gorm:"column:edi_id"`
	Active            bool            `json:"active"`
	Notes             string          `json:"notes"`
	CreatedAt         time.Time       `json:"created_at"`
	UpdatedAt         time.Time       `json:"updated_at"`
}

func (v *Vendor) fill() *Vendor {
	v.Discount = Percent(v.DiscountBP)
	return v
}

// VendorInput is the body of POST and PATCH /api/v1/vendors: absent fields
// stay (PATCH) or take their defaults (POST).
type VendorInput struct {
	Code              *string          `json:"code"`
	Name              *string          `json:"name"`
	Email             *string          `json:"email"`
	Contacts          *json.RawMessage `json:"contacts"`
	Addresses         *json.RawMessage `json:"addresses"`
	AccountNumbers    *json.RawMessage `json:"account_numbers"`
	Currency          *string          `json:"currency"`
	Discount          *Percent         `json:"discount_percent"`
	LeadTimeDays      *int             `json:"lead_time_days"`
	ClaimIntervalDays *int             `json:"claim_interval_days"`
	EDIID             *string          `json:"edi_id"`
	Active            *bool            `json:"active"`
	Notes             *string          `json:"notes"`
}

var codeRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$`)

func (in *VendorInput) apply(v *Vendor) error {
	if in.Code != nil {
		c := strings.TrimSpace(*in.Code)
		if !codeRe.MatchString(c) {
			return errs.Field("code", "invalid_code", "code must be 1-40 letters, digits, '.', '_' or '-'")
		}
		v.Code = c
	}
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		if n == "" || len(n) > 200 {
			return errs.Field("name", "invalid_name", "name is required and at most 200 characters")
		}
		v.Name = n
	}
	if in.Email != nil {
		e := strings.TrimSpace(*in.Email)
		if e != "" {
			if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
				return errs.Field("email", "invalid_email", "email must be one address such as orders@vendor.example")
			}
		}
		v.Email = e
	}
	for _, j := range []struct {
		field string
		in    *json.RawMessage
		out   *json.RawMessage
	}{{"contacts", in.Contacts, &v.Contacts}, {"addresses", in.Addresses, &v.Addresses}, {"account_numbers", in.AccountNumbers, &v.AccountNumbers}} {
		if j.in == nil {
			continue
		}
		var arr []json.RawMessage
		if err := json.Unmarshal(*j.in, &arr); err != nil {
			return errs.Field(j.field, "invalid_"+j.field, j.field+" must be an array")
		}
		*j.out = *j.in
	}
	if in.Currency != nil {
		if !currencyRe.MatchString(*in.Currency) {
			return errs.Field("currency", "invalid_currency", "currency must be an ISO 4217 code such as USD")
		}
		v.Currency = *in.Currency
	}
	if in.Discount != nil {
		if *in.Discount < 0 || *in.Discount > 10000 {
			return errs.Field("discount_percent", "invalid_discount", "discount_percent must be between 0 and 100")
		}
		v.DiscountBP = int64(*in.Discount)
	}
	if in.LeadTimeDays != nil {
		if *in.LeadTimeDays < 0 || *in.LeadTimeDays > 3650 {
			return errs.Field("lead_time_days", "invalid_lead_time", "lead_time_days must be 0 to 3650")
		}
		v.LeadTimeDays = *in.LeadTimeDays
	}
	if in.ClaimIntervalDays != nil {
		if *in.ClaimIntervalDays < 1 || *in.ClaimIntervalDays > 3650 {
			return errs.Field("claim_interval_days", "invalid_claim_interval", "claim_interval_days must be 1 to 3650")
		}
		v.ClaimIntervalDays = *in.ClaimIntervalDays
	}
	if in.EDIID != nil {
		v.EDIID = strings.TrimSpace(*in.EDIID)
	}
	if in.Active != nil {
		v.Active = *in.Active
	}
	if in.Notes != nil {
		v.Notes = strings.TrimSpace(*in.Notes)
	}
	return nil
}

func vendorConflict(err error) error {
	if code, c := tenants.PgCode(err); code == tenants.PgUniqueViolation && strings.Contains(c, "code") {
		return errs.E(errs.Conflict, "vendor_code_taken", "another vendor already has this code").WithDetails(map[string]any{"field": "code"})
	}
	return err
}

// CreateVendor adds a vendor. Code, name and currency are required.
func (s *Service) CreateVendor(ctx context.Context, in VendorInput) (*Vendor, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	for f, p := range map[string]any{"code": in.Code, "name": in.Name, "currency": in.Currency} {
		if p.(*string) == nil {
			return nil, errs.Field(f, "required", f+" is required")
		}
	}
	v := &Vendor{TenantID: tenant, ID: tenants.NewID(), Contacts: json.RawMessage("[]"), Addresses: json.RawMessage("[]"),
		AccountNumbers: json.RawMessage("[]"), LeadTimeDays: 30, ClaimIntervalDays: 30, Active: true}
	if err := in.apply(v); err != nil {
		return nil, err
	}
	if err := db.Omit("Discount").Create(v).Error; err != nil {
		if e := vendorConflict(err); e != err {
			return nil, e
		}
		return nil, fmt.Errorf("insert vendor: %w", err)
	}
	return s.GetVendor(ctx, v.ID)
}

// GetVendor loads a vendor.
func (s *Service) GetVendor(ctx context.Context, id uuid.UUID) (*Vendor, error) {
	v, err := tenants.Find[Vendor](ctx, "no vendor with this id", "id = ?", id)
	if err != nil {
		return nil, err
	}
	return v.fill(), nil
}

// UpdateVendor changes a vendor's present fields.
func (s *Service) UpdateVendor(ctx context.Context, id uuid.UUID, in VendorInput) (*Vendor, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.GetVendor(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := in.apply(v); err != nil {
		return nil, err
	}
	v.UpdatedAt = s.now()
	if err := db.Omit("Discount", "CreatedAt").Save(v).Error; err != nil {
		if e := vendorConflict(err); e != err {
			return nil, e
		}
		return nil, fmt.Errorf("update vendor: %w", err)
	}
	return s.GetVendor(ctx, id)
}

// ListVendors lists vendors in creation order after the cursor.
func (s *Service) ListVendors(ctx context.Context, after uuid.UUID, limit int) ([]Vendor, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var rows []Vendor
	if err := db.Where("id > ?", after).Order("id").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list vendors: %w", err)
	}
	for i := range rows {
		rows[i].fill()
	}
	return rows, nil
}
