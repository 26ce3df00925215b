package serials

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/acquisitions"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/tenants"
)

// checkAcquisitions checks that the subscription's vendor, fund and PO
// line are the library's (the foreign keys hold too; this answers with a
// sentence) and that a PO line orders the subscribed title.
func (s *Service) checkAcquisitions(ctx context.Context, sub *Subscription) error {
	if s.acq == nil {
		return nil
	}
	if sub.VendorID != nil {
		if _, err := s.acq.GetVendor(ctx, *sub.VendorID); err != nil {
			return notFoundAs(err, "vendor_id", "invalid_vendor", "vendor_id names no vendor of this library")
		}
	}
	if sub.FundID != nil {
		if _, err := s.acq.GetFund(ctx, *sub.FundID); err != nil {
			return notFoundAs(err, "fund_id", "invalid_fund", "fund_id names no fund of this library")
		}
	}
	if sub.POLineID != nil {
		l, err := s.acq.GetLine(ctx, *sub.POLineID)
		if err != nil {
			return notFoundAs(err, "po_line_id", "invalid_po_line", "po_line_id names no order line of this library")
		}
		if l.BibID != sub.BibID {
			return errs.Field("po_line_id", "po_line_other_title", "the order line orders another title than the subscription's record")
		}
	}
	return nil
}

func notFoundAs(err error, field, code, msg string) error {
	if errs.KindOf(err) == errs.NotFound {
		return errs.Field(field, code, msg)
	}
	return err
}

// order makes the subscription's period an order like any other: a
// purchase order to its vendor with one line for the title at the annual
// cost, charged 100% to its fund, opened at once so the cost is encumbered
// (and expended when the vendor's invoice is paid). Subscriptions without
// a vendor, fund or cost, or that name their own PO line, are not ordered.
func (s *Service) order(ctx context.Context, sub *Subscription, period string) error {
	if s.acq == nil || sub.POLineID != nil || sub.VendorID == nil || sub.FundID == nil || sub.AnnualCostAmount == nil {
		return nil
	}
	bib := sub.BibID
	po, err := s.acq.CreatePurchaseOrder(ctx, acquisitions.POInput{VendorID: *sub.VendorID, Notes: "Serial subscription " + period,
		Lines: []acquisitions.LineInput{{BibID: &bib, Quantity: 1,
			UnitPrice: &acquisitions.Money{Amount: *sub.AnnualCostAmount, Currency: *sub.Currency},
			Discount:  new(acquisitions.Percent),
			Funds:     []acquisitions.FundShare{{FundID: *sub.FundID, Percent: 10000}},
			BranchID:  sub.BranchID, ItemType: sub.ItemType, Notes: "subscription " + sub.ID.String() + " " + period}}})
	if err != nil {
		return fmt.Errorf("order subscription: %w", err)
	}
	if _, err := s.acq.OpenPurchaseOrder(ctx, po.ID); err != nil {
		return fmt.Errorf("open subscription order: %w", err)
	}
	line := po.Lines[0].ID
	sub.POLineID = &line
	return nil
}

// Vendor is what a claim needs to know about a vendor.
type Vendor struct {
	ID            uuid.UUID
	Name          string
	Email         string
	AccountNumber string
}

// vendors returns the claim contacts of the vendors with ids.
func (s *Service) vendors(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]Vendor, error) {
	out := map[uuid.UUID]Vendor{}
	if s.acq == nil {
		return out, nil
	}
	for _, id := range ids {
		v, err := s.acq.GetVendor(ctx, id)
		if err != nil {
			if errs.KindOf(err) == errs.NotFound {
				continue
			}
			return nil, err
		}
		out[id] = Vendor{ID: v.ID, Name: v.Name, Email: v.Email, AccountNumber: firstAccount(v.AccountNumbers)}
	}
	return out, nil
}

// firstAccount reads the library's account number from a vendor's
// account_numbers: ["123"] or [{"number": "123", ...}].
func firstAccount(raw json.RawMessage) string {
	var strs []string
	if json.Unmarshal(raw, &strs) == nil && len(strs) > 0 {
		return strs[0]
	}
	var objs []map[string]any
	if json.Unmarshal(raw, &objs) == nil && len(objs) > 0 {
		for _, k := range []string{"number", "account", "account_number", "value"} {
			if v, ok := objs[0][k].(string); ok {
				return v
			}
		}
	}
	return ""
}

// recordOrder remembers the PO line of the subscription's current period
// (subscription_orders), so every period's line stays known after renewals.
func (s *Service) recordOrder(ctx context.Context, sub *Subscription) error {
	if sub.POLineID == nil {
		return nil
	}
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	err = db.Exec(`INSERT INTO subscription_orders (tenant_id, subscription_id, po_line_id, starts_on, ends_on)
VALUES (?, ?, ?, CAST(? AS date), CAST(? AS date)) ON CONFLICT DO NOTHING`, sub.TenantID, sub.ID, *sub.POLineID, sub.StartsOn, sub.EndsOn).Error
	if err != nil {
		return fmt.Errorf("record subscription order: %w", err)
	}
	return nil
}

// SubscriptionOrder is one period's PO line.
type SubscriptionOrder struct {
	POLineID  uuid.UUID `json:"po_line_id"`
	StartsOn  string    `json:"starts_on"`
	EndsOn    string    `json:"ends_on"`
	CreatedAt time.Time `json:"created_at"`
}

// Orders lists the PO lines of a subscription's periods, oldest first.
func (s *Service) Orders(ctx context.Context, id uuid.UUID) (httpx.List[SubscriptionOrder], error) {
	out := httpx.List[SubscriptionOrder]{Items: []SubscriptionOrder{}}
	if _, err := s.load(ctx, id, false); err != nil {
		return out, err
	}
	db, err := tenants.DB(ctx)
	if err != nil {
		return out, err
	}
	err = db.Raw(`SELECT po_line_id, starts_on::text AS starts_on, ends_on::text AS ends_on, created_at FROM subscription_orders
		WHERE subscription_id = ? ORDER BY starts_on, created_at`, id).Scan(&out.Items).Error
	if err != nil {
		return out, fmt.Errorf("subscription orders: %w", err)
	}
	return out, nil
}
