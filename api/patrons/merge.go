package patrons

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// MergeInput is the body of POST /patrons/{id}/merge.
type MergeInput struct {
	FromPatronID uuid.UUID `json:"from_patron_id"`
}

// Merge folds the duplicate record from into to, in the caller's
// transaction: circulation moves loans, holds, the ledger and the audit
// trail; this package moves manual blocks and guarantor links; from stays
// as a record with status merged and merged_into = to, so its card number
// and history are still found.
func (s *Service) Merge(ctx context.Context, to, from uuid.UUID) (*Patron, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	if from == uuid.Nil {
		return nil, errs.Field("from_patron_id", "required", "from_patron_id is required: the duplicate record to fold into this one")
	}
	if from == to {
		return nil, errs.Field("from_patron_id", "merge_into_self", "a patron record cannot be merged into itself")
	}
	if s.merger == nil {
		return nil, errors.New("patrons: merge needs circulation (SetCirculation was not called)")
	}
	// Lock both rows in id order, so two merges of the same pair cannot
	// deadlock.
	lock := func(id uuid.UUID) (*Patron, error) {
		p, err := s.Lock(ctx, id)
		if err != nil && id == from && errs.KindOf(err) == errs.NotFound {
			return nil, errs.Field("from_patron_id", "invalid_patron", "from_patron_id names no patron of this library")
		}
		return p, err
	}
	first, second := to, from
	if bytes.Compare(from[:], to[:]) < 0 {
		first, second = from, to
	}
	pa, err := lock(first)
	if err != nil {
		return nil, err
	}
	pb, err := lock(second)
	if err != nil {
		return nil, err
	}
	target, dup := pa, pb
	if pa.ID != to {
		target, dup = pb, pa
	}
	for _, p := range []*Patron{target, dup} {
		if p.Status == StatusMerged {
			return nil, mergedError(p)
		}
		if _, err := s.homeBranch(ctx, p.HomeBranchID, true); err != nil {
			return nil, err
		}
	}
	if err := s.merger.MovePatron(ctx, from, to); err != nil {
		return nil, err
	}
	stmts := []struct {
		sql  string
		args []any
	}{
		{`UPDATE patron_blocks SET patron_id = ? WHERE patron_id = ?`, []any{to, from}},
		// The target cannot guarantee itself.
		{`UPDATE patrons SET guarantor_id = NULL, updated_at = now() WHERE id = ? AND guarantor_id = ?`, []any{to, from}},
		{`UPDATE patrons SET guarantor_id = ?, updated_at = now() WHERE guarantor_id = ?`, []any{to, from}},
		// Records merged into the duplicate earlier now point at the survivor.
		{`UPDATE patrons SET merged_into = ?, updated_at = now() WHERE merged_into = ?`, []any{to, from}},
		{`UPDATE patrons SET status = 'merged', merged_into = ?, guarantor_id = NULL, updated_at = now() WHERE id = ?`, []any{to, from}},
	}
	for _, st := range stmts {
		if err := db.Exec(st.sql, st.args...).Error; err != nil {
			return nil, fmt.Errorf("merge patron %s into %s: %w", from, to, err)
		}
	}
	return s.Get(ctx, to)
}
