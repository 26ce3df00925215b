package catalog

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"gorm.io/gorm"

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
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var it Item
	var r *gorm.DB
	if barcode != "" {
		r = db.Raw("SELECT * FROM items WHERE barcode = ? FOR NO KEY UPDATE", barcode).Scan(&it)
	} else {
		r = db.Raw("SELECT * FROM items WHERE id = ? FOR NO KEY UPDATE", id).Scan(&it)
	}
	if r.Error != nil {
		return nil, fmt.Errorf("lock item: %w", r.Error)
	}
	if r.RowsAffected == 0 {
		return nil, errs.E(errs.Invalid, "item_not_found", "no item with this barcode")
	}
	return it.fill(), nil
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
