package catalog

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/catalog/callnumber"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// Item statuses.
var ItemStatuses = []string{"available", "checked_out", "in_transit", "on_hold_shelf", "lost", "missing",
	"damaged", "withdrawn", "in_processing"}

// Money is an amount in minor units (cents) with its ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Item is one physical copy.
type Item struct {
	TenantID       uuid.UUID `json:"-" gorm:"primaryKey"`
	ID             uuid.UUID `json:"id" gorm:"primaryKey"`
	BibID          uuid.UUID `json:"bib_id"`
	Barcode        string    `json:"barcode"`
	BranchID       uuid.UUID `json:"branch_id"`
	Location       string    `json:"location"`
	CallNumber     string    `json:"call_number"`
	CallNumberSort string    `json:"-"`
	ItemType       string    `json:"item_type"`
	PriceAmount    *int64    `json:"-"`
	PriceCurrency  *string   `json:"-"`
	Price          *Money    `json:"price" gorm:"-"`
	Status         string    `json:"status"`
	AcquiredOn     *string   `json:"acquired_on" gorm:"type:date"`
	Notes          string    `json:"notes"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// ItemInput is the body of POST /items and PATCH /items/{id}.
type ItemInput struct {
	BibID      *uuid.UUID `json:"bib_id"`
	Barcode    *string    `json:"barcode"`
	BranchID   *uuid.UUID `json:"branch_id"`
	Location   *string    `json:"location"`
	CallNumber *string    `json:"call_number"`
	ItemType   *string    `json:"item_type"`
	Price      *Money     `json:"price"`
	Status     *string    `json:"status"`
	AcquiredOn *string    `json:"acquired_on"` // YYYY-MM-DD
	Notes      *string    `json:"notes"`
}

var (
	barcodeRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
	itemTypeRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
)

func (it *Item) fill() *Item {
	if it.PriceAmount != nil && it.PriceCurrency != nil {
		it.Price = &Money{Amount: *it.PriceAmount, Currency: *it.PriceCurrency}
	}
	if it.AcquiredOn != nil && len(*it.AcquiredOn) > 10 {
		d := (*it.AcquiredOn)[:10]
		it.AcquiredOn = &d
	}
	return it
}

// apply validates and copies the input's present fields onto it.
func (in *ItemInput) apply(it *Item, field string) error {
	at := func(name string) string {
		if field == "" {
			return name
		}
		return field + "." + name
	}
	if in.Barcode != nil {
		b := strings.TrimSpace(*in.Barcode)
		if !barcodeRe.MatchString(b) {
			return errs.Field(at("barcode"), "invalid_barcode", "barcode must be 1-64 letters, digits, '.', '_' or '-'")
		}
		it.Barcode = b
	}
	if in.BranchID != nil {
		it.BranchID = *in.BranchID
	}
	if in.Location != nil {
		it.Location = strings.TrimSpace(*in.Location)
	}
	if in.CallNumber != nil {
		it.CallNumber = strings.TrimSpace(*in.CallNumber)
		it.CallNumberSort = callnumber.Key(it.CallNumber)
	}
	if in.ItemType != nil {
		t := strings.ToLower(strings.TrimSpace(*in.ItemType))
		if !itemTypeRe.MatchString(t) {
			return errs.Field(at("item_type"), "invalid_item_type", "item_type must be a short code such as book, dvd, magazine")
		}
		it.ItemType = t
	}
	if in.Price != nil {
		if in.Price.Amount < 0 || !currencyRe.MatchString(in.Price.Currency) {
			return errs.Field(at("price"), "invalid_price", `price is {"amount": minor units >= 0, "currency": ISO 4217 code such as "USD"}`)
		}
		a, c := in.Price.Amount, in.Price.Currency
		it.PriceAmount, it.PriceCurrency = &a, &c
	}
	if in.Status != nil {
		if !slices.Contains(ItemStatuses, *in.Status) {
			return errs.Field(at("status"), "invalid_status", "status must be one of "+strings.Join(ItemStatuses, ", "))
		}
		it.Status = *in.Status
	}
	if in.AcquiredOn != nil {
		if *in.AcquiredOn == "" {
			it.AcquiredOn = nil
		} else {
			if _, err := time.Parse(time.DateOnly, *in.AcquiredOn); err != nil {
				return errs.Field(at("acquired_on"), "invalid_date", "acquired_on must be a date YYYY-MM-DD")
			}
			d := *in.AcquiredOn
			it.AcquiredOn = &d
		}
	}
	if in.Notes != nil {
		it.Notes = strings.TrimSpace(*in.Notes)
	}
	return nil
}

// checkBranch loads the item's branch and checks the caller may catalogue there.
func (s *Service) checkBranch(ctx context.Context, id uuid.UUID, field string) error {
	if id == uuid.Nil {
		return errs.Field(field, "required", "branch_id is required")
	}
	b, err := s.branches.GetBranch(ctx, id)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return errs.Field(field, "invalid_branch", "branch_id names no org unit of this library")
		}
		return err
	}
	if p := tenants.PrincipalFrom(ctx); p == nil || !p.CanAt(tenants.PermCatalogWrite, b.Path) {
		return errs.E(errs.Forbidden, "forbidden", "you may not catalogue items at "+b.Name)
	}
	return nil
}

func itemConflict(err error, field string) error {
	code, constraint := tenants.PgCode(err)
	switch {
	case code == tenants.PgUniqueViolation && strings.Contains(constraint, "barcode"):
		return errs.E(errs.Conflict, "barcode_taken", "another item already has this barcode").
			WithDetails(map[string]any{"field": field})
	}
	return err
}

// CreateItems adds copies to one bib in one transaction: all or none.
func (s *Service) CreateItems(ctx context.Context, bibID uuid.UUID, ins []ItemInput) ([]Item, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	if len(ins) == 0 || len(ins) > 1000 {
		return nil, errs.Field("items", "invalid_items", "send 1 to 1000 items")
	}
	bib, err := s.GetBib(ctx, bibID, false)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, errs.Field("bib_id", "invalid_bib", "bib_id names no bibliographic record of this library")
		}
		return nil, err
	}
	out := make([]Item, 0, len(ins))
	seen := map[string]bool{}
	for i, in := range ins {
		field := fmt.Sprintf("items[%d]", i)
		if len(ins) == 1 {
			field = ""
		}
		it, err := newItem(tenant, bibID, bib.CallNumber, in, field)
		if err != nil {
			return nil, err
		}
		if seen[it.Barcode] {
			return nil, errs.E(errs.Conflict, "barcode_taken", "barcode "+it.Barcode+" appears twice in this request")
		}
		seen[it.Barcode] = true
		if err := s.checkBranch(ctx, it.BranchID, "branch_id"); err != nil {
			return nil, err
		}
		if err := db.Omit("Price").Create(&it).Error; err != nil {
			if e := itemConflict(err, "barcode"); e != err {
				return nil, e
			}
			return nil, fmt.Errorf("insert item: %w", err)
		}
		out = append(out, *it.fill())
	}
	return out, nil
}

// newItem builds a validated item for bibID from the input; the record's
// call number is the default.
func newItem(tenant, bibID uuid.UUID, bibCallNumber string, in ItemInput, field string) (Item, error) {
	it := Item{TenantID: tenant, ID: tenants.NewID(), BibID: bibID, Status: "available", ItemType: "book",
		CallNumber: bibCallNumber, CallNumberSort: callnumber.Key(bibCallNumber)}
	if in.Barcode == nil {
		return it, errs.Field(strings.TrimPrefix(field+".barcode", "."), "required", "barcode is required")
	}
	return it, in.apply(&it, field)
}

// GetItem returns one item.
func (s *Service) GetItem(ctx context.Context, id uuid.UUID) (*Item, error) {
	it, err := tenants.Find[Item](ctx, "no such item", "id = ?", id)
	if err != nil {
		return nil, err
	}
	return it.fill(), nil
}

// ItemFilter narrows ListItems.
type ItemFilter struct {
	Barcode  string
	BibID    *uuid.UUID
	BranchID *uuid.UUID
	Status   string
	After    uuid.UUID
	Limit    int
}

// ListItems lists items in id order (Limit+1 rows at most).
func (s *Service) ListItems(ctx context.Context, f ItemFilter) ([]Item, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	q := db.Omit("Price").Where("id > ?", f.After)
	if f.Barcode != "" {
		q = q.Where("barcode = ?", f.Barcode)
	}
	if f.BibID != nil {
		q = q.Where("bib_id = ?", *f.BibID)
	}
	if f.BranchID != nil {
		q = q.Where("branch_id = ?", *f.BranchID)
	}
	if f.Status != "" {
		if !slices.Contains(ItemStatuses, f.Status) {
			return nil, errs.E(errs.BadRequest, "bad_query", "status must be one of "+strings.Join(ItemStatuses, ", "))
		}
		q = q.Where("status = ?", f.Status)
	}
	var out []Item
	if err := q.Order("id").Limit(f.Limit + 1).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list items: %w", err)
	}
	for i := range out {
		out[i].fill()
	}
	return out, nil
}

// UpdateItem changes an item. Moving it to another branch needs the
// cataloguing permission at both branches; bib_id moves it to another record.
func (s *Service) UpdateItem(ctx context.Context, id uuid.UUID, in ItemInput) (*Item, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	it, err := s.GetItem(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.checkBranch(ctx, it.BranchID, "branch_id"); err != nil {
		return nil, err
	}
	if in.Status != nil && *in.Status != it.Status {
		if err := checkStatusChange(it.Status, *in.Status); err != nil {
			return nil, err
		}
	}
	if err := in.apply(it, ""); err != nil {
		return nil, err
	}
	if in.BranchID != nil {
		if err := s.checkBranch(ctx, it.BranchID, "branch_id"); err != nil {
			return nil, err
		}
	}
	if in.BibID != nil && *in.BibID != it.BibID {
		if _, err := s.GetBib(ctx, *in.BibID, false); err != nil {
			if errs.KindOf(err) == errs.NotFound {
				return nil, errs.Field("bib_id", "invalid_bib", "bib_id names no bibliographic record of this library")
			}
			return nil, err
		}
		it.BibID = *in.BibID
	}
	err = db.Model(&Item{}).Where("id = ?", id).Updates(map[string]any{
		"bib_id": it.BibID, "barcode": it.Barcode, "branch_id": it.BranchID, "location": it.Location,
		"call_number": it.CallNumber, "call_number_sort": it.CallNumberSort, "item_type": it.ItemType,
		"price_amount": it.PriceAmount, "price_currency": it.PriceCurrency, "status": it.Status,
		"acquired_on": it.AcquiredOn, "notes": it.Notes, "updated_at": gorm.Expr("now()")}).Error
	if err != nil {
		if e := itemConflict(err, "barcode"); e != err {
			return nil, e
		}
		return nil, fmt.Errorf("update item %s: %w", id, err)
	}
	return s.GetItem(ctx, id)
}
