package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// Nullable is a JSON field that can be absent (Set false), null (Set true,
// Value nil) or a value: PATCH bodies need all three.
type Nullable[T any] struct {
	Set   bool
	Value *T
}

// Of returns a Nullable holding v.
func Of[T any](v T) Nullable[T] { return Nullable[T]{Set: true, Value: &v} }

// Null returns an explicit null.
func Null[T any]() Nullable[T] { return Nullable[T]{Set: true} }

// UnmarshalJSON records that the field was present; unknown fields inside an
// object value are refused like anywhere else in a body.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		n.Value = nil
		return nil
	}
	var v T
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	n.Value = &v
	return nil
}

// MarshalJSON writes the value or null.
func (n Nullable[T]) MarshalJSON() ([]byte, error) {
	if n.Value == nil {
		return []byte("null"), nil
	}
	return json.Marshal(*n.Value)
}

// codeRe is the shape of item type and patron category codes (the tables'
// CHECK constraints).
var codeRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)

// TenantCurrency returns the current tenant's ISO 4217 currency.
func (s *Service) TenantCurrency(ctx context.Context) (string, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return "", err
	}
	var cur string
	if err := db.Raw(`SELECT currency FROM tenants WHERE id = app.current_tenant_id()`).Scan(&cur).Error; err != nil {
		return "", fmt.Errorf("tenant currency: %w", err)
	}
	return cur, nil
}

// amount validates money in the tenant's currency and returns its minor units.
func amount(field string, m *Money, currency string) (int64, error) {
	if m.Amount < 0 {
		return 0, errs.Field(field, "invalid_amount", field+".amount must be minor units >= 0")
	}
	if m.Currency != currency {
		return 0, errs.Field(field, "currency_mismatch",
			fmt.Sprintf("%s must be in the library's currency %s, not %q", field, currency, m.Currency)).
			WithDetails(map[string]any{"field": field, "currency": currency})
	}
	return m.Amount, nil
}

// rootPath is the path of the root org unit: the scope of library-wide rules
// and closed days.
func rootPath(ctx context.Context) ([]uuid.UUID, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var root struct{ ID uuid.UUID }
	r := db.Raw(`SELECT id FROM branches WHERE parent_id IS NULL`).Scan(&root)
	if r.Error != nil {
		return nil, fmt.Errorf("root branch: %w", r.Error)
	}
	return []uuid.UUID{root.ID}, nil
}

// branchPath loads the path of branch id (nil: the root's path, the scope of
// "the whole library"); field names the input for the 422 of an unknown id.
func (s *Service) branchPath(ctx context.Context, id *uuid.UUID, field string) ([]uuid.UUID, error) {
	if id == nil {
		return rootPath(ctx)
	}
	b, err := s.tenants.GetBranch(ctx, *id)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, errs.Field(field, "invalid_branch", field+" names no org unit of this library")
		}
		return nil, err
	}
	return b.Path, nil
}

// idsOf returns the ids of rows.
func idsOf(rows []idRow) []uuid.UUID {
	out := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// idRow scans an id column (gorm cannot scan into a bare []uuid.UUID).
type idRow struct{ ID uuid.UUID }

// allowedAt fails unless the caller holds perm at the unit with path.
func allowedAt(ctx context.Context, perm tenants.Permission, path []uuid.UUID, what string) error {
	if p := tenants.PrincipalFrom(ctx); p == nil || !p.CanAt(perm, path) {
		return errs.E(errs.Forbidden, "forbidden", "you may not "+what)
	}
	return nil
}
