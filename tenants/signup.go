package tenants

import (
	"context"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/tz"
)

// SignupInput is the body of POST /api/v1/signup.
type SignupInput struct {
	LibraryName   string `json:"library_name"`
	Slug          string `json:"slug"`
	AdminEmail    string `json:"admin_email"`
	AdminPassword string `json:"admin_password"`
	AdminName     string `json:"admin_name"`
	Kind          string `json:"kind"`
	Timezone      string `json:"timezone"`
	Country       string `json:"country"`
	Currency      string `json:"currency"` // ISO 4217; default: the country's
}

// SignupResult is what signup returns: the tenant, its owner and a session.
type SignupResult struct {
	Tenant    TenantRef  `json:"tenant"`
	User      *StaffUser `json:"user"`
	Token     string     `json:"token"`
	ExpiresAt time.Time  `json:"expires_at"`
}

// TenantRef is the short form of a tenant.
type TenantRef struct {
	ID   uuid.UUID `json:"id"`
	Slug string    `json:"slug"`
	Name string    `json:"name"`
	Kind string    `json:"kind"`
}

var slugRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$`)

// reservedSlugs would collide with hostnames, routes or support addresses.
var reservedSlugs = []string{
	"admin", "administrator", "api", "app", "assets", "auth", "billing", "cdn", "dashboard", "dev", "docs",
	"help", "healthz", "internal", "login", "logout", "mail", "metrics", "null", "opac", "platform",
	"public", "readyz", "register", "root", "security", "signup", "stacks", "static", "status",
	"support", "system", "undefined", "webhook", "webhooks", "www",
}

func normalizeEmail(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	at := strings.LastIndexByte(s, '@')
	if err != nil || a.Address != s || at < 1 || !strings.Contains(s[at:], ".") || len(s) > 254 {
		return "", errs.Field(field, "invalid_email", fmt.Sprintf("%q is not an email address like name@example.org", s))
	}
	return strings.ToLower(s), nil
}

func (in *SignupInput) validate() error {
	in.LibraryName = strings.TrimSpace(in.LibraryName)
	in.Slug = strings.TrimSpace(in.Slug)
	if in.LibraryName == "" || len(in.LibraryName) > 200 {
		return errs.Field("library_name", "invalid_name", "library_name is required and must be at most 200 characters")
	}
	if !slugRe.MatchString(in.Slug) || strings.Contains(in.Slug, "--") {
		return errs.Field("slug", "invalid_slug", "slug must be 3-40 lowercase letters, digits or single hyphens, starting and ending with a letter or digit")
	}
	if slices.Contains(reservedSlugs, in.Slug) {
		return errs.Field("slug", "slug_reserved", fmt.Sprintf("%q is reserved; choose another slug", in.Slug))
	}
	email, err := normalizeEmail("admin_email", in.AdminEmail)
	if err != nil {
		return err
	}
	in.AdminEmail = email
	if err := CheckPassword("admin_password", in.AdminPassword, email[:strings.IndexByte(email, '@')], in.Slug); err != nil {
		return err
	}
	if in.Kind != KindLibrary && in.Kind != KindConsortium {
		return errs.Field("kind", "invalid_kind", `kind must be "library" or "consortium"`)
	}
	if in.Timezone == "" || in.Timezone == "Local" {
		return errs.Field("timezone", "invalid_timezone", "timezone is required: an IANA name such as America/Chicago")
	}
	if _, err := tz.Load(in.Timezone); err != nil {
		return errs.Field("timezone", "invalid_timezone", fmt.Sprintf("%q is not an IANA time zone such as America/Chicago", in.Timezone))
	}
	in.Country = strings.ToUpper(strings.TrimSpace(in.Country))
	r, err := language.ParseRegion(in.Country)
	if err != nil || len(in.Country) != 2 || !r.IsCountry() {
		return errs.Field("country", "invalid_country", fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 country code such as US or FR", in.Country))
	}
	// The currency defaults to the country's.
	if in.Currency == "" {
		in.Currency = "USD"
		if u, ok := currency.FromRegion(r); ok {
			in.Currency = u.String()
		}
	}
	if err := checkCurrency(in.Currency); err != nil {
		return err
	}
	return nil
}

// Signup creates a tenant, its root org unit, a main branch and the owner
// (with the owner role at the root) in one transaction, and logs the owner in.
func (s *Service) Signup(ctx context.Context, in SignupInput, ip, userAgent string) (*SignupResult, error) {
	// Every attempt counts, valid or not, so the endpoint cannot be used to
	// probe which slugs exist at speed.
	if err := s.checkSignupRate(ctx, ip); err != nil {
		return nil, err
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	hash, err := hashPassword(in.AdminPassword, s.opt.Hash)
	if err != nil {
		return nil, err
	}
	tenantID := NewID()
	var res *SignupResult
	err = s.pool.Tx(ctx, tenantID, func(ctx context.Context, tx *gorm.DB) error {
		t := Tenant{ID: tenantID, Slug: in.Slug, Name: in.LibraryName, Kind: in.Kind, Timezone: in.Timezone, Country: in.Country,
			Currency: in.Currency, Status: "active"}
		if err := tx.Create(&t).Error; err != nil {
			if code, _ := PgCode(err); code == PgUniqueViolation {
				return errs.E(errs.Conflict, "slug_taken", fmt.Sprintf("the slug %q is taken; choose another", in.Slug)).
					WithDetails(map[string]any{"field": "slug"})
			}
			return fmt.Errorf("signup: insert tenant: %w", err)
		}
		rootID, mainID := NewID(), NewID()
		root := &Branch{TenantID: tenantID, ID: rootID, Kind: in.Kind, Name: in.LibraryName,
			Code: strings.ToUpper(in.Slug[:min(len(in.Slug), 20)]), Path: UUIDs{rootID}, OpeningHours: OpeningHours{}}
		main := &Branch{TenantID: tenantID, ID: mainID, ParentID: &rootID, Kind: KindBranch, Name: "Main branch",
			Code: "MAIN", Path: UUIDs{rootID, mainID}, OpeningHours: OpeningHours{}}
		if root.Code == "MAIN" {
			root.Code = "ROOT"
		}
		for _, b := range []*Branch{root, main} {
			if err := insertBranch(tx, b); err != nil {
				return fmt.Errorf("signup: %w", err)
			}
		}
		u := &StaffUser{TenantID: tenantID, ID: NewID(), Email: in.AdminEmail, Name: strings.TrimSpace(in.AdminName),
			PasswordHash: hash, Status: "active", Roles: []Grant{{Role: RoleOwner, BranchID: rootID}}}
		if err := insertStaff(tx, u); err != nil {
			return fmt.Errorf("signup: %w", err)
		}
		token, exp, err := s.newSession(tx, u, ip, userAgent)
		if err != nil {
			return err
		}
		if s.billing != nil {
			if err := s.billing.SignedUp(ctx); err != nil {
				return fmt.Errorf("signup: billing: %w", err)
			}
		}
		res = &SignupResult{Tenant: TenantRef{ID: t.ID, Slug: t.Slug, Name: t.Name, Kind: t.Kind}, User: u, Token: token, ExpiresAt: exp}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (s *Service) checkSignupRate(ctx context.Context, ip string) error {
	if s.opt.SignupsPerIPPerHour < 0 {
		return nil
	}
	n, err := s.counter.Incr(ctx, "signup:ip:"+ip, time.Hour)
	if err != nil {
		return &errs.Error{Kind: errs.Unavailable, Code: "unavailable", Message: "signup is briefly unavailable; try again in a minute", Err: err}
	}
	if n > int64(s.opt.SignupsPerIPPerHour) {
		return errs.E(errs.RateLimited, "rate_limited", "too many signups from this address; try again in an hour")
	}
	return nil
}
