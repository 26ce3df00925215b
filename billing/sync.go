package billing

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v76"
	"gorm.io/gorm"
)

// ProcessEvent applies a verified event (workers call it). The library's
// state comes from the subscription as Stripe has it now, re-read here,
// never from the event's snapshot or order: an "updated" delivered before
// "created", or twice, leaves the same state. An event whose customer is
// not the library's own changes nothing.
func (s *Service) ProcessEvent(ctx context.Context, t EventTask) error {
	if !s.Enabled() {
		return nil
	}
	var sub *stripe.Subscription
	if t.SubscriptionID != "" {
		p := &stripe.SubscriptionParams{}
		p.Context = ctx
		var err error
		if sub, err = s.sc.Subscriptions.Get(t.SubscriptionID, p); err != nil {
			return fmt.Errorf("re-read subscription %s: %w", t.SubscriptionID, err)
		}
	}
	return s.tx(ctx, t.TenantID, func(ctx context.Context, db *gorm.DB) error {
		a, err := account(ctx, true)
		if err != nil {
			return err
		}
		if a.StripeCustomerID == "" || a.StripeCustomerID != t.CustomerID ||
			(sub != nil && (sub.Customer == nil || sub.Customer.ID != a.StripeCustomerID)) {
			s.log.Warn("stripe event for a customer that is not this library's; ignored", "event_id", t.EventID,
				"tenant_id", t.TenantID, "customer_id", t.CustomerID)
			return nil
		}
		before := *a
		if sub != nil {
			if err := s.apply(ctx, db, a, sub); err != nil {
				return err
			}
		}
		return s.mailTransitions(ctx, t, &before, a)
	})
}

// apply copies the subscription's state onto the account.
func (s *Service) apply(ctx context.Context, db *gorm.DB, a *Account, sub *stripe.Subscription) error {
	if a.StripeSubscriptionID != "" && a.StripeSubscriptionID != sub.ID {
		// Another subscription of the same customer: it replaces ours only
		// when ours has ended and it has not (a library that resubscribes).
		if !terminal(a.Status) || terminal(string(sub.Status)) {
			s.log.Warn("stripe subscription is not the library's current one; ignored", "subscription_id", sub.ID,
				"current", a.StripeSubscriptionID)
			return nil
		}
	}
	now := s.now()
	a.StripeSubscriptionID = sub.ID
	a.Status = string(sub.Status)
	if sub.Items != nil && len(sub.Items.Data) > 0 {
		it := sub.Items.Data[0]
		a.Quantity = int(it.Quantity)
		if it.Price != nil {
			if pl, pr := s.plans.ByLookupKey(it.Price.LookupKey); pl != nil {
				a.Plan, a.BillingInterval = pl.Code, pr.Interval
			} else {
				s.log.Warn("stripe price has no plan in the plans file; plan unchanged", "lookup_key", it.Price.LookupKey)
			}
		}
	}
	a.CurrentPeriodEnd = unixTime(sub.CurrentPeriodEnd)
	a.TrialEndsAt = unixTime(sub.TrialEnd)
	a.CancelAtPeriodEnd = sub.CancelAtPeriodEnd
	a.CanceledAt = unixTime(sub.CanceledAt)
	switch sub.Status {
	case stripe.SubscriptionStatusPastDue:
		if a.PastDueSince == nil {
			grace := now.AddDate(0, 0, s.cfg.GraceDays)
			a.PastDueSince, a.GraceEndsAt = &now, &grace
		}
	case stripe.SubscriptionStatusUnpaid, stripe.SubscriptionStatusCanceled, stripe.SubscriptionStatusIncompleteExpired:
		// Read-only; keep when the trouble started.
	default:
		a.PastDueSince, a.GraceEndsAt = nil, nil
	}
	limits, _ := json.Marshal(s.limits(a))
	a.Limits = limits
	a.SyncedAt = &now
	err := db.Exec(`UPDATE billing_accounts SET plan = ?, billing_interval = ?, status = ?, trial_ends_at = ?,
  stripe_subscription_id = ?, quantity = ?, current_period_end = ?, cancel_at_period_end = ?, canceled_at = ?,
  past_due_since = ?, grace_ends_at = ?, limits = ?, synced_at = ?, updated_at = now()`,
		a.Plan, a.BillingInterval, a.Status, a.TrialEndsAt, a.StripeSubscriptionID, a.Quantity, a.CurrentPeriodEnd,
		a.CancelAtPeriodEnd, a.CanceledAt, a.PastDueSince, a.GraceEndsAt, string(limits), a.SyncedAt).Error
	if err != nil {
		return fmt.Errorf("store subscription state: %w", err)
	}
	return nil
}

func unixTime(sec int64) *time.Time {
	if sec == 0 {
		return nil
	}
	t := time.Unix(sec, 0).UTC()
	return &t
}

// SyncQuantity sets the subscription's quantity to the billable branch
// count: more branches are prorated now, fewer take effect at renewal (no
// credit for the rest of the period).
func (s *Service) SyncQuantity(ctx context.Context, tenant uuid.UUID) error {
	if !s.Enabled() {
		return nil
	}
	var a *Account
	var want int64
	if err := s.tx(ctx, tenant, func(ctx context.Context, _ *gorm.DB) (err error) {
		if a, err = account(ctx, false); err != nil {
			return err
		}
		want, err = billableBranches(ctx)
		return err
	}); err != nil {
		return err
	}
	if a.StripeSubscriptionID == "" || terminal(a.Status) {
		return nil
	}
	gp := &stripe.SubscriptionParams{}
	gp.Context = ctx
	sub, err := s.sc.Subscriptions.Get(a.StripeSubscriptionID, gp)
	if err != nil {
		return fmt.Errorf("read subscription %s: %w", a.StripeSubscriptionID, err)
	}
	if sub.Items == nil || len(sub.Items.Data) == 0 {
		return fmt.Errorf("subscription %s has no items", sub.ID)
	}
	it := sub.Items.Data[0]
	if it.Quantity == want {
		return nil
	}
	proration := "create_prorations"
	if want < it.Quantity {
		proration = "none"
	}
	p := &stripe.SubscriptionItemParams{Quantity: stripe.Int64(want), ProrationBehavior: stripe.String(proration)}
	p.Context = ctx
	// The key names the change, so a retried task does not apply it twice.
	p.SetIdempotencyKey(fmt.Sprintf("stacks-qty-%s-%s-%d", tenant, it.ID, want))
	if _, err := s.sc.SubscriptionItems.Update(it.ID, p); err != nil {
		return fmt.Errorf("update quantity of %s to %d: %w", it.ID, want, err)
	}
	return s.tx(ctx, tenant, func(ctx context.Context, db *gorm.DB) error {
		return db.Exec("UPDATE billing_accounts SET quantity = ?, updated_at = now() WHERE stripe_subscription_id = ?", want, sub.ID).Error
	})
}
