package tenants

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// The platform API: the few reads of the tenant directory that happen
// outside any tenant (login by slug, schedulers fanning out per tenant).
// Tenant tables stay invisible from here because RLS fails closed.

// TenantBySlug returns the tenant with slug, or nil when there is none.
func (p *Pool) TenantBySlug(ctx context.Context, slug string) (*Tenant, error) {
	return p.findTenant(ctx, "slug = ?", slug)
}

// TenantByID returns the tenant with id, or nil when there is none.
func (p *Pool) TenantByID(ctx context.Context, id uuid.UUID) (*Tenant, error) {
	return p.findTenant(ctx, "id = ?", id)
}

func (p *Pool) findTenant(ctx context.Context, where string, arg any) (*Tenant, error) {
	var t Tenant
	r := p.platform(ctx).Where(where, arg).Limit(1).Find(&t)
	if r.Error != nil {
		return nil, fmt.Errorf("find tenant %v: %w", arg, r.Error)
	}
	if r.RowsAffected == 0 {
		return nil, nil
	}
	return &t, nil
}

// ActiveTenants lists active tenants in id order, for periodic jobs that fan
// out per tenant.
func (p *Pool) ActiveTenants(ctx context.Context) ([]Tenant, error) {
	var ts []Tenant
	if err := p.platform(ctx).Where("status = 'active'").Order("id").Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("active tenants: %w", err)
	}
	return ts, nil
}
