package acquisitions

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/tz"
	"github.com/stacks-ils/stacks/tenants"
)

// Settings are the library's acquisitions settings.
type Settings struct {
	SkipProcessing bool `json:"skip_processing"`
	// EDIID is the library's SAN or GLN, the buyer in EDIFACT orders.
	EDIID string `json:"edi_id" gorm:"column:edi_id"`
}

// SettingsInput is the body of PATCH /api/v1/acquisitions/settings.
type SettingsInput struct {
	SkipProcessing *bool   `json:"skip_processing"`
	EDIID          *string `json:"edi_id"`
}

// GetSettings returns the library's settings (defaults when never set).
func (s *Service) GetSettings(ctx context.Context) (*Settings, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var out Settings
	if err := db.Raw(`SELECT coalesce((SELECT skip_processing FROM acq_settings), false) AS skip_processing,
  coalesce((SELECT edi_id FROM acq_settings), '') AS edi_id`).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("acquisitions settings: %w", err)
	}
	return &out, nil
}

// UpdateSettings changes the settings present in the input.
func (s *Service) UpdateSettings(ctx context.Context, in SettingsInput) (*Settings, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	if in.SkipProcessing != nil {
		if err := db.Exec(`INSERT INTO acq_settings (tenant_id, skip_processing) VALUES (?, ?)
ON CONFLICT (tenant_id) DO UPDATE SET skip_processing = EXCLUDED.skip_processing, updated_at = now()`, tenant, *in.SkipProcessing).Error; err != nil {
			return nil, fmt.Errorf("update acquisitions settings: %w", err)
		}
	}
	if in.EDIID != nil {
		id := strings.TrimSpace(*in.EDIID)
		if len(id) > 35 {
			return nil, errs.Field("edi_id", "invalid_edi_id", "edi_id is a SAN or GLN of at most 35 characters")
		}
		if err := db.Exec(`INSERT INTO acq_settings (tenant_id, edi_id) VALUES (?, ?)
ON CONFLICT (tenant_id) DO UPDATE SET edi_id = EXCLUDED.edi_id, updated_at = now()`, tenant, id).Error; err != nil {
			return nil, fmt.Errorf("update acquisitions settings: %w", err)
		}
	}
	return s.GetSettings(ctx)
}

// ReceiveInput is the body of POST /api/v1/po-lines/{id}/receive: how many
// copies arrived and, optionally, their barcodes (one per copy; generated
// when absent).
type ReceiveInput struct {
	Quantity *int     `json:"quantity"`
	Barcodes []string `json:"barcodes"`
}

// ReceiveResult is the line after the receipt and the items it created.
type ReceiveResult struct {
	Line  *POLine        `json:"line"`
	Items []catalog.Item `json:"items"`
}

// today is the library's local date.
func (s *Service) today(ctx context.Context) (string, error) {
	t, err := s.tenants.GetTenant(ctx)
	if err != nil {
		return "", err
	}
	loc := tz.OrUTC(t.Timezone)
	return s.now().In(loc).Format(time.DateOnly), nil
}

