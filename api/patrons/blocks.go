package patrons

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// BlockInput is the body of POST /patrons/{id}/blocks.
type BlockInput struct {
	Reason string  `json:"reason"`
	EndsOn *string `json:"ends_on"` // YYYY-MM-DD, the last day the block holds; absent: until lifted
}

// staffID is the calling staff user, nil for API keys and the system.
func staffID(ctx context.Context) *uuid.UUID {
	if p := tenants.PrincipalFrom(ctx); p != nil && p.UserID != uuid.Nil {
		id := p.UserID
		return &id
	}
	return nil
}

// AddBlock places a manual block on a patron.
func (s *Service) AddBlock(ctx context.Context, patronID uuid.UUID, in BlockInput) (*ManualBlock, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	p, err := s.Lock(ctx, patronID)
	if err != nil {
		return nil, err
	}
	if p.Status == StatusMerged {
		return nil, mergedError(p)
	}
	b, err := s.homeBranch(ctx, p.HomeBranchID, true)
	if err != nil {
		return nil, err
	}
	reason, err := text("reason", in.Reason, true, 500)
	if err != nil {
		return nil, err
	}
	m := ManualBlock{TenantID: tenant, ID: tenants.NewID(), PatronID: patronID, Reason: reason, CreatedBy: staffID(ctx),
		CreatedAt: s.now().UTC()}
	if in.EndsOn != nil && *in.EndsOn != "" {
		d, err := parseDate("ends_on", *in.EndsOn)
		if err != nil {
			return nil, err
		}
		if d.Before(s.today(b)) {
			return nil, errs.Field("ends_on", "invalid_date", "ends_on is in the past; a block ends on its last day")
		}
		v := d.Format(time.DateOnly)
		m.EndsOn = &v
	}
	if err := db.Create(&m).Error; err != nil {
		return nil, fmt.Errorf("insert block: %w", err)
	}
	return &m, nil
}

// LiftBlock ends a manual block now; the row stays as history.
func (s *Service) LiftBlock(ctx context.Context, patronID, blockID uuid.UUID) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	p, err := s.Get(ctx, patronID)
	if err != nil {
		return err
	}
	if _, err := s.homeBranch(ctx, p.HomeBranchID, true); err != nil {
		return err
	}
	m, err := tenants.Find[ManualBlock](ctx, "this patron has no block with this id", "id = ? AND patron_id = ?", blockID, patronID)
	if err != nil {
		return err
	}
	if m.LiftedAt != nil {
		return errs.E(errs.Conflict, "block_lifted", "this block was already lifted at "+m.LiftedAt.UTC().Format(time.RFC3339))
	}
	if err := db.Exec(`UPDATE patron_blocks SET lifted_at = ?, lifted_by = ? WHERE id = ?`,
		s.now().UTC(), staffID(ctx), blockID).Error; err != nil {
		return fmt.Errorf("lift block: %w", err)
	}
	return nil
}
