package catalog

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/catalog/ident"
	"github.com/stacks-ils/stacks/api/catalog/marc"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// What acquisitions asks of the catalogue: a record for a title being
// ordered, and the copies that arrive. Ordering staff hold
// acquisitions.write, not catalog.write, so these calls check that
// permission instead of the cataloguers'.

// OrderBib returns the record a purchase-order line orders: an existing
// record matching the form or the ISBN (by the catalogue's duplicate rules),
// or a new one built from the form. With only an ISBN and no match, it
// creates a brief record ("[On order] ISBN ...") for the cataloguers to
// complete when the copy arrives.
func (s *Service) OrderBib(ctx context.Context, form *BibForm, isbn string) (*Bib, error) {
	isbn = strings.TrimSpace(isbn)
	if form == nil {
		if isbn == "" {
			return nil, errs.Field("bib", "required", "a line needs bib_id, bib (the simple record form) or isbn")
		}
		norm, ok := ident.NormalizeISBN(isbn)
		if !ok {
			return nil, errs.Field("isbn", "invalid_isbn", fmt.Sprintf("%q is not a valid ISBN", isbn))
		}
		form = &BibForm{Title: "[On order] ISBN " + norm, ISBNs: []string{norm}}
	} else if isbn != "" {
		f := *form
		f.ISBNs = append([]string{isbn}, f.ISBNs...)
		form = &f
	}
	rec, err := form.Build(s.now())
	if err != nil {
		return nil, err
	}
	res, err := s.SaveRecord(ctx, rec, DupSkip)
	if err != nil {
		return nil, err
	}
	return res.Bib, nil
}

// OrderBibMARC is OrderBib for a record sent as MARC-in-JSON: a matching
// record is reused, else this one is created.
func (s *Service) OrderBibMARC(ctx context.Context, raw []byte) (*Bib, error) {
	rec, err := marc.DecodeJSON(raw)
	if err != nil {
		return nil, errs.Field("marc", "invalid_marc", "the MARC-in-JSON record cannot be read: "+err.Error())
	}
	if rec.First("245") == nil {
		return nil, errs.Field("marc", "invalid_marc", "the MARC record has no 245 (title) field")
	}
	res, err := s.SaveRecord(ctx, rec, DupSkip)
	if err != nil {
		return nil, err
	}
	return res.Bib, nil
}

// ReceiveItems creates the copies of an order line as it is received: like
// CreateItems (all or none, barcodes unique, 409 barcode_taken), but the
// caller needs acquisitions.write at each copy's branch.
func (s *Service) ReceiveItems(ctx context.Context, bibID uuid.UUID, ins []ItemInput) ([]Item, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	bib, err := s.GetBib(ctx, bibID, false)
	if err != nil {
		return nil, err
	}
	out := make([]Item, 0, len(ins))
	seen := map[string]bool{}
	checked := map[uuid.UUID]bool{}
	for i, in := range ins {
		field := fmt.Sprintf("barcodes[%d]", i)
		it, err := newItem(tenant, bibID, bib.CallNumber, in, field)
		if err != nil {
			return nil, err
		}
		if seen[it.Barcode] {
			return nil, errs.E(errs.Conflict, "barcode_taken", "barcode "+it.Barcode+" appears twice in this request").
				WithDetails(map[string]any{"field": field})
		}
		seen[it.Barcode] = true
		if !checked[it.BranchID] {
			b, err := s.branches.GetBranch(ctx, it.BranchID)
			if err != nil {
				return nil, err
			}
			if p := tenants.PrincipalFrom(ctx); p == nil || !p.CanAt(tenants.PermAcquisitionsWrite, b.Path) {
				return nil, errs.E(errs.Forbidden, "forbidden", "you may not receive items at "+b.Name)
			}
			checked[it.BranchID] = true
		}
		if err := db.Omit("Price").Create(&it).Error; err != nil {
			if e := itemConflict(err, field); e != err {
				return nil, e
			}
			return nil, fmt.Errorf("insert item: %w", err)
		}
		out = append(out, *it.fill())
	}
	return out, nil
}

// NextBarcodes returns n unused barcodes in the generated series (14 digits
// starting with 3, as stacks gen makes them). A transaction-level advisory
// lock serialises two receipts generating at once; the lock is per tenant.
func (s *Service) NextBarcodes(ctx context.Context, n int) ([]string, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	if err := db.Exec(`SELECT pg_advisory_xact_lock(hashtextextended('barcodes:' || ?, 0))`, tenant.String()).Error; err != nil {
		return nil, fmt.Errorf("lock barcode series: %w", err)
	}
	var last string
	if err := db.Raw(`SELECT coalesce(max(barcode), '') FROM items WHERE barcode >= '3' AND barcode < '4' AND barcode ~ '^3[0-9]{13}$'`).
		Scan(&last).Error; err != nil {
		return nil, fmt.Errorf("last barcode: %w", err)
	}
	next := int64(0)
	if last != "" {
		next, _ = strconv.ParseInt(last[1:], 10, 64)
	}
	out := make([]string, n)
	for i := range out {
		next++
		out[i] = fmt.Sprintf("3%013d", next)
	}
	return out, nil
}
