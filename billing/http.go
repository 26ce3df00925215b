package billing

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stripe/stripe-go/v76"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/tenants"
)

// Routes are the billing endpoints. Those that call Stripe are External:
// they authenticate in a short transaction and hold none while Stripe
// answers. Checkout and the portal stay open to a read-only library
// (AllowReadOnly): paying is how it gets out.
func (s *Service) Routes() []httpx.Route {
	manage := string(tenants.PermBillingManage)
	return []httpx.Route{
		{Method: "GET", Path: "/api/v1/billing/plans", Public: true, Summary: "Plans with prices and limits", Handler: s.handlePlans},
		{Method: "GET", Path: "/api/v1/billing", Perm: manage, Summary: "The library's plan, status, usage and invoices",
			Handler: httpx.Action(fiber.StatusOK, httpx.BodyOptional, s.Status), External: true},
		{Method: "POST", Path: "/api/v1/billing/checkout", Perm: manage, Summary: "Start a Stripe Checkout for a plan",
			Handler: httpx.Action(fiber.StatusOK, httpx.BodyRequired, s.Checkout), External: true, AllowReadOnly: true},
		{Method: "POST", Path: "/api/v1/billing/portal", Perm: manage, Summary: "Open the Stripe Customer Portal",
			Handler: httpx.Action(fiber.StatusOK, httpx.BodyOptional, s.Portal), External: true, AllowReadOnly: true},
		{Method: "POST", Path: "/api/v1/billing/webhook", Public: true, Summary: "Stripe webhook (signed)", Handler: s.handleWebhook},
	}
}

func (s *Service) handlePlans(c *fiber.Ctx) error {
	return c.JSON(s.plans)
}

func (s *Service) handleWebhook(c *fiber.Ctx) error {
	// The signature covers the raw bytes: verify them before any parsing.
	body := append([]byte(nil), c.Body()...)
	res, err := s.Webhook(c.UserContext(), body, c.Get("Stripe-Signature"))
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// Usage is one limited resource.
type Usage struct {
	Used  int `json:"used"`
	Limit int `json:"limit"` // 0: no limit
}

// Invoice is an invoice as the library sees it.
type Invoice struct {
	ID        string     `json:"id"`
	Number    string     `json:"number"`
	Status    string     `json:"status"`
	AmountDue int64      `json:"amount_due"`
	Paid      int64      `json:"amount_paid"`
	Currency  string     `json:"currency"`
	Created   time.Time  `json:"created"`
	DueAt     *time.Time `json:"due_at,omitempty"`
	URL       string     `json:"hosted_invoice_url,omitempty"`
	PDF       string     `json:"invoice_pdf,omitempty"`
}

// StatusView is GET /billing.
type StatusView struct {
	Account
	Access   tenants.Access   `json:"access"`
	Message  string           `json:"message,omitempty"`
	Enabled  bool             `json:"billing_enabled"`
	Usage    map[string]Usage `json:"usage"`
	Upcoming *Invoice         `json:"upcoming_invoice"`
	Invoices []Invoice        `json:"invoices"`
}

// Status shows the library's plan, state, usage against its limits and,
// from Stripe, the upcoming invoice and the last ten.
func (s *Service) Status(ctx context.Context, _ struct{}) (*StatusView, error) {
	p := tenants.PrincipalFrom(ctx)
	v := &StatusView{Enabled: s.Enabled(), Usage: map[string]Usage{}, Invoices: []Invoice{}, Access: p.Access, Message: p.Access.Message()}
	err := s.tx(ctx, p.TenantID, func(ctx context.Context, _ *gorm.DB) error {
		a, err := account(ctx, false)
		if err != nil {
			return err
		}
		v.Account = *a
		lim := s.limits(a)
		for r := range usageSQL {
			n, err := usage(ctx, r, 1<<30)
			if err != nil {
				return err
			}
			v.Usage[r] = Usage{Used: n, Limit: lim.Of(r)}
		}
		return nil
	})
	if err != nil || !s.Enabled() || v.StripeCustomerID == "" {
		return v, err
	}
	if v.StripeSubscriptionID != "" && !terminal(v.Status) {
		up := &stripe.InvoiceUpcomingParams{Customer: stripe.String(v.StripeCustomerID)}
		up.Context = ctx
		if inv, err := s.sc.Invoices.Upcoming(up); err == nil {
			v.Upcoming = invoiceView(inv)
		} else {
			s.log.Warn("stripe upcoming invoice", "error", err)
		}
	}
	lp := &stripe.InvoiceListParams{Customer: stripe.String(v.StripeCustomerID)}
	lp.Context = ctx
	lp.Limit = stripe.Int64(10)
	it := s.sc.Invoices.List(lp)
	for len(v.Invoices) < 10 && it.Next() {
		v.Invoices = append(v.Invoices, *invoiceView(it.Invoice()))
	}
	if err := it.Err(); err != nil {
		return nil, s.stripeErr("list invoices", err)
	}
	return v, nil
}

func invoiceView(in *stripe.Invoice) *Invoice {
	v := &Invoice{ID: in.ID, Number: in.Number, Status: string(in.Status), AmountDue: in.AmountDue, Paid: in.AmountPaid,
		Currency: string(in.Currency), Created: time.Unix(in.Created, 0).UTC(), URL: in.HostedInvoiceURL, PDF: in.InvoicePDF}
	v.DueAt = unixTime(in.DueDate)
	return v
}
