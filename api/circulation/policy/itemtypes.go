package policy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// ItemType is a kind of material (book, dvd, ...) rules can name.
//
// items.item_type is free text without a foreign key to this table: the
// catalogue accepts any short code, and an item whose type is not listed
// here is treated as loanable (Loanable) and matched only by rules whose
// item_type is null.
type ItemType struct {
	TenantID              uuid.UUID `json:"-" gorm:"primaryKey"`
	Code                  string    `json:"code" gorm:"primaryKey"`
	Name                  string    `json:"name"`
	Loanable              bool      `json:"loanable"`
	ReplacementCostAmount *int64    `json:"-" gorm:"column:replacement_cost"`
	ReplacementCost       *Money    `json:"replacement_cost" gorm:"-"`
	Currency              string    `json:"-" gorm:"->"`
	CreatedAt             time.Time `json:"created_at"`
	UpdatedAt             time.Time `json:"updated_at"`
}

// TableName maps ItemType to its table.
func (ItemType) TableName() string { return "item_types" }

func (t *ItemType) fill() *ItemType {
	t.ReplacementCost = nil
	if t.ReplacementCostAmount != nil {
		t.ReplacementCost = &Money{Amount: *t.ReplacementCostAmount, Currency: t.Currency}
	}
	return t
}

// ItemTypeInput is the body of POST and PATCH /item-types. On PATCH absent
// fields stay; "replacement_cost": null clears the cost.
type ItemTypeInput struct {
	Code            *string         `json:"code"`
	Name            *string         `json:"name"`
	Loanable        *bool           `json:"loanable"`
	ReplacementCost Nullable[Money] `json:"replacement_cost"`
}

func (in *ItemTypeInput) apply(t *ItemType, currency string) error {
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		if n == "" || len(n) > 200 {
			return errs.Field("name", "invalid_name", "name is required and must be at most 200 characters")
		}
		t.Name = n
	}
	if in.Loanable != nil {
		t.Loanable = *in.Loanable
	}
	if in.ReplacementCost.Set {
		t.ReplacementCostAmount = nil
		if m := in.ReplacementCost.Value; m != nil {
			a, err := amount("replacement_cost", m, currency)
			if err != nil {
				return err
			}
			t.ReplacementCostAmount = &a
		}
	}
	return nil
}

const itemTypeSelect = `SELECT it.*, t.currency FROM item_types it JOIN tenants t ON t.id = it.tenant_id`

// ListItemTypes returns every item type of the library in code order.
func (s *Service) ListItemTypes(ctx context.Context) ([]ItemType, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	out := []ItemType{}
	if err := db.Raw(itemTypeSelect + ` ORDER BY it.code`).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("list item types: %w", err)
	}
	for i := range out {
		out[i].fill()
	}
	return out, nil
}

// GetItemType returns one item type by code.
func (s *Service) GetItemType(ctx context.Context, code string) (*ItemType, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var t ItemType
	r := db.Raw(itemTypeSelect+` WHERE it.code = ?`, strings.ToLower(strings.TrimSpace(code))).Scan(&t)
	if r.Error != nil {
		return nil, fmt.Errorf("get item type %q: %w", code, r.Error)
	}
	if r.RowsAffected == 0 {
		return nil, errs.NotFoundf("no item type %q", code)
	}
	return t.fill(), nil
}

// Loanable reports whether items of type code may be lent. A type the
// item_types table does not list is loanable (items.item_type is free text).
func (s *Service) Loanable(ctx context.Context, code string) (bool, error) {
	t, err := s.GetItemType(ctx, code)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return true, nil
		}
		return false, err
	}
	return t.Loanable, nil
}

// CreateItemType adds an item type.
func (s *Service) CreateItemType(ctx context.Context, in ItemTypeInput) (*ItemType, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	if in.Code == nil {
		return nil, errs.Field("code", "required", "code is required")
	}
	if in.Name == nil {
		return nil, errs.Field("name", "required", "name is required")
	}
	code := strings.ToLower(strings.TrimSpace(*in.Code))
	if !codeRe.MatchString(code) {
		return nil, errs.Field("code", "invalid_code", "code must be 1-40 lower-case letters, digits, '_' or '-', such as dvd")
	}
	cur, err := s.TenantCurrency(ctx)
	if err != nil {
		return nil, err
	}
	t := ItemType{TenantID: tenant, Code: code, Loanable: true}
	if err := in.apply(&t, cur); err != nil {
		return nil, err
	}
	err = db.Transaction(func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO item_types (tenant_id, code, name, loanable, replacement_cost) VALUES (?, ?, ?, ?, ?)`,
			t.TenantID, t.Code, t.Name, t.Loanable, t.ReplacementCostAmount).Error
	})
	if err != nil {
		if code, _ := tenants.PgCode(err); code == tenants.PgUniqueViolation {
			return nil, errs.E(errs.Conflict, "item_type_code_taken", "another item type already has the code "+t.Code).
				WithDetails(map[string]any{"field": "code"})
		}
		return nil, fmt.Errorf("insert item type: %w", err)
	}
	return s.GetItemType(ctx, t.Code)
}

// UpdateItemType changes an item type's name, loanability or replacement
// cost. The code cannot change: items name their type by code.
func (s *Service) UpdateItemType(ctx context.Context, code string, in ItemTypeInput) (*ItemType, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.GetItemType(ctx, code)
	if err != nil {
		return nil, err
	}
	if in.Code != nil && strings.ToLower(strings.TrimSpace(*in.Code)) != t.Code {
		return nil, errs.Field("code", "code_immutable",
			"an item type's code cannot change (items name their type by code); create a new type instead")
	}
	if err := in.apply(t, t.Currency); err != nil {
		return nil, err
	}
	err = db.Exec(`UPDATE item_types SET name = ?, loanable = ?, replacement_cost = ?, updated_at = now() WHERE code = ?`,
		t.Name, t.Loanable, t.ReplacementCostAmount, t.Code).Error
	if err != nil {
		return nil, fmt.Errorf("update item type %q: %w", t.Code, err)
	}
	return s.GetItemType(ctx, t.Code)
}

// DeleteItemType removes an item type no rule names (409 item_type_in_use
// otherwise). Items of that type keep their code and become "unlisted":
// loanable, matched by rules without an item type.
func (s *Service) DeleteItemType(ctx context.Context, code string) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	t, err := s.GetItemType(ctx, code)
	if err != nil {
		return err
	}
	var rows []idRow
	if err := db.Raw(`SELECT id FROM circ_rules WHERE item_type = ? ORDER BY id`, t.Code).Scan(&rows).Error; err != nil {
		return fmt.Errorf("rules of item type: %w", err)
	}
	ruleIDs := idsOf(rows)
	inUse := errs.E(errs.Conflict, "item_type_in_use",
		"circulation rules name this item type; change or delete them first").
		WithDetails(map[string]any{"rule_ids": ruleIDs})
	if len(ruleIDs) > 0 {
		return inUse
	}
	// A savepoint keeps the request's transaction usable after an FK error
	// (a rule added concurrently).
	err = db.Transaction(func(tx *gorm.DB) error {
		return tx.Exec(`DELETE FROM item_types WHERE code = ?`, t.Code).Error
	})
	if err != nil {
		if code, _ := tenants.PgCode(err); code == tenants.PgForeignKeyViolation {
			return inUse
		}
		return fmt.Errorf("delete item type %q: %w", t.Code, err)
	}
	return nil
}
