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

	"github.com/stacks-ils/stacks/api/acquisitions"
	"github.com/stacks-ils/stacks/tenants"
)

// Claims for late order lines: once a day per tenant, from MaintenanceHour
// in the tenant's time zone, every late line whose claim is due is claimed
// and each vendor gets one mail listing its lines (through the outbox).
const (
	TypeAcqClaims       = "acquisitions:claims"        // fan-out over tenants
	TypeAcqClaimsTenant = "acquisitions:claims:tenant" // one tenant, one local day
)

// SetAcquisitions connects the acquisitions service and registers the
// daily claims run (handlers and schedule), before Start.
func (w *Worker) SetAcquisitions(a *acquisitions.Service) *Worker {
	w.mux.HandleFunc(TypeAcqClaims, w.handleAcqClaims)
	w.mux.HandleFunc(TypeAcqClaimsTenant, func(ctx context.Context, t *asynq.Task) error { return w.handleAcqClaimsTenant(ctx, t, a) })
	if _, err := w.sched.Register("*/15 * * * *", asynq.NewTask(TypeAcqClaims, nil),
		asynq.Queue("maintenance"), asynq.Unique(14*time.Minute)); err != nil {
		w.log.Error("register claims schedule", "error", err)
	}
	return w
}

// handleAcqClaims enqueues the day's claims run for every active tenant
// whose local time has reached MaintenanceHour; the task id carries the
// local date, so a tenant gets one run per day however often this runs.
func (w *Worker) handleAcqClaims(ctx context.Context, _ *asynq.Task) error {
	return w.eachTenantFrom(ctx, w.opt.MaintenanceHour, func(t tenants.Tenant, day string) error {
		return enqueueClaims(ctx, w.client, t.ID, day)
	})
}

// EnqueueClaims asks for one tenant's claims run for a local day
// (idempotent: the task id is the tenant and the day).
func (c *Client) EnqueueClaims(ctx context.Context, tenant uuid.UUID, day string) error {
	return enqueueClaims(ctx, c.c, tenant, day)
}

func enqueueClaims(ctx context.Context, client *asynq.Client, tenant uuid.UUID, day string) error {
	payload, _ := json.Marshal(tenantPayload{TenantID: tenant, AsOf: day})
	_, err := client.EnqueueContext(ctx, asynq.NewTask(TypeAcqClaimsTenant, payload),
		asynq.Queue("maintenance"), asynq.TaskID(TypeAcqClaimsTenant+":"+tenant.String()+":"+day),
		asynq.Retention(72*time.Hour), asynq.MaxRetry(5))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue claims for %s: %w", tenant, err)
	}
	return nil
}

func (w *Worker) handleAcqClaimsTenant(ctx context.Context, t *asynq.Task, a *acquisitions.Service) error {
	var p tenantPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == uuid.Nil || p.AsOf == "" {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	var run *acquisitions.ClaimRun
	err := w.pool.Tx(ctx, p.TenantID, func(ctx context.Context, _ *gorm.DB) error {
		sys, err := tenants.SystemPrincipal(ctx)
		if err != nil {
			return err
		}
		run, err = a.RunClaims(tenants.WithPrincipal(ctx, sys), acquisitions.ClaimInput{AsOf: p.AsOf})
		return err
	})
	if err != nil {
		return fmt.Errorf("claims for %s: %w", p.TenantID, err)
	}
	w.log.Info("order claims", "tenant_id", p.TenantID, "as_of", p.AsOf, "lines", run.Lines, "mails", len(run.Mails), "vendors_without_email", len(run.WithoutEmail))
	return nil
}
