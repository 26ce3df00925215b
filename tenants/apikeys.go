package tenants

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
)

// APIKeyInput is the body of POST /api-keys.
type APIKeyInput struct {
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	BranchID  uuid.UUID  `json:"branch_id"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// CreateAPIKey issues a key. The secret is in the result's Key field and
// nowhere else: only its hash is stored.
func (s *Service) CreateAPIKey(ctx context.Context, in APIKeyInput) (*APIKey, error) {
	p := PrincipalFrom(ctx)
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	if p.UserID == uuid.Nil {
		return nil, errs.E(errs.Forbidden, "forbidden", "API keys are issued by staff users, not by other API keys")
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 100 {
		return nil, errs.Field("name", "invalid_name", "name is required (what the key is for) and must be at most 100 characters")
	}
	if in.Role == RoleOwner {
		return nil, errs.Field("role", "invalid_role", "API keys cannot hold the owner role")
	}
	if in.BranchID == uuid.Nil {
		return nil, errs.Field("branch_id", "required", "branch_id is required: the org unit the key acts for")
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(s.now()) {
		return nil, errs.Field("expires_at", "invalid_expiry", "expires_at must be in the future")
	}
	if err := checkGrantable(db, p, "role", []Grant{{Role: in.Role, BranchID: in.BranchID}}, false); err != nil {
		return nil, err
	}
	token, hash := newToken(apiKeyKind, p.TenantID)
	k := &APIKey{TenantID: p.TenantID, ID: NewID(), Name: in.Name, Prefix: token[:12] + "…" + token[len(token)-4:],
		KeyHash: hash, Role: in.Role, BranchID: in.BranchID, CreatedBy: p.UserID, CreatedAt: s.now(), ExpiresAt: in.ExpiresAt}
	if err := db.Omit("Key").Create(k).Error; err != nil {
		return nil, fmt.Errorf("create api key: %w", err)
	}
	k.Key = token
	return k, nil
}

// ListAPIKeys lists keys, revoked ones included, in id order (Limit+1 rows).
func (s *Service) ListAPIKeys(ctx context.Context, after uuid.UUID, limit int) ([]APIKey, error) {
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	var out []APIKey
	if err := db.Omit("Key").Where("id > ?", after).Order("id").Limit(limit + 1).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey revokes a key; revoking twice is harmless.
func (s *Service) RevokeAPIKey(ctx context.Context, id uuid.UUID) error {
	p := PrincipalFrom(ctx)
	db, err := DB(ctx)
	if err != nil {
		return err
	}
	var k APIKey
	r := db.Omit("Key").Where("id = ?", id).Limit(1).Find(&k)
	if r.Error != nil {
		return fmt.Errorf("revoke api key: %w", r.Error)
	}
	if r.RowsAffected == 0 {
		return errs.NotFoundf("no such API key")
	}
	if err := checkGrantable(db, p, "role", []Grant{{Role: k.Role, BranchID: k.BranchID}}, false); err != nil {
		return errs.E(errs.Forbidden, "forbidden", "you may not manage keys with this role at that unit")
	}
	if err := db.Exec(`UPDATE api_keys SET revoked_at = now() WHERE id = ? AND revoked_at IS NULL`, id).Error; err != nil {
		return fmt.Errorf("revoke api key %s: %w", id, err)
	}
	return nil
}

// Me describes the caller.
type Me struct {
	Tenant      Tenant       `json:"tenant"`
	User        *StaffUser   `json:"user"`
	APIKey      *APIKey      `json:"api_key"`
	Permissions []Permission `json:"permissions"`
	// Subscription is the library's access: a warning while a payment is
	// overdue (with the date access becomes read-only), read_only after.
	Subscription *Subscription `json:"subscription,omitempty"`
}

// Subscription is what /me says about the library's subscription.
type Subscription struct {
	Access
	Message string `json:"message,omitempty"`
}

// GetMe returns who the caller is and what they may do.
func (s *Service) GetMe(ctx context.Context) (*Me, error) {
	p := PrincipalFrom(ctx)
	db, err := DB(ctx)
	if err != nil {
		return nil, err
	}
	m := &Me{Permissions: []Permission{}}
	if s.billing != nil {
		m.Subscription = &Subscription{Access: p.Access, Message: p.Access.Message()}
	}
	if err := db.Where("id = ?", p.TenantID).Take(&m.Tenant).Error; err != nil {
		return nil, fmt.Errorf("me: tenant: %w", err)
	}
	if p.UserID != uuid.Nil {
		if m.User, err = s.GetStaff(ctx, p.UserID); err != nil {
			return nil, err
		}
	} else {
		m.APIKey = &APIKey{}
		if err := db.Omit("Key").Where("id = ?", p.APIKeyID).Take(m.APIKey).Error; err != nil {
			return nil, fmt.Errorf("me: api key: %w", err)
		}
	}
	seen := map[Permission]bool{}
	for _, g := range p.Grants {
		for _, perm := range g.Role.Permissions() {
			if !seen[perm] {
				seen[perm] = true
				m.Permissions = append(m.Permissions, perm)
			}
		}
	}
	return m, nil
}
