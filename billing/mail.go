package billing

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/notices"
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

func (s *Service) billingPage() string { return s.cfg.BaseURL + "/billing" }

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

// Daily mails a library on its trial 7 days and 1 day before the trial
// ends, counted in the library's local dates (today is its local date;
// workers call it once a day).
func (s *Service) Daily(ctx context.Context, tenant uuid.UUID, today time.Time) (int, error) {
	if !s.Enabled() {
		return 0, nil
	}
	sent := 0
	err := s.tx(ctx, tenant, func(ctx context.Context, _ *gorm.DB) error {
		a, err := account(ctx, false)
		if err != nil || a.Status != "trialing" || a.TrialEndsAt == nil {
			return err
		}
		t, err := s.pool.TenantByID(ctx, tenant)
		if err != nil {
			return err
		}
		loc, err := time.LoadLocation(t.Timezone)
		if err != nil {
			loc = time.UTC
		}
		days := int(civil(a.TrialEndsAt.In(loc)).Sub(civil(today)).Hours() / 24)
		if days != 7 && days != 1 {
			return nil
		}
		sent = 1
		return s.trialMail(ctx, a, fmt.Sprintf("%dd", days))
	})
	return sent, err
}

// civil is the local calendar date of t at midnight UTC, for day arithmetic
// that DST cannot skew.
func civil(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

var _ tenants.Billing = (*Service)(nil)
