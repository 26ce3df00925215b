package billing

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v76"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/api/tz"
	"github.com/stacks-ils/stacks/tenants"
)

// Billing mail goes to the library's owners through the outbox, in the
// transaction that learnt the news; its dedupe key (the invoice, the
// subscription, the trial's end) keeps a replayed event or a re-run from
// mailing twice.
const (
	MailTrialEnding   = "billing_trial_ending"
	MailPaymentFailed = "billing_payment_failed"
	MailCanceled      = "billing_canceled"
	MailDeletion      = "billing_deletion"
	MailCardExpiring  = "billing_card_expiring"
)

func (s *Service) mailOwners(ctx context.Context, kind, key, subject, text string) error {
	if s.notices == nil {
		return nil
	}
	to, err := owners(ctx)
	if err != nil {
		return err
	}
	for _, addr := range to {
		if _, err := s.notices.QueueMail(ctx, notices.Mail{Kind: kind, DedupeKey: key, To: addr, Subject: subject, Text: text}); err != nil {
			return fmt.Errorf("billing mail %s: %w", kind, err)
		}
	}
	return nil
}

// billingPage is where billing mail sends the library's owners.
func (s *Service) billingPage() string {
	if s.cfg.PortalURL != "" {
		return s.cfg.PortalURL
	}
	return s.cfg.BaseURL + "/billing"
}

// mailTransitions writes the mail an event calls for.
func (s *Service) mailTransitions(ctx context.Context, t EventTask, before, after *Account) error {
	switch {
	case t.Type == "invoice.payment_failed" && t.InvoiceID != "":
		until := "soon"
		if after.GraceEndsAt != nil {
			until = after.GraceEndsAt.Format("2 January 2006")
		}
		if err := s.mailOwners(ctx, MailPaymentFailed, "invoice:"+t.InvoiceID, "Stacks: your payment failed",
			fmt.Sprintf("We could not collect the payment for your Stacks subscription.\n\n"+
				"Please update your card in the billing portal: %s\n\n"+
				"Your library keeps full access until %s; after that Stacks becomes read-only until the invoice is paid "+
				"(returns can still be checked in).\n", s.billingPage(), until)); err != nil {
			return err
		}
	case t.Type == "customer.subscription.trial_will_end" && after.TrialEndsAt != nil:
		if err := s.trialMail(ctx, after, "stripe"); err != nil {
			return err
		}
	}
	if after.Status == "canceled" && before.Status != "canceled" {
		return s.mailOwners(ctx, MailCanceled, "canceled:"+after.StripeSubscriptionID, "Stacks: your subscription has ended",
			fmt.Sprintf("Your library's Stacks subscription has been canceled. Your catalogue, patrons and history are kept "+
				"and readable; to make changes again, choose a plan: %s\n", s.billingPage()))
	}
	return nil
}

func (s *Service) trialMail(ctx context.Context, a *Account, key string) error {
	end := a.TrialEndsAt.Format("2 January 2006")
	return s.mailOwners(ctx, MailTrialEnding, "trial:"+a.TrialEndsAt.Format(time.DateOnly)+":"+key,
		"Stacks: your trial ends on "+end,
		fmt.Sprintf("Your library's Stacks trial ends on %s. To keep making changes after that day, choose a plan: %s\n\n"+
			"Nothing is deleted when a trial ends: the library becomes read-only until it subscribes.\n", end, s.billingPage()))
}

