package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/stacks-ils/stacks/billing"
)

// Billing tasks: a verified Stripe event to apply (task id = the event's,
// so a webhook retried by Stripe before our answer queues it once), and a
// subscription quantity to bring in line with the branch count.
const (
	TypeBillingEvent    = "billing:event"
	TypeBillingQuantity = "billing:quantity"
)

// SetBilling connects the billing module whose tasks this worker runs.
func (w *Worker) SetBilling(b *billing.Service) *Worker {
	w.billing = b
	return w
}

// EnqueueBillingEvent queues a verified event (it implements billing.Enqueuer).
func (c *Client) EnqueueBillingEvent(ctx context.Context, ev billing.EventTask) error {
	payload, _ := json.Marshal(ev)
	_, err := c.c.EnqueueContext(ctx, asynq.NewTask(TypeBillingEvent, payload), asynq.Queue("critical"),
		asynq.TaskID(TypeBillingEvent+":"+ev.EventID), asynq.MaxRetry(10), asynq.Timeout(time.Minute), asynq.Retention(24*time.Hour))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue billing event %s: %w", ev.EventID, err)
	}
	return nil
}

// EnqueueBillingQuantity queues a quantity sync (it implements
// billing.Enqueuer). Changes close together fold into one: the task reads
// the branch count when it runs.
func (c *Client) EnqueueBillingQuantity(ctx context.Context, tenantID uuid.UUID) error {
	payload, _ := json.Marshal(tenantPayload{TenantID: tenantID})
	delay := c.quantityDelay
	if delay <= 0 {
		delay = 5 * time.Second
	}
	_, err := c.c.EnqueueContext(ctx, asynq.NewTask(TypeBillingQuantity, payload), asynq.Queue("critical"),
		asynq.ProcessIn(delay), asynq.Unique(max(delay, time.Second)), asynq.MaxRetry(10), asynq.Timeout(time.Minute))
	if err != nil && !errors.Is(err, asynq.ErrDuplicateTask) {
		return fmt.Errorf("enqueue billing quantity for %s: %w", tenantID, err)
	}
	return nil
}

func (w *Worker) handleBillingEvent(ctx context.Context, t *asynq.Task) error {
	var ev billing.EventTask
	if err := json.Unmarshal(t.Payload(), &ev); err != nil || ev.TenantID == uuid.Nil {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	if w.billing == nil {
		return errors.New("billing not connected")
	}
	return w.billing.ProcessEvent(ctx, ev)
}

func (w *Worker) handleBillingQuantity(ctx context.Context, t *asynq.Task) error {
	var p tenantPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == uuid.Nil {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	if w.billing == nil {
		return errors.New("billing not connected")
	}
	return w.billing.SyncQuantity(ctx, p.TenantID)
}
