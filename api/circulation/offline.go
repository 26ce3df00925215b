package circulation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/tenants"

	"github.com/gofiber/fiber/v2"
)

// OfflineTxn is one transaction recorded while the desk was offline.
type OfflineTxn struct {
	Type        string     `json:"type"` // checkout | checkin | renew
	At          time.Time  `json:"at"`
	PatronCard  string     `json:"patron_card"`
	ItemBarcode string     `json:"item_barcode"`
	BranchID    uuid.UUID  `json:"branch_id"`
	Override    *Override  `json:"override"`
	LoanID      *uuid.UUID `json:"-"`
}

// OfflineResult is the outcome of one replayed transaction.
type OfflineResult struct {
	Index  int                `json:"index"` // position in the upload
	Type   string             `json:"type"`
	OK     bool               `json:"ok"`
	Result any                `json:"result,omitempty"`
	Error  *httpx.ErrorDetail `json:"error,omitempty"`
}

// MaxOfflineBatch bounds one upload.
const MaxOfflineBatch = 5000

// ReplayOffline replays transactions in time order (uploads from several
// desks interleave correctly). Each runs in a savepoint: a refused one is
// reported and undone alone, the others stand.
func (s *Service) ReplayOffline(ctx context.Context, txns []OfflineTxn) ([]OfflineResult, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	if len(txns) == 0 || len(txns) > MaxOfflineBatch {
		return nil, errs.Field("transactions", "invalid_batch", fmt.Sprintf("send 1 to %d transactions", MaxOfflineBatch))
	}
	order := make([]int, len(txns))
	for i := range order {
		order[i] = i
		if txns[i].At.IsZero() {
			return nil, errs.Field(fmt.Sprintf("transactions[%d].at", i), "required", "every offline transaction needs its time")
		}
		if !slices.Contains([]string{"checkout", "checkin", "renew"}, txns[i].Type) {
			return nil, errs.Field(fmt.Sprintf("transactions[%d].type", i), "invalid_type", "type is checkout, checkin or renew")
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return txns[a].At.Compare(txns[b].At) })
	out := make([]OfflineResult, len(txns))
	for _, i := range order {
		t := txns[i]
		at := t.At
		if err := db.SavePoint("offline").Error; err != nil {
			return nil, fmt.Errorf("savepoint: %w", err)
		}
		var res any
		switch t.Type {
		case "checkout":
			res, err = s.Checkout(ctx, CheckoutInput{PatronCard: t.PatronCard, ItemBarcode: t.ItemBarcode, BranchID: t.BranchID, At: &at, Override: t.Override})
		case "checkin":
			res, err = s.Checkin(ctx, CheckinInput{ItemBarcode: t.ItemBarcode, BranchID: t.BranchID, ReturnedAt: &at})
		case "renew":
			res, err = s.offlineRenew(ctx, t)
		}
		out[i] = OfflineResult{Index: i, Type: t.Type, OK: err == nil, Result: res}
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || e.Kind == errs.Internal {
				return nil, err
			}
			out[i].Error = &httpx.ErrorDetail{Code: e.Code, Message: e.Message, Details: e.Details}
			if err := db.RollbackTo("offline").Error; err != nil {
				return nil, fmt.Errorf("rollback to savepoint: %w", err)
			}
		}
	}
	return out, nil
}

// offlineRenew renews the open loan of the item with the barcode.
func (s *Service) offlineRenew(ctx context.Context, t OfflineTxn) (*RenewResult, error) {
	db, _ := tenants.DB(ctx)
	var ids []uuid.UUID
	if err := db.Raw(`SELECT l.id FROM loans l JOIN items i ON i.id = l.item_id WHERE i.barcode = ? AND l.status = 'active'`,
		t.ItemBarcode).Scan(&ids).Error; err != nil {
		return nil, fmt.Errorf("offline renew: %w", err)
	}
	if len(ids) == 0 {
		return nil, errs.E(errs.Conflict, "loan_not_active", "the item "+t.ItemBarcode+" is not on loan")
	}
	at := t.At
	return s.Renew(ctx, ids[0], RenewInput{At: &at, BranchID: &t.BranchID, Override: t.Override})
}

func (s *Service) handleOffline(c *fiber.Ctx) error {
	var in struct {
		Transactions []OfflineTxn `json:"transactions"`
	}
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	res, err := s.ReplayOffline(c.UserContext(), in.Transactions)
	if err != nil {
		return err
	}
	ok := 0
	for _, r := range res {
		if r.OK {
			ok++
		}
	}
	return c.JSON(fiber.Map{"results": res, "succeeded": ok, "failed": len(res) - ok})
}

// jsonRaw is a jsonb column passed through as JSON.
type jsonRaw []byte

func (j *jsonRaw) Scan(src any) error {
	switch v := src.(type) {
	case []byte:
		*j = append((*j)[:0], v...)
	case string:
		*j = jsonRaw(v)
	case nil:
		*j = nil
	default:
		return fmt.Errorf("jsonRaw: cannot scan %T", src)
	}
	return nil
}

func (j jsonRaw) MarshalJSON() ([]byte, error) {
	if len(j) == 0 {
		return []byte("{}"), nil
	}
	return json.RawMessage(j).MarshalJSON()
}
