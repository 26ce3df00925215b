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

	"github.com/stacks-ils/stacks/api/circulation"
	"github.com/stacks-ils/stacks/api/opac"
	"github.com/stacks-ils/stacks/tenants"
)

// Circulation maintenance: expire holds (past their not-needed-after date,
// or not picked up in time) and anonymise borrowing history per patron
// privacy and tenant retention. Once a day per tenant, at or after
// MaintenanceHour in the tenant's time zone.
const (
	TypeCirculationDaily       = "circulation:daily"        // fan-out over tenants
	TypeCirculationDailyTenant = "circulation:daily:tenant" // one tenant
	// MaintenanceHour is the default local hour from which the nightly job
	// runs (Options.MaintenanceHour, MAINTENANCE_HOUR).
	MaintenanceHour = 2
)

// SetOPAC connects the OPAC whose expired patron links the nightly job
// deletes.
func (w *Worker) SetOPAC(o *opac.Service) *Worker {
	w.opac = o
	return w
}

// SetCirculation connects the circulation service the nightly job runs.
func (w *Worker) SetCirculation(c *circulation.Service) *Worker {
	w.circ = c
	return w
}

// handleCirculationDaily enqueues the day's job for every active tenant
// whose local time has reached MaintenanceHour. The task id carries the
// tenant's local date, so however often this runs (every 15 minutes, on
// two schedulers, after a restart) a tenant gets one run per local day.
func (w *Worker) handleCirculationDaily(ctx context.Context, _ *asynq.Task) error {
	return w.eachTenantFrom(ctx, w.opt.MaintenanceHour, func(t tenants.Tenant, day string) error {
		payload, _ := json.Marshal(tenantPayload{TenantID: t.ID, AsOf: day})
		_, err := w.client.EnqueueContext(ctx, asynq.NewTask(TypeCirculationDailyTenant, payload),
			asynq.Queue("maintenance"), asynq.TaskID(TypeCirculationDailyTenant+":"+t.ID.String()+":"+day),
			asynq.Retention(72*time.Hour), asynq.MaxRetry(5))
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("enqueue circulation job for %s: %w", t.ID, err)
		}
		return nil
	})
}

func (w *Worker) handleCirculationDailyTenant(ctx context.Context, t *asynq.Task) error {
	var p tenantPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == uuid.Nil {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	if w.circ == nil {
		return fmt.Errorf("circulation service not connected: %w", asynq.SkipRetry)
	}
	var expired, renewed, lost, anonymised int
	err := w.pool.Tx(ctx, p.TenantID, func(ctx context.Context, _ *gorm.DB) error {
		sys, err := tenants.SystemPrincipal(ctx)
		if err != nil {
			return err
		}
		ctx = tenants.WithPrincipal(ctx, sys)
		if expired, err = w.circ.ExpireHolds(ctx); err != nil {
			return err
		}
		if renewed, err = w.circ.AutoRenew(ctx); err != nil {
			return err
		}
		if lost, err = w.circ.AgeToLost(ctx); err != nil {
			return err
		}
		if anonymised, err = w.circ.AnonymiseHistory(ctx); err != nil {
			return err
		}
		if w.opac != nil {
			_, err = w.opac.PurgeExpired(ctx)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("circulation job for %s: %w", p.TenantID, err)
	}
	// The library's own reminders (trial ending) ride on the nightly job.
	if w.billing != nil {
		day, perr := time.Parse(time.DateOnly, p.AsOf)
		if perr != nil {
			return fmt.Errorf("bad date %q: %w", p.AsOf, asynq.SkipRetry)
		}
		if _, err := w.billing.Daily(ctx, p.TenantID, day); err != nil {
			return fmt.Errorf("billing reminders for %s: %w", p.TenantID, err)
		}
	}
	w.log.Info("circulation nightly job", "tenant_id", p.TenantID, "holds_expired", expired, "loans_renewed", renewed, "loans_lost", lost, "loans_anonymised", anonymised)
	return nil
}
