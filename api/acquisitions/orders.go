package acquisitions

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// Purchase-order statuses.
const (
	POStatusDraft             = "draft"
	POStatusOpen              = "open"
	POStatusPartiallyReceived = "partially_received"
	POStatusReceived          = "received"
	POStatusClosed            = "closed"
	POStatusCanceled          = "canceled"
)

// PurchaseOrder is an order to one vendor.
type PurchaseOrder struct {
	TenantID  uuid.UUID  `json:"-" gorm:"primaryKey"`
	ID        uuid.UUID  `json:"id" gorm:"primaryKey"`
	Number    string     `json:"number"`
	VendorID  uuid.UUID  `json:"vendor_id"`
	Status    string     `json:"status"`
	Notes     string     `json:"notes"`
	OrderedAt *time.Time `json:"ordered_at"`
	ClosedAt  *time.Time `json:"closed_at"`
	CreatedBy *uuid.UUID `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	Lines     []POLine   `json:"lines" gorm:"-"`
	Total     *Money     `json:"total" gorm:"-"`
	// Warnings: funds past their warning threshold after this action.
	Warnings []Warning `json:"warnings,omitempty" gorm:"-"`
}

// Warning is a fund past its warning threshold.
type Warning struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`
	FundID  uuid.UUID `json:"fund_id"`
}

