package acquisitions

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// Invoice statuses.
const (
	InvoiceOpen     = "open"
	InvoiceApproved = "approved"
	InvoicePaid     = "paid"
	InvoiceCanceled = "canceled"
)

// Invoice is a vendor's bill for copies of order lines.
type Invoice struct {
	TenantID       uuid.UUID       `json:"-" gorm:"primaryKey"`
	ID             uuid.UUID       `json:"id" gorm:"primaryKey"`
	VendorID       uuid.UUID       `json:"vendor_id"`
	Number         string          `json:"number"`
	InvoiceDate    string          `json:"date" gorm:"type:date"`
	Currency       string          `json:"currency"`
	Status         string          `json:"status"`
	AdjustmentsRaw json.RawMessage `json:"-" gorm:"column:adjustments;type:jsonb"`
	Adjustments    []Adjustment    `json:"adjustments" gorm:"-"`
	ApprovedAt     *time.Time      `json:"approved_at"`
	PaidAt         *time.Time      `json:"paid_at"`
	CanceledAt     *time.Time      `json:"canceled_at"`
	CreatedBy      *uuid.UUID      `json:"created_by"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	Lines          []InvoiceLine   `json:"lines" gorm:"-"`
	Subtotal       Money           `json:"subtotal" gorm:"-"`
	Total          Money           `json:"total" gorm:"-"`
	// Warnings: funds a payment took past a threshold (a payment is never
	// refused: the bill is owed).
	Warnings []Warning `json:"warnings,omitempty" gorm:"-"`
}

// Adjustment is a charge or discount on the whole invoice, prorated across
// its lines by their subtotals. shipping, tax and other add; discount
// subtracts. Amounts are positive.
type Adjustment struct {
	Kind   string `json:"kind"`
	Amount Money  `json:"amount"`
	Note   string `json:"note,omitempty"`
}

func (a Adjustment) signed() int64 {
	if a.Kind == "discount" {
		return -a.Amount.Amount
	}
	return a.Amount.Amount
}

// InvoiceLine bills copies of one order line. Ordered is what those copies
// cost at the order's price; Difference is Total minus Ordered (the price
// change, shipping, tax...), in the invoice's currency.
type InvoiceLine struct {
	TenantID        uuid.UUID `json:"-" gorm:"primaryKey"`
	ID              uuid.UUID `json:"id" gorm:"primaryKey"`
	InvoiceID       uuid.UUID `json:"invoice_id"`
	POLineID        uuid.UUID `json:"po_line_id" gorm:"column:po_line_id"`
	Quantity        int       `json:"quantity"`
	UnitPriceAmount int64     `json:"-" gorm:"column:unit_price"`
	SubtotalAmount  int64     `json:"-" gorm:"column:subtotal"`
	AdjustmentAmt   int64     `json:"-" gorm:"column:adjustment"`
	TotalAmount     int64     `json:"-" gorm:"column:total"`
	CreatedAt       time.Time `json:"created_at"`
	UnitPrice       Money     `json:"unit_price" gorm:"-"`
	Subtotal        Money     `json:"subtotal" gorm:"-"`
	Adjustment      Money     `json:"adjustment" gorm:"-"`
	Total           Money     `json:"total" gorm:"-"`
	Ordered         Money     `json:"ordered" gorm:"-"`
	Difference      Money     `json:"difference" gorm:"-"`
}

// TableName maps InvoiceLine to its table.
func (InvoiceLine) TableName() string { return "invoice_lines" }

// InvoiceInput is the body of POST /api/v1/invoices.
type InvoiceInput struct {
	VendorID    uuid.UUID          `json:"vendor_id"`
	Number      string             `json:"number"`
	Date        string             `json:"date"`
	Lines       []InvoiceLineInput `json:"lines"`
	Adjustments []Adjustment       `json:"adjustments"`
}

// InvoiceLineInput bills quantity copies of a line at unit_price.
type InvoiceLineInput struct {
	POLineID  uuid.UUID `json:"po_line_id"`
	Quantity  int       `json:"quantity"`
	UnitPrice *Money    `json:"unit_price"`
}

// CreateInvoice records a vendor's invoice (status open). The copies it
// bills are reserved on their lines: a line is never invoiced for more
// copies than ordered.
func (s *Service) CreateInvoice(ctx context.Context, in InvoiceInput) (*Invoice, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	v, err := s.GetVendor(ctx, in.VendorID)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, errs.Field("vendor_id", "invalid_vendor", "vendor_id names no vendor of this library")
		}
		return nil, err
	}
	number := strings.TrimSpace(in.Number)
	if number == "" || len(number) > 100 {
		return nil, errs.Field("number", "required", "number (the vendor's invoice number) is required")
	}
	if err := checkDate("date", in.Date); err != nil {
		return nil, err
	}
	var taken bool
	if err := db.Raw(`SELECT EXISTS (SELECT 1 FROM invoices WHERE vendor_id = ? AND number = ?)`, v.ID, number).Scan(&taken).Error; err != nil {
		return nil, fmt.Errorf("check invoice number: %w", err)
	}
	if taken { // checked first: a duplicate is the clearer message than its lines' quantities
		return nil, errs.E(errs.Conflict, "invoice_number_taken", "this vendor's invoice "+number+" is already recorded").
			WithDetails(map[string]any{"field": "number"})
	}
	if len(in.Lines) == 0 || len(in.Lines) > 1000 {
		return nil, errs.Field("lines", "invalid_lines", "an invoice has 1 to 1000 lines")
	}
	var adjTotal int64
	for i, a := range in.Adjustments {
		f := fmt.Sprintf("adjustments[%d]", i)
		if !slices.Contains([]string{"shipping", "tax", "discount", "other"}, a.Kind) {
			return nil, errs.Field(f+".kind", "invalid_adjustment", "kind must be shipping, tax, discount or other")
		}
		if err := checkMoney(f+".amount", &a.Amount, false); err != nil {
			return nil, err
		}
		if a.Amount.Currency != v.Currency || a.Amount.Amount > maxAmount {
			return nil, errs.Field(f+".amount", "currency_mismatch", "adjustments are in the vendor's currency ("+v.Currency+")")
		}
		adjTotal += a.signed()
	}
	inv := &Invoice{TenantID: tenant, ID: tenants.NewID(), VendorID: v.ID, Number: number, InvoiceDate: in.Date, Currency: v.Currency,
		Status: InvoiceOpen, CreatedBy: actor(ctx), CreatedAt: s.now(), UpdatedAt: s.now()}
	if in.Adjustments == nil {
		in.Adjustments = []Adjustment{}
	}
	inv.AdjustmentsRaw, _ = json.Marshal(in.Adjustments)
	lines := make([]InvoiceLine, len(in.Lines))
	weights := make([]int64, len(in.Lines))
	var subtotal int64
	for i, li := range in.Lines {
		f := fmt.Sprintf("lines[%d]", i)
		if li.Quantity < 1 {
			return nil, errs.Field(f+".quantity", "invalid_quantity", "quantity must be at least 1")
		}
		if err := checkMoney(f+".unit_price", li.UnitPrice, false); err != nil {
			return nil, err
		}
		if li.UnitPrice.Currency != v.Currency || li.UnitPrice.Amount > maxAmount/10000 {
			return nil, errs.Field(f+".unit_price", "currency_mismatch", "invoice prices are in the vendor's currency ("+v.Currency+")")
		}
		// Lock the order line: two invoices for its last copies serialise.
		var pl POLine
		r := db.Raw(`SELECT l.* FROM po_lines l JOIN purchase_orders o ON o.id = l.po_id
WHERE l.id = ? AND o.vendor_id = ? AND o.status NOT IN ('draft', 'canceled') FOR UPDATE OF l`, li.POLineID, v.ID).Scan(&pl)
		if r.Error != nil {
			return nil, fmt.Errorf("lock po line: %w", r.Error)
		}
		if r.RowsAffected == 0 {
			return nil, errs.Field(f+".po_line_id", "invalid_po_line", "po_line_id names no line of an open order to this vendor")
		}
		if pl.InvoicedQuantity+li.Quantity > pl.Quantity {
			return nil, errs.E(errs.Invalid, "over_invoice", fmt.Sprintf("line %d of its order has %d copies, %d already invoiced",
				pl.LineNo, pl.Quantity, pl.InvoicedQuantity)).WithDetails(map[string]any{"field": f + ".quantity"})
		}
		if err := db.Exec(`UPDATE po_lines SET invoiced_quantity = invoiced_quantity + ?, updated_at = now() WHERE id = ?`, li.Quantity, pl.ID).Error; err != nil {
			return nil, fmt.Errorf("reserve invoiced copies: %w", err)
		}
		st := int64(li.Quantity) * li.UnitPrice.Amount
		lines[i] = InvoiceLine{TenantID: tenant, ID: tenants.NewID(), InvoiceID: inv.ID, POLineID: pl.ID, Quantity: li.Quantity,
			UnitPriceAmount: li.UnitPrice.Amount, SubtotalAmount: st, CreatedAt: inv.CreatedAt}
		weights[i] = st
		subtotal += st
	}
	if subtotal == 0 { // all free: adjustments by copies instead
		for i := range lines {
			weights[i] = int64(lines[i].Quantity)
		}
	}
	for i, a := range split(adjTotal, weights) {
		lines[i].AdjustmentAmt = a
		lines[i].TotalAmount = lines[i].SubtotalAmount + a
		if lines[i].TotalAmount < 0 {
			return nil, errs.Field("adjustments", "invalid_adjustment", "the discount is larger than what a line costs")
		}
	}
	if err := db.Omit("Adjustments", "Lines", "Subtotal", "Total").Create(inv).Error; err != nil {
		if code, c := tenants.PgCode(err); code == tenants.PgUniqueViolation && strings.Contains(c, "number") {
			return nil, errs.E(errs.Conflict, "invoice_number_taken", "this vendor's invoice "+number+" is already recorded").
				WithDetails(map[string]any{"field": "number"})
		}
		return nil, fmt.Errorf("insert invoice: %w", err)
	}
	if err := db.Omit("UnitPrice", "Subtotal", "Adjustment", "Total", "Ordered", "Difference").Create(&lines).Error; err != nil {
		return nil, fmt.Errorf("insert invoice lines: %w", err)
	}
	return s.GetInvoice(ctx, inv.ID)
}

// GetInvoice loads an invoice with its lines.
func (s *Service) GetInvoice(ctx context.Context, id uuid.UUID) (*Invoice, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	inv, err := tenants.Find[Invoice](ctx, "no invoice with this id", "id = ?", id)
	if err != nil {
		return nil, err
	}
	if err := inv.fill(); err != nil {
		return nil, err
	}
	var lines []InvoiceLine
	if err := db.Where("invoice_id = ?", id).Order("id").Find(&lines).Error; err != nil {
		return nil, fmt.Errorf("load invoice lines: %w", err)
	}
	var ordered []struct {
		ID         uuid.UUID
		UnitPrice  int64
		DiscountBP int64
	}
	if err := db.Raw(`SELECT id, unit_price, discount_bp FROM po_lines WHERE id IN (SELECT po_line_id FROM invoice_lines WHERE invoice_id = ?)`, id).
		Scan(&ordered).Error; err != nil {
		return nil, fmt.Errorf("load ordered prices: %w", err)
	}
	byLine := map[uuid.UUID]POLine{}
	for _, o := range ordered {
		byLine[o.ID] = POLine{UnitPriceAmount: o.UnitPrice, DiscountBP: o.DiscountBP}
	}
	c := inv.Currency
	inv.Subtotal, inv.Total = Money{0, c}, Money{0, c}
	for i := range lines {
		l := &lines[i]
		pl := byLine[l.POLineID]
		l.UnitPrice, l.Subtotal = Money{l.UnitPriceAmount, c}, Money{l.SubtotalAmount, c}
		l.Adjustment, l.Total = Money{l.AdjustmentAmt, c}, Money{l.TotalAmount, c}
		l.Ordered = Money{pl.cost(l.Quantity), c}
		l.Difference = Money{l.TotalAmount - l.Ordered.Amount, c}
		inv.Subtotal.Amount += l.SubtotalAmount
		inv.Total.Amount += l.TotalAmount
	}
	if lines == nil {
		lines = []InvoiceLine{}
	}
	inv.Lines = lines
	return inv, nil
}

func (inv *Invoice) fill() error {
	inv.InvoiceDate = dateOnly(inv.InvoiceDate)
	if err := json.Unmarshal(inv.AdjustmentsRaw, &inv.Adjustments); err != nil {
		return fmt.Errorf("decode adjustments: %w", err)
	}
	return nil
}

// ListInvoices lists invoices, oldest first (without lines).
func (s *Service) ListInvoices(ctx context.Context, status string, vendor *uuid.UUID, after uuid.UUID, limit int) ([]Invoice, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	q := db.Where("id > ?", after)
	if status != "" {
		q = q.Where("status = ?", status)
	}
	if vendor != nil {
		q = q.Where("vendor_id = ?", *vendor)
	}
	var rows []Invoice
	if err := q.Order("id").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list invoices: %w", err)
	}
	for i := range rows {
		if err := rows[i].fill(); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

func lockInvoice(ctx context.Context, id uuid.UUID) (*Invoice, error) {
	return tenants.Lock[Invoice](ctx, "no invoice with this id", "id = ?", id)
}

// ApproveInvoice marks an open invoice approved for payment.
func (s *Service) ApproveInvoice(ctx context.Context, id uuid.UUID) (*Invoice, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	inv, err := lockInvoice(ctx, id)
	if err != nil {
		return nil, err
	}
	if inv.Status != InvoiceOpen {
		return nil, errs.E(errs.Conflict, "invalid_status", "only an open invoice can be approved; this one is "+inv.Status)
	}
	if err := db.Exec(`UPDATE invoices SET status = 'approved', approved_at = now(), updated_at = now() WHERE id = ?`, id).Error; err != nil {
		return nil, fmt.Errorf("approve invoice: %w", err)
	}
	return s.GetInvoice(ctx, id)
}

// CancelInvoice cancels an invoice that is not paid; its copies can be
// invoiced again.
func (s *Service) CancelInvoice(ctx context.Context, id uuid.UUID) (*Invoice, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	inv, err := lockInvoice(ctx, id)
	if err != nil {
		return nil, err
	}
	if inv.Status != InvoiceOpen && inv.Status != InvoiceApproved {
		return nil, errs.E(errs.Conflict, "invalid_status", "only an open or approved invoice can be canceled; this one is "+inv.Status)
	}
	if err := db.Exec(`UPDATE po_lines l SET invoiced_quantity = l.invoiced_quantity - q.n, updated_at = now()
FROM (SELECT po_line_id, sum(quantity) AS n FROM invoice_lines WHERE invoice_id = ? GROUP BY po_line_id) q
WHERE l.id = q.po_line_id`, id).Error; err != nil {
		return nil, fmt.Errorf("unreserve invoiced copies: %w", err)
	}
	if err := db.Exec(`UPDATE invoices SET status = 'canceled', canceled_at = now(), updated_at = now() WHERE id = ?`, id).Error; err != nil {
		return nil, fmt.Errorf("cancel invoice: %w", err)
	}
	return s.GetInvoice(ctx, id)
}

// PayInvoice pays an approved invoice: for each line, each fund releases
// its share of the encumbrance for the copies paid (all of what it still
// holds when these are the line's last unpaid copies) and records the
// invoiced amount, converted at the line's rate and split by the line's
// percentages, as expenditure. The ledger shows both, so the difference
// between ordered and invoiced prices stays visible.
func (s *Service) PayInvoice(ctx context.Context, id uuid.UUID) (*Invoice, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	inv, err := lockInvoice(ctx, id)
	if err != nil {
		return nil, err
	}
	if inv.Status != InvoiceApproved {
		return nil, errs.E(errs.Conflict, "invalid_status", "only an approved invoice can be paid; this one is "+inv.Status)
	}
	full, err := s.GetInvoice(ctx, id)
	if err != nil {
		return nil, err
	}
	var lineIDs []uuid.UUID
	for _, il := range full.Lines {
		if !slices.Contains(lineIDs, il.POLineID) {
			lineIDs = append(lineIDs, il.POLineID)
		}
	}
	pls, err := s.linesWhere(ctx, "id IN ?", lineIDs)
	if err != nil {
		return nil, err
	}
	byID := map[uuid.UUID]*POLine{}
	var fundIDs []uuid.UUID
	for i := range pls {
		byID[pls[i].ID] = &pls[i]
		for _, sh := range pls[i].Funds {
			if !slices.Contains(fundIDs, sh.FundID) {
				fundIDs = append(fundIDs, sh.FundID)
			}
		}
	}
	slices.SortFunc(fundIDs, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	funds, err := lockFunds(ctx, fundIDs)
	if err != nil {
		return nil, err
	}
	// Copies of each line already paid by earlier invoices.
	var paidRows []struct {
		POLineID uuid.UUID
		N        int
	}
	if err := db.Raw(`SELECT il.po_line_id, sum(il.quantity) AS n FROM invoice_lines il JOIN invoices i ON i.id = il.invoice_id
WHERE i.status = 'paid' AND il.po_line_id IN ? GROUP BY il.po_line_id`, lineIDs).Scan(&paidRows).Error; err != nil {
		return nil, fmt.Errorf("paid copies: %w", err)
	}
	paid := map[uuid.UUID]int{}
	for _, r := range paidRows {
		paid[r.POLineID] = r.N
	}
	var txs []Transaction
	for _, il := range full.Lines {
		pl := byID[il.POLineID]
		ilID, plID := il.ID, pl.ID
		weights := make([]int64, len(pl.Funds))
		for j, sh := range pl.Funds {
			weights[j] = sh.PercentBP
		}
		unpaid := pl.Quantity - paid[pl.ID]
		for j, sh := range pl.Funds {
			open := sh.Encumbered.Amount
			rel := open
			if il.Quantity < unpaid {
				rel = mulDivRound(open, int64(il.Quantity), int64(unpaid))
			}
			if rel > 0 {
				txs = append(txs, Transaction{FundID: sh.FundID, Kind: KindRelease, Amount: rel, Currency: funds[sh.FundID].Currency,
					POLineID: &plID, InvoiceLineID: &ilID, Reason: "invoice " + inv.Number + " paid"})
				pl.Funds[j].Encumbered.Amount -= rel
			}
		}
		spent := convert(il.TotalAmount, pl.ExchangeRateMicros)
		for j, part := range split(spent, weights) {
			if part > 0 {
				fid := pl.Funds[j].FundID
				txs = append(txs, Transaction{FundID: fid, Kind: KindExpenditure, Amount: part, Currency: funds[fid].Currency,
					POLineID: &plID, InvoiceLineID: &ilID, Reason: "invoice " + inv.Number + " paid"})
			}
		}
		paid[pl.ID] += il.Quantity
	}
	if err := s.post(ctx, txs); err != nil {
		return nil, err
	}
	if err := db.Exec(`UPDATE invoices SET status = 'paid', paid_at = now(), updated_at = now() WHERE id = ?`, id).Error; err != nil {
		return nil, fmt.Errorf("pay invoice: %w", err)
	}
	out, err := s.GetInvoice(ctx, id)
	if err != nil {
		return nil, err
	}
	out.Warnings = paymentWarnings(funds, fundIDs, txs)
	return out, nil
}

// paymentWarnings names the funds the payment's entries took past their
// warning or stop threshold (committed = encumbered + expended, against
// allocated).
func paymentWarnings(funds map[uuid.UUID]*Fund, order []uuid.UUID, txs []Transaction) []Warning {
	delta := map[uuid.UUID]int64{}
	for _, tx := range txs {
		switch tx.Kind {
		case KindExpenditure:
			delta[tx.FundID] += tx.Amount
		case KindRelease:
			delta[tx.FundID] -= tx.Amount
		}
	}
	var out []Warning
	for _, id := range order {
		f := funds[id]
		if f == nil || delta[id] <= 0 {
			continue
		}
		committed := f.Encumbered.Amount + f.Expended.Amount + delta[id]
		switch {
		case f.StopBP != nil && committed*10000 > f.Allocated.Amount**f.StopBP:
			out = append(out, Warning{Code: "fund_over_stop_threshold", FundID: id, Message: fmt.Sprintf(
				"fund %s is now %s committed of %s allocated, past its limit of %s%%", f.Code,
				fmtMoney(Money{committed, f.Currency}), fmtMoney(f.Allocated), Percent(*f.StopBP))})
		case f.WarnBP != nil && committed*10000 > f.Allocated.Amount**f.WarnBP:
			out = append(out, Warning{Code: "fund_warning_threshold", FundID: id, Message: fmt.Sprintf(
				"fund %s is now %s committed of %s allocated, past its warning threshold of %s%%", f.Code,
				fmtMoney(Money{committed, f.Currency}), fmtMoney(f.Allocated), Percent(*f.WarnBP))})
		}
	}
	return out
}
