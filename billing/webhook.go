package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/stacks-ils/stacks/api/errs"
)

// EventTask is a verified Stripe event reduced to what processing needs:
// whose it is and which subscription to re-read.
type EventTask struct {
	EventID        string    `json:"event_id"`
	Type           string    `json:"type"`
	TenantID       uuid.UUID `json:"tenant_id"`
	CustomerID     string    `json:"customer_id"`
	SubscriptionID string    `json:"subscription_id"`
	InvoiceID      string    `json:"invoice_id,omitempty"`
}

// WebhookResult is the webhook's answer to Stripe.
type WebhookResult struct {
	Received bool   `json:"received"`
	Status   string `json:"status"` // queued | duplicate | ignored
}

// handled are the event types Stacks reacts to; others are acknowledged.
var handled = map[string]bool{
	"checkout.session.completed":           true,
	"customer.subscription.created":        true,
	"customer.subscription.updated":        true,
	"customer.subscription.deleted":        true,
	"customer.subscription.trial_will_end": true,
	"invoice.paid":                         true,
	"invoice.payment_failed":               true,
}

// Webhook verifies a Stripe event on its raw body and queues its
// processing. A bad or old signature is a 400 and changes nothing; a replay
// (its id already recorded) is a 200 that changes nothing. ConstructEvent
// also refuses events of an API version other than stripe.APIVersion
// (2023-10-16): the webhook endpoint must be created with that version.
func (s *Service) Webhook(ctx context.Context, payload []byte, signature string) (*WebhookResult, error) {
	if !s.Enabled() {
		return nil, ErrOff
	}
	ev, err := webhook.ConstructEvent(payload, signature, s.cfg.WebhookSecret)
	if err != nil {
		return nil, errs.E(errs.BadRequest, "invalid_signature", webhookMessage(err))
	}
	if !handled[string(ev.Type)] {
		return &WebhookResult{Received: true, Status: "ignored"}, nil
	}
	task, err := eventTask(ev)
	if err != nil {
		return nil, errs.E(errs.BadRequest, "invalid_event", err.Error())
	}
	if task.TenantID == uuid.Nil {
		// Not a Stacks subscription (another product on the same account).
		return &WebhookResult{Received: true, Status: "ignored"}, nil
	}
	isNew, err := s.pool.RecordStripeEvent(ctx, ev.ID, string(ev.Type))
	if err != nil {
		return nil, err
	}
	if !isNew {
		return &WebhookResult{Received: true, Status: "duplicate"}, nil
	}
	if s.enqueue == nil {
		err = errors.New("no worker queue connected")
	} else {
		err = s.enqueue.EnqueueBillingEvent(ctx, task)
	}
	if err != nil {
		// Stripe retries a failed delivery; forget the id so that retry
		// is processed.
		return nil, errors.Join(&errs.Error{Kind: errs.Unavailable, Code: "queue_unavailable",
			Message: "the event could not be queued; Stripe will retry", Err: err}, s.pool.ForgetStripeEvent(ctx, ev.ID))
	}
	return &WebhookResult{Received: true, Status: "queued"}, nil
}

func webhookMessage(err error) string {
	switch {
	case errors.Is(err, webhook.ErrNotSigned):
		return "the Stripe-Signature header is missing"
	case errors.Is(err, webhook.ErrTooOld):
		return "the signature's timestamp is too old (replayed or delayed event)"
	case errors.Is(err, webhook.ErrNoValidSignature), errors.Is(err, webhook.ErrInvalidHeader):
		return "the Stripe-Signature header does not match this endpoint's secret"
	}
	return "the event could not be verified: " + err.Error()
}

// eventTask finds the library (the tenant id we put on the session and the
// subscription) and the objects an event names.
func eventTask(ev stripe.Event) (EventTask, error) {
	t := EventTask{EventID: ev.ID, Type: string(ev.Type)}
	tenantFrom := func(s string) {
		if id, err := uuid.Parse(s); err == nil {
			t.TenantID = id
		}
	}
	switch {
	case ev.Type == "checkout.session.completed":
		var cs stripe.CheckoutSession
		if err := json.Unmarshal(ev.Data.Raw, &cs); err != nil {
			return t, fmt.Errorf("checkout session: %w", err)
		}
		if cs.Mode != stripe.CheckoutSessionModeSubscription {
			return t, nil
		}
		tenantFrom(cs.ClientReferenceID)
		if cs.Customer != nil {
			t.CustomerID = cs.Customer.ID
		}
		if cs.Subscription != nil {
			t.SubscriptionID = cs.Subscription.ID
		}
	case len(ev.Type) > 22 && ev.Type[:22] == "customer.subscription.":
		var sub stripe.Subscription
		if err := json.Unmarshal(ev.Data.Raw, &sub); err != nil {
			return t, fmt.Errorf("subscription: %w", err)
		}
		tenantFrom(sub.Metadata["tenant_id"])
		t.SubscriptionID = sub.ID
		if sub.Customer != nil {
			t.CustomerID = sub.Customer.ID
		}
	default: // invoice.*
		var inv stripe.Invoice
		if err := json.Unmarshal(ev.Data.Raw, &inv); err != nil {
			return t, fmt.Errorf("invoice: %w", err)
		}
		if inv.SubscriptionDetails != nil {
			tenantFrom(inv.SubscriptionDetails.Metadata["tenant_id"])
		}
		t.InvoiceID = inv.ID
		if inv.Subscription != nil {
			t.SubscriptionID = inv.Subscription.ID
		}
		if inv.Customer != nil {
			t.CustomerID = inv.Customer.ID
		}
	}
	if t.CustomerID == "" {
		t.TenantID = uuid.Nil // nothing to check the library against
	}
	return t, nil
}