// POLine is one title on an order.
type POLine struct {
	TenantID           uuid.UUID  `json:"-" gorm:"primaryKey"`
	ID                 uuid.UUID  `json:"id" gorm:"primaryKey"`
	POID               uuid.UUID  `json:"po_id" gorm:"column:po_id"`
	LineNo             int        `json:"line_no"`
	BibID              uuid.UUID  `json:"bib_id"`
	Quantity           int        `json:"quantity"`
	ReceivedQuantity   int        `json:"received_quantity"`
	InvoicedQuantity   int        `json:"invoiced_quantity"`
	Status             string     `json:"status"`
	UnitPriceAmount    int64      `json:"-" gorm:"column:unit_price"`
	Currency           string     `json:"-"`
	UnitPrice          Money      `json:"unit_price" gorm:"-"`
	DiscountBP         int64      `json:"-" gorm:"column:discount_bp"`
	Discount           Percent    `json:"discount_percent" gorm:"-"`
	ExchangeRateMicros *int64     `json:"-"`
	ExchangeRate       *Rate      `json:"exchange_rate" gorm:"-"`
	BranchID           uuid.UUID  `json:"branch_id"`
	ItemType           string     `json:"item_type"`
	Notes              string     `json:"notes"`
	LastClaimedOn      *string    `json:"last_claimed_on" gorm:"type:date"`
	ClaimCount         int        `json:"claim_count"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
	Total              Money      `json:"total" gorm:"-"`
	Funds              []LineFund `json:"funds" gorm:"-"`
	Copies             []LineCopy `json:"copies,omitempty" gorm:"-"` // per-copy destinations, when set
}

// LineCopy is where one copy of a line goes (per-copy destinations).
type LineCopy struct {
	TenantID uuid.UUID `json:"-" gorm:"primaryKey"`
	POLineID uuid.UUID `json:"-" gorm:"primaryKey;column:po_line_id"`
	CopyNo   int       `json:"copy_no" gorm:"primaryKey"`
	BranchID uuid.UUID `json:"branch_id"`
	ItemType string    `json:"item_type"`
}

// TableName maps LineCopy to its table.
func (LineCopy) TableName() string { return "po_line_copies" }

// TableName maps POLine to its table.
func (POLine) TableName() string { return "po_lines" }

// LineFund is a fund's share of a line and what it still holds encumbered
// for it (in the fund's currency).
type LineFund struct {
	TenantID   uuid.UUID `json:"-" gorm:"primaryKey"`
	POLineID   uuid.UUID `json:"-" gorm:"primaryKey;column:po_line_id"`
	FundID     uuid.UUID `json:"fund_id" gorm:"primaryKey"`
	PercentBP  int64     `json:"-" gorm:"column:percent_bp"`
	Percent    Percent   `json:"percent" gorm:"-"`
	Encumbered *Money    `json:"encumbered" gorm:"-"`
}

// TableName maps LineFund to its table.
func (LineFund) TableName() string { return "po_line_funds" }

// cost is what n copies of the line cost in the line's currency, after the
// discount (rounded half up, once for the n copies).
func (l *POLine) cost(n int) int64 {
	return mulDivRound(int64(n)*l.UnitPriceAmount, 10000-l.DiscountBP, 10000)
}

func (l *POLine) fill() *POLine {
	l.UnitPrice = Money{l.UnitPriceAmount, l.Currency}
	l.Discount = Percent(l.DiscountBP)
	if l.ExchangeRateMicros != nil {
		r := Rate(*l.ExchangeRateMicros)
		l.ExchangeRate = &r
	}
	if l.LastClaimedOn != nil {
		d := dateOnly(*l.LastClaimedOn)
		l.LastClaimedOn = &d
	}
	l.Total = Money{l.cost(l.Quantity), l.Currency}
	return l
}

// POInput is the body of POST /api/v1/purchase-orders.
type POInput struct {
	VendorID uuid.UUID   `json:"vendor_id"`
	Notes    string      `json:"notes"`
	Lines    []LineInput `json:"lines"`
}

// LineInput orders one title: an existing record (bib_id), or one created
// now from the simple form (bib) and/or an ISBN.
type LineInput struct {
	BibID *uuid.UUID       `json:"bib_id"`
	Bib   *catalog.BibForm `json:"bib"`
	ISBN  string           `json:"isbn"`
	MARC  json.RawMessage  `json:"marc"` // MARC-in-JSON

	Quantity     int         `json:"quantity"`
	UnitPrice    *Money      `json:"unit_price"`
	Discount     *Percent    `json:"discount_percent"` // default: the vendor's
	Funds        []FundShare `json:"funds"`
	BranchID     uuid.UUID   `json:"branch_id"`
	ItemType     string      `json:"item_type"`
	ExchangeRate *Rate       `json:"exchange_rate"`
	Notes        string      `json:"notes"`
	SuggestionID *uuid.UUID  `json:"suggestion_id"`
	// Copies, when given, says where each copy goes (one entry per copy,
	// received in this order); branch_id and item_type are then the
	// defaults of entries that leave them out.
	Copies []CopyInput `json:"copies"`
}

// CopyInput is one copy's destination.
type CopyInput struct {
	BranchID uuid.UUID `json:"branch_id"`
	ItemType string    `json:"item_type"`
}

// FundShare is one fund's percentage of a line.
type FundShare struct {
	FundID  uuid.UUID `json:"fund_id"`
	Percent Percent   `json:"percent"`
}

// CreatePurchaseOrder creates a draft order with its lines. Nothing is
// encumbered until the order is opened.
func (s *Service) CreatePurchaseOrder(ctx context.Context, in POInput) (*PurchaseOrder, error) {
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
	if !v.Active {
		return nil, errs.Field("vendor_id", "vendor_inactive", "vendor "+v.Code+" is inactive")
	}
	if len(in.Lines) == 0 || len(in.Lines) > 500 {
		return nil, errs.Field("lines", "invalid_lines", "an order has 1 to 500 lines")
	}
	var number int64
	if err := db.Raw(`INSERT INTO acq_settings (tenant_id, last_po_number) VALUES (?, 1)
ON CONFLICT (tenant_id) DO UPDATE SET last_po_number = acq_settings.last_po_number + 1, updated_at = now()
RETURNING last_po_number`, tenant).Scan(&number).Error; err != nil {
		return nil, fmt.Errorf("next po number: %w", err)
	}
	now := s.now()
	po := &PurchaseOrder{TenantID: tenant, ID: tenants.NewID(), Number: fmt.Sprintf("PO%06d", number), VendorID: v.ID,
		Status: POStatusDraft, Notes: strings.TrimSpace(in.Notes), CreatedBy: actor(ctx), CreatedAt: now, UpdatedAt: now}
	if err := db.Omit("Lines", "Total", "Warnings").Create(po).Error; err != nil {
		return nil, fmt.Errorf("insert purchase order: %w", err)
	}
	for i, li := range in.Lines {
		if err := s.addLine(ctx, po, v, i+1, li, fmt.Sprintf("lines[%d]", i)); err != nil {
			return nil, err
		}
	}
	return s.GetPurchaseOrder(ctx, po.ID)
}

// addLine validates and inserts one line of a draft order.
func (s *Service) addLine(ctx context.Context, po *PurchaseOrder, v *Vendor, no int, in LineInput, field string) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	f := func(name string) string { return field + "." + name }
	if in.Quantity < 1 || in.Quantity > 10000 {
		return errs.Field(f("quantity"), "invalid_quantity", "quantity must be 1 to 10000")
	}
	if err := checkMoney(f("unit_price"), in.UnitPrice, false); err != nil {
		return err
	}
	if in.UnitPrice.Amount > maxAmount/10000 {
		return errs.Field(f("unit_price"), "invalid_amount", "unit_price is too large")
	}
	if in.UnitPrice.Currency != v.Currency {
		return errs.Field(f("unit_price"), "currency_mismatch",
			fmt.Sprintf("vendor %s invoices in %s: give unit_price in %s (and an exchange_rate when the funds use another currency)", v.Code, v.Currency, v.Currency))
	}
	line := &POLine{TenantID: po.TenantID, ID: tenants.NewID(), POID: po.ID, LineNo: no, Quantity: in.Quantity,
		Status: "open", UnitPriceAmount: in.UnitPrice.Amount, Currency: v.Currency, DiscountBP: v.DiscountBP,
		ItemType: "book", Notes: strings.TrimSpace(in.Notes), CreatedAt: s.now(), UpdatedAt: s.now()}
	if in.Discount != nil {
		if *in.Discount < 0 || *in.Discount > 10000 {
			return errs.Field(f("discount_percent"), "invalid_discount", "discount_percent must be between 0 and 100")
		}
		line.DiscountBP = int64(*in.Discount)
	}
	if t := strings.ToLower(strings.TrimSpace(in.ItemType)); t != "" {
		if !codeRe.MatchString(t) {
			return errs.Field(f("item_type"), "invalid_item_type", "item_type must be a short code such as book or dvd")
		}
		line.ItemType = t
	}
	// Destination branches: the caller must be able to order for each.
	if in.BranchID == uuid.Nil && len(in.Copies) > 0 {
		in.BranchID = in.Copies[0].BranchID
	}
	if in.BranchID == uuid.Nil {
		return errs.Field(f("branch_id"), "required", "branch_id (where the copies go) is required")
	}
	branch, err := s.orderBranch(ctx, f("branch_id"), in.BranchID)
	if err != nil {
		return err
	}
	line.BranchID = branch.ID
	copies, branches, err := s.lineCopies(ctx, line, in, f)
	if err != nil {
		return err
	}
	// Funds: shares summing to 100 %, one currency, owners above the branch.
	if len(in.Funds) == 0 {
		return errs.Field(f("funds"), "required", `funds is required: [{"fund_id", "percent"}] summing to 100`)
	}
	var sum int64
	var fundCur string
	seen := map[uuid.UUID]bool{}
	shares := make([]LineFund, 0, len(in.Funds))
	for j, sh := range in.Funds {
		ff := fmt.Sprintf("%s.funds[%d]", field, j)
		if sh.Percent <= 0 || sh.Percent > 10000 {
			return errs.Field(ff+".percent", "invalid_percent", "each fund's percent must be more than 0 and at most 100")
		}
		if seen[sh.FundID] {
			return errs.Field(ff+".fund_id", "duplicate_fund", "a fund appears twice in this line")
		}
		seen[sh.FundID] = true
		fund, err := s.loadFund(ctx, sh.FundID)
		if err != nil {
			if errs.KindOf(err) == errs.NotFound {
				return errs.Field(ff+".fund_id", "invalid_fund", "fund_id names no fund of this library")
			}
			return err
		}
		if !fund.Active {
			return errs.Field(ff+".fund_id", "fund_inactive", "fund "+fund.Code+" is inactive")
		}
		for _, b := range append([]*tenants.Branch{branch}, branches...) {
			if fund.BranchID != nil && !slices.Contains(b.Path, *fund.BranchID) {
				return errs.Field(ff+".fund_id", "fund_not_for_branch", "fund "+fund.Code+" belongs to another part of the library than "+b.Name)
			}
		}
		if fundCur != "" && fund.Currency != fundCur {
			return errs.Field(ff+".fund_id", "currency_mismatch", "all funds of a line must share one currency")
		}
		fundCur = fund.Currency
		sum += int64(sh.Percent)
		shares = append(shares, LineFund{TenantID: po.TenantID, POLineID: line.ID, FundID: fund.ID, PercentBP: int64(sh.Percent)})
	}
	if sum != 10000 {
		return errs.Field(f("funds"), "invalid_distribution", fmt.Sprintf("the funds' percentages add up to %s, not 100", Percent(sum)))
	}
	if fundCur != line.Currency {
		if in.ExchangeRate == nil {
			return errs.Field(f("exchange_rate"), "exchange_rate_required",
				fmt.Sprintf("the line is priced in %s and its funds are in %s: give exchange_rate (%s per 1 %s)", line.Currency, fundCur, fundCur, line.Currency))
		}
		r := int64(*in.ExchangeRate)
		line.ExchangeRateMicros = &r
	} else if in.ExchangeRate != nil && *in.ExchangeRate != 1_000_000 {
		return errs.Field(f("exchange_rate"), "exchange_rate_not_applicable", "the line and its funds share one currency: no exchange_rate")
	}
	// The title: an existing record, or one made now.
	switch {
	case len(in.MARC) > 0:
		b, err := s.catalog.OrderBibMARC(ctx, in.MARC)
		if err != nil {
			if e := errs.As(err); e != nil && e.Details != nil {
				e.Details["field"] = f("marc")
			}
			return err
		}
		line.BibID = b.ID
	case in.BibID != nil:
		if _, err := s.catalog.GetBib(ctx, *in.BibID, false); err != nil {
			if errs.KindOf(err) == errs.NotFound {
				return errs.Field(f("bib_id"), "invalid_bib", "bib_id names no bibliographic record of this library")
			}
			return err
		}
		line.BibID = *in.BibID
	default:
		b, err := s.catalog.OrderBib(ctx, in.Bib, in.ISBN)
		if err != nil {
			if e := errs.As(err); e != nil && e.Details != nil {
				if fld, ok := e.Details["field"].(string); ok {
					e.Details["field"] = f("bib." + fld)
				}
			}
			return err
		}
		line.BibID = b.ID
	}
	if err := db.Omit("UnitPrice", "Discount", "ExchangeRate", "Total", "Funds").Create(line).Error; err != nil {
		return fmt.Errorf("insert po line: %w", err)
	}
	if err := db.Omit("Percent", "Encumbered").Create(&shares).Error; err != nil {
		return fmt.Errorf("insert po line funds: %w", err)
	}
	if len(copies) > 0 {
		if err := db.Create(&copies).Error; err != nil {
			return fmt.Errorf("insert po line copies: %w", err)
		}
	}
	if in.SuggestionID != nil {
		if err := s.markSuggestionOrdered(ctx, *in.SuggestionID, line.ID, f("suggestion_id")); err != nil {
			return err
		}
	}
	return nil
}

// GetPurchaseOrder loads an order with its lines, their funds and what
// each fund still holds encumbered for them.
func (s *Service) GetPurchaseOrder(ctx context.Context, id uuid.UUID) (*PurchaseOrder, error) {
	po, err := tenants.Find[PurchaseOrder](ctx, "no purchase order with this id", "id = ?", id)
	if err != nil {
		return nil, err
	}
	lines, err := s.linesWhere(ctx, "po_id = ?", id)
	if err != nil {
		return nil, err
	}
	po.Lines = lines
	if len(lines) > 0 {
		t := Money{0, lines[0].Currency}
		for _, l := range lines {
			t.Amount += l.Total.Amount
		}
		po.Total = &t
	}
	return po, nil
}

// orderBranch is a destination the caller may order for.
func (s *Service) orderBranch(ctx context.Context, field string, id uuid.UUID) (*tenants.Branch, error) {
	branch, err := s.tenants.GetBranch(ctx, id)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, errs.Field(field, "invalid_branch", field+" names no org unit of this library")
		}
		return nil, err
	}
	if p := tenants.PrincipalFrom(ctx); p == nil || !p.CanAt(tenants.PermAcquisitionsWrite, branch.Path) {
		return nil, errs.E(errs.Forbidden, "forbidden", "you may not order for "+branch.Name)
	}
	return branch, nil
}

// lineCopies checks a line's per-copy destinations: one per copy, each a
// branch the caller may order for and an item type code.
func (s *Service) lineCopies(ctx context.Context, line *POLine, in LineInput, f func(string) string) ([]LineCopy, []*tenants.Branch, error) {
	if len(in.Copies) == 0 {
		return nil, nil, nil
	}
	if len(in.Copies) != line.Quantity {
		return nil, nil, errs.Field(f("copies"), "copies_mismatch",
			fmt.Sprintf("%d copy destinations for a quantity of %d: give one per copy, or none", len(in.Copies), line.Quantity))
	}
	out := make([]LineCopy, len(in.Copies))
	var branches []*tenants.Branch
	for i, c := range in.Copies {
		cf := fmt.Sprintf("%s[%d]", f("copies"), i)
		if c.BranchID == uuid.Nil {
			c.BranchID = line.BranchID
		}
		b, err := s.orderBranch(ctx, cf+".branch_id", c.BranchID)
		if err != nil {
			return nil, nil, err
		}
		branches = append(branches, b)
		t := strings.ToLower(strings.TrimSpace(c.ItemType))
		if t == "" {
			t = line.ItemType
		} else if !codeRe.MatchString(t) {
			return nil, nil, errs.Field(cf+".item_type", "invalid_item_type", "item_type must be a short code such as book or dvd")
		}
		out[i] = LineCopy{TenantID: line.TenantID, POLineID: line.ID, CopyNo: i + 1, BranchID: b.ID, ItemType: t}
	}
	return out, branches, nil
}

// linesWhere loads lines with their fund shares and open encumbrances.
func (s *Service) linesWhere(ctx context.Context, where string, args ...any) ([]POLine, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var lines []POLine
	if err := db.Where(where, args...).Order("po_id, line_no").Find(&lines).Error; err != nil {
		return nil, fmt.Errorf("load po lines: %w", err)
	}
	if len(lines) == 0 {
		return []POLine{}, nil
	}
	ids := make([]uuid.UUID, len(lines))
	for i := range lines {
		ids[i] = lines[i].ID
	}
	var shares []LineFund
	if err := db.Where("po_line_id IN ?", ids).Order("po_line_id, fund_id").Find(&shares).Error; err != nil {
		return nil, fmt.Errorf("load po line funds: %w", err)
	}
	open, err := openEncumbrances(ctx, ids)
	if err != nil {
		return nil, err
	}
	var curs []struct {
		ID       uuid.UUID
		Currency string
	}
	if err := db.Raw(`SELECT id, currency FROM funds WHERE id IN (SELECT fund_id FROM po_line_funds WHERE po_line_id IN ?)`, ids).Scan(&curs).Error; err != nil {
		return nil, fmt.Errorf("load fund currencies: %w", err)
	}
	cur := map[uuid.UUID]string{}
	for _, c := range curs {
		cur[c.ID] = c.Currency
	}
	by := map[uuid.UUID][]LineFund{}
	for _, sh := range shares {
		sh.Percent = Percent(sh.PercentBP)
		sh.Encumbered = &Money{open[lineFund{sh.POLineID, sh.FundID}], cur[sh.FundID]}
		by[sh.POLineID] = append(by[sh.POLineID], sh)
	}
	var copies []LineCopy
	if err := db.Where("po_line_id IN ?", ids).Order("po_line_id, copy_no").Find(&copies).Error; err != nil {
		return nil, fmt.Errorf("load po line copies: %w", err)
	}
	byCopy := map[uuid.UUID][]LineCopy{}
	for _, c := range copies {
		byCopy[c.POLineID] = append(byCopy[c.POLineID], c)
	}
	for i := range lines {
		lines[i].fill()
		lines[i].Funds = by[lines[i].ID]
		lines[i].Copies = byCopy[lines[i].ID]
	}
	return lines, nil
}

type lineFund struct{ line, fund uuid.UUID }

// openEncumbrances is, per line and fund, encumbrance minus release: what
// the fund still holds for the line.
func openEncumbrances(ctx context.Context, lineIDs []uuid.UUID) (map[lineFund]int64, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		POLineID, FundID uuid.UUID
		Open             int64
	}
	if err := db.Raw(`SELECT po_line_id, fund_id,
  coalesce(sum(amount) FILTER (WHERE kind = 'encumbrance'), 0) - coalesce(sum(amount) FILTER (WHERE kind = 'release'), 0) AS open
FROM fund_transactions WHERE po_line_id IN ? GROUP BY po_line_id, fund_id`, lineIDs).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("open encumbrances: %w", err)
	}
	out := map[lineFund]int64{}
	for _, r := range rows {
		out[lineFund{r.POLineID, r.FundID}] = r.Open
	}
	return out, nil
}

// POFilter narrows ListPurchaseOrders.
type POFilter struct {
	Status   string
	VendorID *uuid.UUID
	After    uuid.UUID
	Limit    int
}

// ListPurchaseOrders lists orders (without their lines), oldest first.
func (s *Service) ListPurchaseOrders(ctx context.Context, f POFilter) ([]PurchaseOrder, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	q := db.Where("id > ?", f.After)
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.VendorID != nil {
		q = q.Where("vendor_id = ?", *f.VendorID)
	}
	var rows []PurchaseOrder
	if err := q.Order("id").Limit(f.Limit + 1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list purchase orders: %w", err)
	}
	return rows, nil
}

// lockPO locks an order row for a state change.
func lockPO(ctx context.Context, id uuid.UUID) (*PurchaseOrder, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var po PurchaseOrder
	r := db.Raw(`SELECT * FROM purchase_orders WHERE id = ? FOR UPDATE`, id).Scan(&po)
	if r.Error != nil {
		return nil, fmt.Errorf("lock purchase order: %w", r.Error)
	}
	if r.RowsAffected == 0 {
		return nil, errs.NotFoundf("no purchase order with this id")
	}
	return &po, nil
}

// OpenPurchaseOrder sends a draft order: each line's cost is encumbered on
// its funds (split by percentage, largest remainder). A fund that would go
// past its stop threshold refuses the whole order (422 fund_over_limit);
// past its warning threshold the order opens with warnings.
func (s *Service) OpenPurchaseOrder(ctx context.Context, id uuid.UUID) (*PurchaseOrder, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	po, err := lockPO(ctx, id)
	if err != nil {
		return nil, err
	}
	if po.Status != POStatusDraft {
		return nil, errs.E(errs.Conflict, "invalid_status", "only a draft order can be opened; this one is "+po.Status)
	}
	lines, err := s.linesWhere(ctx, "po_id = ?", id)
	if err != nil {
		return nil, err
	}
	// Every fund the order touches, locked in id order.
	var fundIDs []uuid.UUID
	for _, l := range lines {
		for _, sh := range l.Funds {
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
	var txs []Transaction
	add := map[uuid.UUID]int64{}
	for _, l := range lines {
		total := convert(l.cost(l.Quantity), l.ExchangeRateMicros)
		weights := make([]int64, len(l.Funds))
		for j, sh := range l.Funds {
			weights[j] = sh.PercentBP
		}
		for j, part := range split(total, weights) {
			if part == 0 {
				continue
			}
			fid, lid := l.Funds[j].FundID, l.ID
			add[fid] += part
			txs = append(txs, Transaction{FundID: fid, Kind: KindEncumbrance, Amount: part, Currency: funds[fid].Currency,
				POLineID: &lid, Reason: "order " + po.Number + " line " + fmt.Sprint(l.LineNo)})
		}
	}
	warnings, err := s.checkLimits(ctx, funds, fundIDs, add)
	if err != nil {
		return nil, err
	}
	if err := s.post(ctx, txs); err != nil {
		return nil, err
	}
	if err := db.Exec(`UPDATE purchase_orders SET status = 'open', ordered_at = ?, updated_at = now() WHERE id = ?`, s.now(), id).Error; err != nil {
		return nil, fmt.Errorf("open purchase order: %w", err)
	}
	out, err := s.GetPurchaseOrder(ctx, id)
	if err != nil {
		return nil, err
	}
	out.Warnings = warnings
	return out, nil
}

// checkLimits refuses when a fund would pass its stop threshold with add
// more committed, and warns past the warning threshold. Committed is
// encumbered + expended; the thresholds are percentages of allocated.
func (s *Service) checkLimits(ctx context.Context, funds map[uuid.UUID]*Fund, order []uuid.UUID, add map[uuid.UUID]int64) ([]Warning, error) {
	var warnings []Warning
	for _, id := range order {
		f := funds[id]
		if f == nil || add[id] <= 0 {
			continue
		}
		if ok, where, err := s.canAt(ctx, f.BranchID); err != nil {
			return nil, err
		} else if !ok {
			return nil, errs.E(errs.Forbidden, "forbidden", "you may not spend from funds of "+where)
		}
		fy, err := s.GetFiscalYear(ctx, f.FiscalYearID)
		if err != nil {
			return nil, err
		}
		if fy.ClosedAt != nil {
			return nil, errs.E(errs.Invalid, "fiscal_year_closed", "fund "+f.Code+" belongs to the closed fiscal year "+fy.Code)
		}
		committed := f.Encumbered.Amount + f.Expended.Amount + add[id]
		if f.StopBP != nil && committed*10000 > f.Allocated.Amount**f.StopBP {
			return nil, errs.E(errs.Invalid, "fund_over_limit", fmt.Sprintf(
				"fund %s cannot take %s more: %s of %s allocated is already committed and its limit is %s%%",
				f.Code, fmtMoney(Money{add[id], f.Currency}), fmtMoney(Money{f.Encumbered.Amount + f.Expended.Amount, f.Currency}),
				fmtMoney(f.Allocated), Percent(*f.StopBP))).
				WithDetails(map[string]any{"fund_id": f.ID, "fund_code": f.Code, "requested": Money{add[id], f.Currency},
					"allocated": f.Allocated, "encumbered": f.Encumbered, "expended": f.Expended, "available": f.Available})
		}
		if f.WarnBP != nil && committed*10000 > f.Allocated.Amount**f.WarnBP {
			warnings = append(warnings, Warning{Code: "fund_warning_threshold", FundID: f.ID, Message: fmt.Sprintf(
				"fund %s is now %s committed of %s allocated, past its warning threshold of %s%%",
				f.Code, fmtMoney(Money{committed, f.Currency}), fmtMoney(f.Allocated), Percent(*f.WarnBP))})
		}
	}
	return warnings, nil
}

// releaseOpen releases what the funds still hold for lines (cancel, close).
func (s *Service) releaseOpen(ctx context.Context, lines []POLine, reason string) error {
	var txs []Transaction
	var fundIDs []uuid.UUID
	for _, l := range lines {
		for _, sh := range l.Funds {
			if sh.Encumbered != nil && sh.Encumbered.Amount > 0 {
				lid := l.ID
				txs = append(txs, Transaction{FundID: sh.FundID, Kind: KindRelease, Amount: sh.Encumbered.Amount,
					Currency: sh.Encumbered.Currency, POLineID: &lid, Reason: reason})
				if !slices.Contains(fundIDs, sh.FundID) {
					fundIDs = append(fundIDs, sh.FundID)
				}
			}
		}
	}
	if len(txs) == 0 {
		return nil
	}
	slices.SortFunc(fundIDs, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	if _, err := lockFunds(ctx, fundIDs); err != nil {
		return err
	}
	return s.post(ctx, txs)
}

// CancelPurchaseOrder cancels an order nothing of which has arrived; the
// funds get back what they held for it.
func (s *Service) CancelPurchaseOrder(ctx context.Context, id uuid.UUID) (*PurchaseOrder, error) {
	return s.endPurchaseOrder(ctx, id, POStatusCanceled)
}

// ClosePurchaseOrder ends an order (received, or the rest will never
// come); what the funds still hold for it is released.
func (s *Service) ClosePurchaseOrder(ctx context.Context, id uuid.UUID) (*PurchaseOrder, error) {
	return s.endPurchaseOrder(ctx, id, POStatusClosed)
}

func (s *Service) endPurchaseOrder(ctx context.Context, id uuid.UUID, to string) (*PurchaseOrder, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	po, err := lockPO(ctx, id)
	if err != nil {
		return nil, err
	}
	switch {
	case to == POStatusCanceled && po.Status != POStatusDraft && po.Status != POStatusOpen:
		return nil, errs.E(errs.Conflict, "invalid_status", "only a draft or open order with nothing received can be canceled; this one is "+po.Status+" (close it instead)")
	case to == POStatusClosed && po.Status != POStatusOpen && po.Status != POStatusPartiallyReceived && po.Status != POStatusReceived:
		return nil, errs.E(errs.Conflict, "invalid_status", "only an open or (partially) received order can be closed; this one is "+po.Status)
	}
	lines, err := s.linesWhere(ctx, "po_id = ?", id)
	if err != nil {
		return nil, err
	}
	if err := s.releaseOpen(ctx, lines, "order "+po.Number+" "+to); err != nil {
		return nil, err
	}
	lineStatus := to
	if err := db.Exec(`UPDATE po_lines SET status = ?, updated_at = now() WHERE po_id = ? AND status = 'open'`, lineStatus, id).Error; err != nil {
		return nil, fmt.Errorf("end po lines: %w", err)
	}
	if err := db.Exec(`UPDATE purchase_orders SET status = ?, closed_at = now(), updated_at = now() WHERE id = ?`, to, id).Error; err != nil {
		return nil, fmt.Errorf("end purchase order: %w", err)
	}
	return s.GetPurchaseOrder(ctx, id)
}

// GetLine loads one order line.
func (s *Service) GetLine(ctx context.Context, id uuid.UUID) (*POLine, error) {
	lines, err := s.linesWhere(ctx, "id = ?", id)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, errs.NotFoundf("no order line with this id")
	}
	return &lines[0], nil
}

// CancelLine ends one line of an open order: what its funds still hold for
// it is released; a line nothing of which arrived is canceled, one that is
// partly received is closed (the rest will not come). The order's status
// follows its lines.
func (s *Service) CancelLine(ctx context.Context, id uuid.UUID) (*POLine, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	peek, err := tenants.Find[POLine](ctx, "no order line with this id", "id = ?", id)
	if err != nil {
		return nil, err
	}
	po, err := lockPO(ctx, peek.POID)
	if err != nil {
		return nil, err
	}
	if po.Status != POStatusOpen && po.Status != POStatusPartiallyReceived {
		return nil, errs.E(errs.Conflict, "invalid_status", "lines of open orders only; order "+po.Number+" is "+po.Status)
	}
	if err := db.Exec(`SELECT 1 FROM po_lines WHERE id = ? FOR UPDATE`, id).Error; err != nil {
		return nil, fmt.Errorf("lock po line: %w", err)
	}
	l, err := s.GetLine(ctx, id)
	if err != nil {
		return nil, err
	}
	if l.Status != "open" {
		return nil, errs.E(errs.Conflict, "invalid_status", "this line is "+l.Status)
	}
	if err := s.releaseOpen(ctx, []POLine{*l}, fmt.Sprintf("order %s line %d canceled", po.Number, l.LineNo)); err != nil {
		return nil, err
	}
	to := POStatusCanceled
	if l.ReceivedQuantity > 0 {
		to = POStatusClosed
	}
	if err := db.Exec(`UPDATE po_lines SET status = ?, updated_at = now() WHERE id = ?`, to, id).Error; err != nil {
		return nil, fmt.Errorf("cancel po line: %w", err)
	}
	// The order: nothing left open -> received if anything arrived, else canceled.
	if err := db.Exec(`UPDATE purchase_orders o SET updated_at = now(), status = CASE
  WHEN EXISTS (SELECT 1 FROM po_lines WHERE po_id = o.id AND status = 'open')
    THEN CASE WHEN EXISTS (SELECT 1 FROM po_lines WHERE po_id = o.id AND received_quantity > 0) THEN 'partially_received' ELSE 'open' END
  WHEN EXISTS (SELECT 1 FROM po_lines WHERE po_id = o.id AND received_quantity > 0) THEN 'received'
  ELSE 'canceled' END
WHERE id = ?`, po.ID).Error; err != nil {
		return nil, fmt.Errorf("update purchase order: %w", err)
	}
	return s.GetLine(ctx, id)
}
