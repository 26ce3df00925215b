package catalog

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// circulationStatuses are set only by the circulation desk: a PATCH to an
// item cannot put an item into them or take it out of them, or loans, holds
// and transits would no longer agree with the shelf.
var circulationStatuses = []string{"checked_out", "in_transit", "on_hold_shelf"}

func checkStatusChange(from, to string) error {
	if slices.Contains(circulationStatuses, to) {
		return errs.Field("status", "status_managed_by_circulation",
			"status "+to+" is set by checkout, checkin and holds, not by editing the item")
	}
	if slices.Contains(circulationStatuses, from) {
		return errs.E(errs.Conflict, "item_in_circulation",
			"the item is "+from+"; check it in at the desk before changing its status")
	}
	return nil
}

// LockItem loads the item with this barcode (or, when barcode is empty,
// this id) and locks its row until the transaction ends. Circulation takes
// this lock first in every operation on an item, so concurrent checkouts,
// checkins and renewals of one item run one after another.
func (s *Service) LockItem(ctx context.Context, barcode string, id uuid.UUID) (*Item, error) {
	l := s.ItemLock(barcode, id)
	if err := tenants.Pipeline(ctx, l.Step()); err != nil {
		return nil, fmt.Errorf("lock item: %w", err)
	}
	return l.Item()
}

// ItemLockStep is LockItem as a step of a tenants.Pipeline, so the desk can
// send it with the statements that follow it in one round trip: Step goes
// into the pipeline, Item reads the result after it ran.
type ItemLockStep struct {
	item Item
	n    int64
	step tenants.Step
}

// ItemLock prepares LockItem for a pipeline.
func (s *Service) ItemLock(barcode string, id uuid.UUID) *ItemLockStep {
	l := &ItemLockStep{}
	l.step = tenants.Step{SQL: "SELECT * FROM items WHERE barcode = $1 FOR NO KEY UPDATE", Args: []any{barcode},
		Dest: &l.item, Rows: &l.n}
	if barcode == "" {
		l.step.SQL, l.step.Args = "SELECT * FROM items WHERE id = $1 FOR NO KEY UPDATE", []any{id}
	}
	return l
}

// Step is the statement.
func (l *ItemLockStep) Step() tenants.Step { return l.step }

// Item is the locked item, or item_not_found.
func (l *ItemLockStep) Item() (*Item, error) {
	if l.n == 0 {
		return nil, errs.E(errs.Invalid, "item_not_found", "no item with this barcode")
	}
	return l.item.fill(), nil
}

// SetItemState records the circulation status of an item and, when branchID
// is not nil, moves its home branch (floating collections).
func (s *Service) SetItemState(ctx context.Context, id uuid.UUID, status string, branchID *uuid.UUID) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	q, args := ItemStateSQL(id, status, branchID)
	if err := db.Exec(q, args...).Error; err != nil {
		return fmt.Errorf("set item %s %s: %w", id, status, err)
	}
	return nil
}

// ItemStateSQL is SetItemState as a statement, for circulation to send
// together with its own writes in one round trip (the desk's latency is
// mostly round trips).
func ItemStateSQL(id uuid.UUID, status string, branchID *uuid.UUID) (string, []any) {
	return "UPDATE items SET status = ?, branch_id = COALESCE(?, branch_id), updated_at = now() WHERE id = ?",
		[]any{status, branchID, id}
}
