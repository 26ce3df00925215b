package tenants

import (
	"context"
	"encoding/json"
	"fmt"
)

// Billing is what the rest of Stacks asks the billing module, which sits
// above tenants (it imports it): may this library create more of a
// resource, and tell Stripe when the branch count changed. Without one
// (self-hosted, tests of other modules) everything is allowed.
type Billing interface {
	// SignedUp runs in the signup transaction of a new library.
	SignedUp(ctx context.Context) error
	// CheckLimit refuses (402 plan_limit_reached) adding n of resource
	// beyond the plan: "branches", "staff", "bibs", "patrons".
	CheckLimit(ctx context.Context, resource string, n int) error
	// BranchesChanged runs in the transaction that added or removed a
	// branch; the subscription's quantity follows after the commit.
	BranchesChanged(ctx context.Context) error
}

// Resources with plan limits.
const (
	ResourceBranches = "branches"
	ResourceStaff    = "staff"
	ResourceBibs     = "bibs"
	ResourcePatrons  = "patrons"
)

// SetBilling connects the billing module.
func (s *Service) SetBilling(b Billing) { s.billing = b }

// CheckLimit asks billing whether n more of resource fit the library's plan.
func (s *Service) CheckLimit(ctx context.Context, resource string, n int) error {
	if s.billing == nil {
		return nil
	}
	return s.billing.CheckLimit(ctx, resource, n)
}

func (s *Service) branchesChanged(ctx context.Context) error {
	if s.billing == nil {
		return nil
	}
	return s.billing.BranchesChanged(ctx)
}

// Access is what the library's subscription allows now (app.tenant_access()).
type Access struct {
	Access string `json:"access"` // full | warning | read_only
	Status string `json:"status"` // the subscription status
	Plan   string `json:"plan"`
	Reason string `json:"reason,omitempty"`
	Until  string `json:"until,omitempty"` // trial end or end of the grace period
}

// ReadOnly reports whether writes are refused.
func (a Access) ReadOnly() bool { return a.Access == "read_only" }

func parseAccess(b []byte) (Access, error) {
	var a Access
	if len(b) == 0 {
		return Access{Access: "full"}, nil
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("tenant access: %w", err)
	}
	return a, nil
}

// Message says, in a sentence staff can act on, what the access means.
func (a Access) Message() string {
	until := a.Until
	if len(until) >= 10 {
		until = until[:10]
	}
	switch {
	case a.Access == "warning":
		return "The last payment for this library's subscription failed. Update the card in the billing portal (POST /api/v1/billing/portal) before " +
			until + "; after that date Stacks becomes read-only."
	case a.Reason == "trial_expired":
		return "This library's trial has ended. Reading works; to make changes again, choose a plan (POST /api/v1/billing/checkout)."
	case a.Access == "read_only":
		return "This library's subscription is " + a.Status + ". Reading works and returns can still be checked in; to make changes again, " +
			"pay or choose a plan (POST /api/v1/billing/portal or /api/v1/billing/checkout)."
	}
	return ""
}
