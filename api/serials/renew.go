package serials

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/tenants"
)

// RenewInput is the body of POST /subscriptions/{id}/renew. Absent dates
// move one year on; an absent cost stays.
type RenewInput struct {
	EndsOn     *string            `json:"ends_on"`
	RenewalOn  *string            `json:"renewal_on"`
	AnnualCost patrons.Opt[Money] `json:"annual_cost"`
	POLineID   *uuid.UUID         `json:"po_line_id"`
}

// Renew starts the subscription's next period: it begins the day after the
// current end, ends on ends_on (a year later by default), is active again,
// and its issues are predicted on.
func (s *Service) Renew(ctx context.Context, id uuid.UUID, in RenewInput) (*Subscription, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	sub, err := s.load(ctx, id, true)
	if err != nil {
		return nil, err
	}
	if err := s.checkBranch(ctx, sub.BranchID); err != nil {
		return nil, err
	}
	if sub.Status == SubCanceled {
		return nil, errs.E(errs.Conflict, "subscription_canceled", "a canceled subscription is not renewed; set it active again first")
	}
	oldEnd, err := time.Parse(time.DateOnly, sub.EndsOn)
	if err != nil {
		return nil, fmt.Errorf("subscription end %q: %w", sub.EndsOn, err)
	}
	newEnd := oldEnd.AddDate(1, 0, 0)
	if in.EndsOn != nil {
		if newEnd, err = parseDay("ends_on", *in.EndsOn); err != nil {
			return nil, err
		}
		if !newEnd.After(oldEnd) {
			return nil, errs.Field("ends_on", "invalid_period", "the renewed period must end after the current one ("+sub.EndsOn+")")
		}
	}
	var renewal *string
	switch {
	case in.RenewalOn != nil:
		d, err := parseDay("renewal_on", *in.RenewalOn)
		if err != nil {
			return nil, err
		}
		r := d.Format(time.DateOnly)
		renewal = &r
	case sub.RenewalOn != nil:
		if d, err := time.Parse(time.DateOnly, *sub.RenewalOn); err == nil {
			r := d.AddDate(1, 0, 0).Format(time.DateOnly)
			renewal = &r
		}
	}
	// The new period is a new order line (made below from the vendor, fund
	// and cost) unless the request names one.
	upd := SubscriptionInput{AnnualCost: in.AnnualCost, POLineID: patrons.Opt[uuid.UUID]{Set: true, Null: true}}
	if in.POLineID != nil {
		upd.POLineID = patrons.Opt[uuid.UUID]{Set: true, V: *in.POLineID}
	}
	if err := s.apply(ctx, &upd, sub); err != nil {
		return nil, err
	}
	sub.StartsOn = oldEnd.AddDate(0, 0, 1).Format(time.DateOnly)
	sub.EndsOn = newEnd.Format(time.DateOnly)
	if err := s.order(ctx, sub, sub.StartsOn+"/"+sub.EndsOn); err != nil {
		return nil, err
	}
	sub.RenewalOn = renewal
	sub.Status = SubActive
	if err := db.Omit("Title", "Holdings", "AnnualCost", "FirstIssue", "CreatedAt").Save(sub).Error; err != nil {
		return nil, s.writeErr(err)
	}
	if err := s.recordOrder(ctx, sub); err != nil {
		return nil, err
	}
	today, err := s.today(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.extend(ctx, sub, predictHorizon(sub, today, PredictMonths)); err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// RunInput is the body of POST /serials/claims/run.
type RunInput struct {
	Date string `json:"date"` // the library's local date; default today
}

// RunResult answers POST /serials/claims/run.
type RunResult struct {
	Date   string          `json:"date"`
	TaskID string          `json:"task_id"`
	Queued bool            `json:"queued"`
	Result *ClaimRunResult `json:"result,omitempty"`
}

// ClaimTaskID is the task id of a library's claim run for a local date:
// the nightly scheduler and POST /serials/claims/run use the same one, so
// the run happens once per day however it is started.
func ClaimTaskID(tenantID uuid.UUID, date string) string {
	return "serials:claims:tenant:" + tenantID.String() + ":" + date
}

// Run starts the claim run for a day: queued for the workers after the
// request commits, or at once when no worker queue is connected.
func (s *Service) Run(ctx context.Context, in RunInput) (*RunResult, error) {
	today, err := s.today(ctx)
	if err != nil {
		return nil, err
	}
	day := today.Format(time.DateOnly)
	if in.Date != "" {
		d, err := parseDay("date", in.Date)
		if err != nil {
			return nil, err
		}
		if d.After(today) {
			return nil, errs.Field("date", "future_date", "claims run for today or a past day, not "+in.Date)
		}
		day = d.Format(time.DateOnly)
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	out := &RunResult{Date: day, TaskID: ClaimTaskID(tenant, day)}
	if s.enqueue == nil {
		r, err := s.RunClaims(ctx, day)
		if err != nil {
			return nil, err
		}
		out.Result = r
		return out, nil
	}
	if err := tenants.AfterCommit(ctx, func(ctx context.Context) {
		if err := s.enqueue.EnqueueSerialClaims(ctx, tenant, day); err != nil {
			s.log.Error("enqueue serials claims run", "tenant_id", tenant, "date", day, "error", err)
		}
	}); err != nil {
		return nil, err
	}
	out.Queued = true
	return out, nil
}
