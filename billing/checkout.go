package billing

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v76"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// CheckoutInput chooses a plan.
type CheckoutInput struct {
	Plan     string `json:"plan"`
	Interval string `json:"interval"` // month | year
}

// URL is where to send the library's browser.
type URL struct {
	URL string `json:"url"`
}

// Checkout starts a Stripe Checkout Session for a subscription to the plan:
// the library's Stripe customer (created once and reused), the tenant as
// client_reference_id and in the subscription's metadata, the billable
// branch count as quantity. Stripe calls happen outside any transaction.
func (s *Service) Checkout(ctx context.Context, in CheckoutInput) (*URL, error) {
	if !s.Enabled() {
		return nil, ErrOff
	}
	pl := s.plans.Plan(in.Plan)
	if pl == nil || len(pl.Prices) == 0 {
		return nil, errs.Field("plan", "unknown_plan", fmt.Sprintf("%q is not a plan you can subscribe to; GET /api/v1/billing/plans lists them", in.Plan))
	}
	if in.Interval == "" {
		in.Interval = "month"
	}
	price := pl.Price(in.Interval)
	if price == nil {
		return nil, errs.Field("interval", "unknown_interval", fmt.Sprintf("the %s plan is sold by %s; interval %q is not one of them", pl.Code, intervals(pl), in.Interval))
	}
	tenant := tenants.PrincipalFrom(ctx).TenantID
	var a *Account
	var qty int64
	var who *tenants.Tenant
	if err := s.tx(ctx, tenant, func(ctx context.Context, _ *gorm.DB) error {
		var err error
		if a, err = account(ctx, false); err != nil {
			return err
		}
		if qty, err = billableBranches(ctx); err != nil {
			return err
		}
		who, err = s.pool.TenantByID(ctx, tenant)
		return err
	}); err != nil {
		return nil, err
	}
	if a.StripeSubscriptionID != "" && !terminal(a.Status) {
		return nil, errs.E(errs.Conflict, "already_subscribed",
			"this library already has a subscription; change plan or payment details in the billing portal (POST /api/v1/billing/portal)")
	}
	cust, err := s.customer(ctx, tenant, a, who)
	if err != nil {
		return nil, err
	}
	priceID, err := s.priceID(price.LookupKey)
	if err != nil {
		return nil, err
	}
	p := &stripe.CheckoutSessionParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModeSubscription)),
		Customer:          stripe.String(cust),
		ClientReferenceID: stripe.String(tenant.String()),
		LineItems:         []*stripe.CheckoutSessionLineItemParams{{Price: stripe.String(priceID), Quantity: stripe.Int64(qty)}},
		SuccessURL:        stripe.String(s.cfg.BaseURL + "/billing/success?session_id={CHECKOUT_SESSION_ID}"),
		CancelURL:         stripe.String(s.cfg.BaseURL + "/billing/canceled"),
		SubscriptionData: &stripe.CheckoutSessionSubscriptionDataParams{
			Metadata: map[string]string{"tenant_id": tenant.String(), "plan": pl.Code},
		},
	}
	// Paying during the trial does not shorten it: Stripe starts charging
	// when it ends (it needs at least two days' notice).
	if a.Status == "trialing" && a.TrialEndsAt != nil && a.TrialEndsAt.Sub(s.now()) > 49*time.Hour {
		p.SubscriptionData.TrialEnd = stripe.Int64(a.TrialEndsAt.Unix())
	}
	p.Context = ctx
	sess, err := s.sc.CheckoutSessions.New(p)
	if err != nil {
		return nil, s.stripeErr("start checkout", err)
	}
	return &URL{URL: sess.URL}, nil
}

// Portal opens a Customer Portal session (change card, plan, cancel).
func (s *Service) Portal(ctx context.Context, _ struct{}) (*URL, error) {
	if !s.Enabled() {
		return nil, ErrOff
	}
	tenant := tenants.PrincipalFrom(ctx).TenantID
	var a *Account
	if err := s.tx(ctx, tenant, func(ctx context.Context, _ *gorm.DB) (err error) {
		a, err = account(ctx, false)
		return err
	}); err != nil {
		return nil, err
	}
	if a.StripeCustomerID == "" {
		return nil, errs.E(errs.Conflict, "no_customer", "this library has not subscribed yet; start with POST /api/v1/billing/checkout")
	}
	p := &stripe.BillingPortalSessionParams{Customer: stripe.String(a.StripeCustomerID), ReturnURL: stripe.String(s.cfg.BaseURL + "/billing")}
	p.Context = ctx
	sess, err := s.sc.BillingPortalSessions.New(p)
	if err != nil {
		return nil, s.stripeErr("open the billing portal", err)
	}
	return &URL{URL: sess.URL}, nil
}

// customer returns the library's Stripe customer, creating it once. The
// idempotency key makes two concurrent first checkouts create one customer.
func (s *Service) customer(ctx context.Context, tenant uuid.UUID, a *Account, who *tenants.Tenant) (string, error) {
	if a.StripeCustomerID != "" {
		return a.StripeCustomerID, nil
	}
	p := &stripe.CustomerParams{Name: stripe.String(who.Name), Metadata: map[string]string{"tenant_id": tenant.String(), "slug": who.Slug}}
	p.SetIdempotencyKey("stacks-customer-" + tenant.String())
	p.Context = ctx
	c, err := s.sc.Customers.New(p)
	if err != nil {
		return "", s.stripeErr("create the Stripe customer", err)
	}
	var id string
	err = s.tx(ctx, tenant, func(ctx context.Context, db *gorm.DB) error {
		if err := db.Exec(`UPDATE billing_accounts SET stripe_customer_id = ?, updated_at = now() WHERE stripe_customer_id = ''`, c.ID).Error; err != nil {
			return fmt.Errorf("store customer: %w", err)
		}
		return db.Raw("SELECT stripe_customer_id FROM billing_accounts").Row().Scan(&id)
	})
	return id, err
}

// priceID finds the Stripe price for a lookup key, so the same plans file
// runs against test and live accounts.
func (s *Service) priceID(key string) (string, error) {
	it := s.sc.Prices.List(&stripe.PriceListParams{LookupKeys: []*string{stripe.String(key)}, Active: stripe.Bool(true)})
	for it.Next() {
		return it.Price().ID, nil
	}
	if err := it.Err(); err != nil {
		return "", s.stripeErr("find the price "+key, err)
	}
	return "", errs.E(errs.Unavailable, "price_missing", "Stripe has no active price with lookup key "+key+"; create it (see README, Billing)")
}

func intervals(pl *Plan) string {
	out := ""
	for i, p := range pl.Prices {
		if i > 0 {
			out += " or "
		}
		out += p.Interval
	}
	return out
}

// terminal statuses end a subscription; a new checkout may start another.
func terminal(status string) bool {
	return status == "canceled" || status == "incomplete_expired"
}

// stripeErr turns a Stripe failure into a 503 a person can act on; the
// Stripe message goes to the log (it never contains the key).
func (s *Service) stripeErr(what string, err error) error {
	s.log.Error("stripe call failed", "call", what, "error", err)
	return &errs.Error{Kind: errs.Unavailable, Code: "stripe_unavailable", Message: "could not " + what + " at Stripe; try again in a minute",
		Err: fmt.Errorf("stripe: %s: %w", what, err)}
}