// Daily is a library's billing day (workers call it once a day with the
// library's local date): trial reminders 7 days and 1 day before the trial
// ends; for a library whose subscription ended, reminders to export its
// data 30, 7 and 1 days before the retention period ends, and on that day
// the deletion of all its data. It returns what it did.
func (s *Service) Daily(ctx context.Context, tenant uuid.UUID, today time.Time) (string, error) {
	if !s.Enabled() {
		return "", nil
	}
	did := ""
	err := s.tx(ctx, tenant, func(ctx context.Context, db *gorm.DB) error {
		a, err := account(ctx, false)
		if err != nil {
			return err
		}
		t, err := s.pool.TenantByID(ctx, tenant)
		if err != nil {
			return err
		}
		loc := tz.OrUTC(t.Timezone)
		daysTo := func(at time.Time) int { return int(civil(at.In(loc)).Sub(civil(today)).Hours() / 24) }
		switch {
		case a.Status == "trialing" && a.TrialEndsAt != nil:
			if d := daysTo(*a.TrialEndsAt); d == 7 || d == 1 {
				did = "trial_reminder"
				return s.trialMail(ctx, a, fmt.Sprintf("%dd", d))
			}
		case terminal(a.Status):
			ended := a.UpdatedAt
			if a.CanceledAt != nil {
				ended = *a.CanceledAt
			}
			deleteOn := ended.AddDate(0, 0, s.cfg.RetentionDays)
			switch d := daysTo(deleteOn); {
			case d <= 0:
				var n int64
				if err := db.Raw("SELECT app.purge_tenant()").Row().Scan(&n); err != nil {
					return fmt.Errorf("delete library data: %w", err)
				}
				if err := db.Exec("UPDATE tenants SET status = 'closed', updated_at = now() WHERE id = ?", tenant).Error; err != nil {
					return fmt.Errorf("close tenant: %w", err)
				}
				s.log.Info("library data deleted after the retention period", "tenant_id", tenant, "rows", n)
				did = "deleted"
			case d == 30 || d == 7 || d == 1:
				did = "deletion_reminder"
				when := civil(deleteOn.In(loc)).Format("2 January 2006")
				return s.mailOwners(ctx, MailDeletion, fmt.Sprintf("deletion:%s:%dd", when, d), "Stacks: your library's data will be deleted on "+when,
					fmt.Sprintf("Your Stacks subscription has ended, and your library's data will be deleted on %s.\n\n"+
						"Before then you can take everything with you:\n"+
						"  the catalogue as MARC: %s/api/v1/exports/marc?items=852\n"+
						"  patrons as CSV:        %s/api/v1/exports/patrons.csv\n"+
						"  loans as CSV:          %s/api/v1/exports/loans.csv\n\n"+
						"To keep your library instead, choose a plan: %s\n", when, s.cfg.BaseURL, s.cfg.BaseURL, s.cfg.BaseURL, s.billingPage()))
			}
		}
		return nil
	})
	if err != nil || did != "" {
		return did, err
	}
	return s.cardExpiring(ctx, tenant, today)
}

// cardExpiring mails the owners once when the card paying a live
// subscription expires by the end of next month (Stripe's own "expiring"
// events cover only legacy card sources). The Stripe call happens outside
// any transaction.
func (s *Service) cardExpiring(ctx context.Context, tenant uuid.UUID, today time.Time) (string, error) {
	var a *Account
	if err := s.tx(ctx, tenant, func(ctx context.Context, _ *gorm.DB) (err error) {
		a, err = account(ctx, false)
		return err
	}); err != nil {
		return "", err
	}
	if a.StripeSubscriptionID == "" || terminal(a.Status) {
		return "", nil
	}
	p := &stripe.SubscriptionParams{}
	p.Context = ctx
	p.AddExpand("default_payment_method")
	sub, err := s.sc.Subscriptions.Get(a.StripeSubscriptionID, p)
	if err != nil {
		return "", fmt.Errorf("read subscription %s: %w", a.StripeSubscriptionID, err)
	}
	pm := sub.DefaultPaymentMethod
	if pm == nil || pm.Card == nil || pm.Card.ExpYear == 0 {
		return "", nil
	}
	// A card is valid to the end of its expiry month.
	expires := time.Date(int(pm.Card.ExpYear), time.Month(pm.Card.ExpMonth)+1, 1, 0, 0, 0, 0, time.UTC)
	limit := time.Date(today.Year(), today.Month()+2, 1, 0, 0, 0, 0, time.UTC)
	if expires.After(limit) {
		return "", nil
	}
	exp := fmt.Sprintf("%02d/%d", pm.Card.ExpMonth, pm.Card.ExpYear)
	err = s.tx(ctx, tenant, func(ctx context.Context, _ *gorm.DB) error {
		return s.mailOwners(ctx, MailCardExpiring, "card:"+pm.ID+":"+exp, "Stacks: the card for your subscription expires "+exp,
			fmt.Sprintf("The %s card ending %s that pays for your Stacks subscription expires at the end of %s.\n\n"+
				"Please add a new card in the billing portal so the next payment does not fail: %s\n", pm.Card.Brand, pm.Card.Last4, exp, s.billingPage()))
	})
	return "card_reminder", err
}

// civil is the local calendar date of t at midnight UTC, for day arithmetic
// that DST cannot skew.
func civil(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

var _ tenants.Billing = (*Service)(nil)
