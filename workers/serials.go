package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/serials"
	"github.com/stacks-ils/stacks/tenants"
)

// Serials: once a day per library, from MaintenanceHour local time, the
// claim run (late issues, claims per vendor, missing after the last claim,
// renewal windows). The per-tenant task id is serials.ClaimTaskID, shared
// with POST /api/v1/serials/claims/run.
const (
	TypeSerialsClaims       = "serials:claims"        // fan-out over tenants
	TypeSerialsClaimsTenant = "serials:claims:tenant" // one tenant and local date
)

// SetSerials connects the serials service the nightly claim run uses, and
// registers its tasks.
func (w *Worker) SetSerials(s *serials.Service) *Worker {
	w.serials = s
	return w
}

// handleSerialsClaims enqueues the day's claim run for every active tenant
// whose local time has reached MaintenanceHour (one task id per local day).
func (w *Worker) handleSerialsClaims(ctx context.Context, _ *asynq.Task) error {
	ts, err := w.pool.ActiveTenants(ctx)
	if err != nil {
		return err
	}
	now := w.opt.Now()
	for _, t := range ts {
		loc, err := time.LoadLocation(t.Timezone)
		if err != nil {
			loc = time.UTC
		}
		local := now.In(loc)
		if local.Hour() < w.opt.MaintenanceHour {
			continue
		}
		if err := enqueueSerialClaims(ctx, w.client, t.ID, local.Format(time.DateOnly)); err != nil {
			return err
		}
	}
	return nil
}

func enqueueSerialClaims(ctx context.Context, c *asynq.Client, tenantID uuid.UUID, day string) error {
	payload, _ := json.Marshal(tenantPayload{TenantID: tenantID, AsOf: day})
	_, err := c.EnqueueContext(ctx, asynq.NewTask(TypeSerialsClaimsTenant, payload),
		asynq.Queue("maintenance"), asynq.TaskID(serials.ClaimTaskID(tenantID, day)),
		asynq.Retention(72*time.Hour), asynq.MaxRetry(5))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue serials claims for %s: %w", tenantID, err)
	}
	return nil
}

// EnqueueSerialClaims queues a library's claim run for its local date (it
// implements serials.Enqueuer); the scheduler uses the same task id.
func (c *Client) EnqueueSerialClaims(ctx context.Context, tenantID uuid.UUID, day string) error {
	return enqueueSerialClaims(ctx, c.c, tenantID, day)
}

func (w *Worker) handleSerialsClaimsTenant(ctx context.Context, t *asynq.Task) error {
	var p tenantPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == uuid.Nil || p.AsOf == "" {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	if w.serials == nil {
		return fmt.Errorf("serials service not connected: %w", asynq.SkipRetry)
	}
	var res *serials.ClaimRunResult
	err := w.pool.Tx(ctx, p.TenantID, func(ctx context.Context, _ *gorm.DB) error {
		sys, err := tenants.SystemPrincipal(ctx)
		if err != nil {
			return err
		}
		res, err = w.serials.RunClaims(tenants.WithPrincipal(ctx, sys), p.AsOf)
		return err
	})
	if err != nil {
		return fmt.Errorf("serials claims for %s: %w", p.TenantID, err)
	}
	w.log.Info("serials claim run", "tenant_id", p.TenantID, "date", p.AsOf, "late", res.Late, "claimed", res.Claimed,
		"claim_mails", res.ClaimMails, "missing", res.Missing, "expiring", res.Expiring, "expired", res.Expired)
	return nil
}