// Receive records copies of a line as arrived: the items are created in the
// catalogue at the line's branch (in_processing, or available when the
// library skips processing) with the copy's price and today's date, and
// linked to the line. More than ordered is refused (422 over_receipt).
func (s *Service) Receive(ctx context.Context, lineID uuid.UUID, in ReceiveInput) (*ReceiveResult, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	peek, err := tenants.Find[POLine](ctx, "no order line with this id", "id = ?", lineID)
	if err != nil {
		return nil, err
	}
	// Lock order: the order, then its line (as cancel and close do).
	po, err := lockPO(ctx, peek.POID)
	if err != nil {
		return nil, err
	}
	var line POLine
	if err := db.Raw(`SELECT * FROM po_lines WHERE id = ? FOR UPDATE`, lineID).Scan(&line).Error; err != nil {
		return nil, fmt.Errorf("lock po line: %w", err)
	}
	line.fill()
	if po.Status != POStatusOpen && po.Status != POStatusPartiallyReceived {
		return nil, errs.E(errs.Conflict, "invalid_status", "copies can be received on open orders only; order "+po.Number+" is "+po.Status)
	}
	if line.Status != "open" {
		return nil, errs.E(errs.Conflict, "invalid_status", "this line is "+line.Status)
	}
	qty := len(in.Barcodes)
	if in.Quantity != nil {
		qty = *in.Quantity
	}
	if qty < 1 {
		return nil, errs.Field("quantity", "invalid_quantity", "quantity must be at least 1")
	}
	if len(in.Barcodes) > 0 && len(in.Barcodes) != qty {
		return nil, errs.Field("barcodes", "barcodes_mismatch", fmt.Sprintf("%d barcodes for %d copies: send one per copy, or none to generate them", len(in.Barcodes), qty))
	}
	if line.ReceivedQuantity+qty > line.Quantity {
		return nil, errs.E(errs.Invalid, "over_receipt", fmt.Sprintf("%d of %d copies were already received: at most %d more",
			line.ReceivedQuantity, line.Quantity, line.Quantity-line.ReceivedQuantity)).
			WithDetails(map[string]any{"field": "quantity", "ordered": line.Quantity, "received": line.ReceivedQuantity})
	}
	barcodes := in.Barcodes
	if len(barcodes) == 0 {
		if barcodes, err = s.catalog.NextBarcodes(ctx, qty); err != nil {
			return nil, err
		}
	}
	set, err := s.GetSettings(ctx)
	if err != nil {
		return nil, err
	}
	status := "in_processing"
	if set.SkipProcessing {
		status = "available"
	}
	today, err := s.today(ctx)
	if err != nil {
		return nil, err
	}
	price := catalog.Money{Amount: line.cost(1), Currency: line.Currency}
	// Per-copy destinations: the n-th copy received goes where copy n was
	// ordered for.
	var copies []LineCopy
	if err := db.Where("po_line_id = ?", line.ID).Order("copy_no").Find(&copies).Error; err != nil {
		return nil, fmt.Errorf("load copy destinations: %w", err)
	}
	ins := make([]catalog.ItemInput, qty)
	for i := range ins {
		bc := strings.TrimSpace(barcodes[i])
		branch, itemType := line.BranchID, line.ItemType
		if n := line.ReceivedQuantity + i; n < len(copies) {
			branch, itemType = copies[n].BranchID, copies[n].ItemType
		}
		ins[i] = catalog.ItemInput{Barcode: &bc, BranchID: &branch, ItemType: &itemType, Price: &price,
			Status: &status, AcquiredOn: &today}
	}
	items, err := s.catalog.ReceiveItems(ctx, line.BibID, ins)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	rows := make([]map[string]any, len(items))
	for i, it := range items {
		rows[i] = map[string]any{"tenant_id": tenant, "id": tenants.NewID(), "po_line_id": line.ID, "item_id": it.ID,
			"received_on": today, "received_by": actor(ctx)}
	}
	if err := db.Table("po_receipts").Create(rows).Error; err != nil {
		return nil, fmt.Errorf("record receipts: %w", err)
	}
	if err := db.Exec(`UPDATE po_lines SET received_quantity = received_quantity + ?,
  status = CASE WHEN received_quantity + ? = quantity THEN 'received' ELSE status END, updated_at = now() WHERE id = ?`,
		qty, qty, line.ID).Error; err != nil {
		return nil, fmt.Errorf("update po line: %w", err)
	}
	if err := db.Exec(`UPDATE purchase_orders SET updated_at = now(), status = CASE
  WHEN NOT EXISTS (SELECT 1 FROM po_lines WHERE po_id = @po AND status = 'open') THEN 'received' ELSE 'partially_received' END
WHERE id = @po`, map[string]any{"po": po.ID}).Error; err != nil {
		return nil, fmt.Errorf("update purchase order: %w", err)
	}
	l, err := s.GetLine(ctx, line.ID)
	if err != nil {
		return nil, err
	}
	return &ReceiveResult{Line: l, Items: items}, nil
}

// LineItems lists the items a line brought in (fund -> order -> shelf).
func (s *Service) LineItems(ctx context.Context, lineID uuid.UUID) ([]catalog.Item, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := tenants.Find[POLine](ctx, "no order line with this id", "id = ?", lineID); err != nil {
		return nil, err
	}
	var ids []string
	if err := db.Raw(`SELECT item_id::text FROM po_receipts WHERE po_line_id = ? ORDER BY id`, lineID).Scan(&ids).Error; err != nil {
		return nil, fmt.Errorf("line receipts: %w", err)
	}
	out := make([]catalog.Item, 0, len(ids))
	for _, id := range ids {
		it, err := s.catalog.GetItem(ctx, uuid.MustParse(id))
		if err != nil {
			return nil, err
		}
		out = append(out, *it)
	}
	return out, nil
}
