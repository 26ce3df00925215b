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

// RecordStripeEvent notes that a Stripe event is being processed; false
// means it was noted before (a replay), and the caller does nothing.
func (p *Pool) RecordStripeEvent(ctx context.Context, id, typ string) (bool, error) {
	r := p.platform(ctx).Exec("INSERT INTO stripe_events (id, type) VALUES (?, ?) ON CONFLICT (id) DO NOTHING", id, typ)
	if r.Error != nil {
		return false, fmt.Errorf("record stripe event %s: %w", id, r.Error)
	}
	return r.RowsAffected == 1, nil
}

// ForgetStripeEvent un-notes an event whose processing could not be
// queued, so Stripe's retry is processed.
func (p *Pool) ForgetStripeEvent(ctx context.Context, id string) error {
	if err := p.platform(ctx).Exec("DELETE FROM stripe_events WHERE id = ?", id).Error; err != nil {
		return fmt.Errorf("forget stripe event %s: %w", id, err)
	}
	return nil
}
