package circulation

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// startTransit sends an item from one branch to another.
func (s *Service) startTransit(ctx context.Context, itemID, from, to uuid.UUID, reason string, holdID *uuid.UUID, at time.Time) (*Transit, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	t := &Transit{ID: tenants.NewID(), ItemID: itemID, FromBranchID: from, ToBranchID: to, Reason: reason, HoldID: holdID, SentAt: at}
	t.TenantID, _ = tenants.CurrentTenant(ctx)
	if err := db.Omit("Barcode", "Title").Create(t).Error; err != nil {
		return nil, fmt.Errorf("start transit: %w", err)
	}
	return t, nil
}

// endTransit closes the item's open transit: received when it reached its
// destination, canceled when it was scanned in somewhere else first.
func (s *Service) endTransit(ctx context.Context, itemID uuid.UUID, at time.Time, received bool) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	col := "canceled_at"
	if received {
		col = "received_at"
	}
	if err := db.Exec("UPDATE transits SET "+col+" = ? WHERE item_id = ? AND received_at IS NULL AND canceled_at IS NULL", at, itemID).Error; err != nil {
		return fmt.Errorf("end transit: %w", err)
	}
	return nil
}

// TransitFilter narrows ListTransits.
type TransitFilter struct {
	BranchID  uuid.UUID
	Direction string // incoming | outgoing | "" (both)
	After     uuid.UUID
	Limit     int
}

// ListTransits lists the open transits to and/or from a branch.
func (s *Service) ListTransits(ctx context.Context, f TransitFilter) ([]Transit, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.tenants.GetBranch(ctx, f.BranchID); err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, errs.Field("branch_id", "invalid_branch", "branch_id names no branch of this library")
		}
		return nil, err
	}
	where := "(t.to_branch_id = @b OR t.from_branch_id = @b)"
	switch f.Direction {
	case "incoming":
		where = "t.to_branch_id = @b"
	case "outgoing":
		where = "t.from_branch_id = @b"
	}
	var out []Transit
	err = db.Raw(`SELECT t.*, i.barcode, b.title FROM transits t JOIN items i ON i.id = t.item_id JOIN bibs b ON b.id = i.bib_id
WHERE `+where+` AND t.received_at IS NULL AND t.canceled_at IS NULL AND t.id > @after ORDER BY t.id LIMIT @limit`,
		map[string]any{"b": f.BranchID, "after": f.After, "limit": f.Limit + 1}).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list transits: %w", err)
	}
	return out, nil
}
