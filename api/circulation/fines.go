package circulation

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/tenants"
)

// FeeEntry is one immutable line of the fines ledger.
type FeeEntry struct {
	TenantID   uuid.UUID  `json:"-" gorm:"primaryKey"`
	ID         uuid.UUID  `json:"id" gorm:"primaryKey"`
	PatronID   uuid.UUID  `json:"patron_id"`
	Kind       string     `json:"kind"` // charge | payment | waiver | credit | refund
	ChargeType *string    `json:"charge_type"`
	Method     *string    `json:"method"`
	Amount     int64      `json:"-"`
	Currency   string     `json:"-"`
	LoanID     *uuid.UUID `json:"loan_id"`
	ItemID     *uuid.UUID `json:"item_id"`
	BranchID   *uuid.UUID `json:"branch_id"`
	Note       string     `json:"note"`
	CreatedBy  *uuid.UUID `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	// Views.
	Money       Money  `json:"amount" gorm:"-"`
	Outstanding *Money `json:"outstanding,omitempty" gorm:"-"` // charges: what is still owed
	Settled     int64  `json:"-" gorm:"->;-:migration"`
}

// TableName maps FeeEntry to its table.
func (FeeEntry) TableName() string { return "fee_entries" }

var paymentMethods = []string{"cash", "card", "check", "online", "other"}

func (s *Service) currency(ctx context.Context) (string, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return "", err
	}
	var c string
	if err := db.Raw("SELECT currency FROM tenants WHERE id = app.current_tenant_id()").Scan(&c).Error; err != nil {
		return "", fmt.Errorf("tenant currency: %w", err)
	}
	return c, nil
}

func (s *Service) insertEntry(ctx context.Context, e *FeeEntry) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	e.TenantID, _ = tenants.CurrentTenant(ctx)
	e.ID = tenants.NewID()
	if e.Currency == "" {
		if e.Currency, err = s.currency(ctx); err != nil {
			return err
		}
	}
	if p := tenants.PrincipalFrom(ctx); p != nil && p.UserID != uuid.Nil {
		e.CreatedBy = &p.UserID
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = s.now()
	}
	if err := db.Omit("Money", "Outstanding", "Settled").Create(e).Error; err != nil {
		return fmt.Errorf("insert ledger %s: %w", e.Kind, err)
	}
	e.Money = Money{Amount: e.Amount, Currency: e.Currency}
	return nil
}

func (s *Service) allocate(ctx context.Context, entryID, chargeID uuid.UUID, amount int64) error {
	db, _ := tenants.DB(ctx)
	tenant, _ := tenants.CurrentTenant(ctx)
	return db.Exec("INSERT INTO fee_allocations (tenant_id, id, entry_id, charge_id, amount) VALUES (?,?,?,?,?)",
		tenant, tenants.NewID(), entryID, chargeID, amount).Error
}

// charge posts a charge to a patron's account.
func (s *Service) charge(ctx context.Context, patronID uuid.UUID, chargeType string, amount int64, loanID, itemID, branchID *uuid.UUID, note string) (*Money, error) {
	e := &FeeEntry{PatronID: patronID, Kind: "charge", ChargeType: &chargeType, Amount: amount, LoanID: loanID, ItemID: itemID,
		BranchID: branchID, Note: note}
	if err := s.insertEntry(ctx, e); err != nil {
		return nil, err
	}
	return &e.Money, nil
}

// openCharges are a patron's charges with something still owed, oldest
// first. Call with the patron locked.
func (s *Service) openCharges(ctx context.Context, patronID uuid.UUID) ([]FeeEntry, error) {
	db, _ := tenants.DB(ctx)
	var cs []FeeEntry
	err := db.Raw(`SELECT e.*, COALESCE((SELECT sum(a.amount) FROM fee_allocations a WHERE a.charge_id = e.id), 0) AS settled
FROM fee_entries e WHERE e.patron_id = ? AND e.kind = 'charge' ORDER BY e.created_at, e.id`, patronID).Scan(&cs).Error
	if err != nil {
		return nil, fmt.Errorf("open charges: %w", err)
	}
	out := cs[:0]
	for _, c := range cs {
		if c.Amount-c.Settled > 0 {
			out = append(out, c)
		}
	}
	return out, nil
}

// creditLost reverses the lost-item charge of a loan when the item comes
// back: what is still owed is credited, and, when refund is on, what was
// paid too (the patron is then in credit until staff pay it back).
func (s *Service) creditLost(ctx context.Context, patronID, loanID uuid.UUID, refund bool, branchID *uuid.UUID) (*Money, error) {
	db, _ := tenants.DB(ctx)
	var cs []FeeEntry
	err := db.Raw(`SELECT e.*, COALESCE((SELECT sum(a.amount) FROM fee_allocations a WHERE a.charge_id = e.id), 0) AS settled
FROM fee_entries e WHERE e.loan_id = ? AND e.kind = 'charge' AND e.charge_type = 'lost'`, loanID).Scan(&cs).Error
	if err != nil {
		return nil, fmt.Errorf("lost charge: %w", err)
	}
	var total int64
	var currency string
	for _, c := range cs {
		amount := c.Amount - c.Settled
		if refund {
			amount = c.Amount
		}
		if amount <= 0 {
			continue
		}
		e := &FeeEntry{PatronID: patronID, Kind: "credit", Amount: amount, Currency: c.Currency, LoanID: &loanID, ItemID: c.ItemID,
			BranchID: branchID, Note: "lost item returned"}
		if err := s.insertEntry(ctx, e); err != nil {
			return nil, err
		}
		if owed := c.Amount - c.Settled; owed > 0 {
			if err := s.allocate(ctx, e.ID, c.ID, owed); err != nil {
				return nil, err
			}
		}
		total += amount
		currency = c.Currency
	}
	if total == 0 {
		return nil, nil
	}
	return &Money{Amount: total, Currency: currency}, nil
}

// Account is a patron's fines view.
type Account struct {
	Balance Money      `json:"balance"` // owed; negative means the patron is in credit
	Entries []FeeEntry `json:"entries"`
}

// Fines returns the patron's ledger, newest first, with what each charge
// still owes.
func (s *Service) Fines(ctx context.Context, patronID uuid.UUID) (*Account, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.patrons.Get(ctx, patronID); err != nil {
		return nil, err
	}
	cur, err := s.currency(ctx)
	if err != nil {
		return nil, err
	}
	var es []FeeEntry
	err = db.Raw(`SELECT e.*, CASE WHEN e.kind = 'charge'
  THEN COALESCE((SELECT sum(a.amount) FROM fee_allocations a WHERE a.charge_id = e.id), 0) ELSE 0 END AS settled
FROM fee_entries e WHERE e.patron_id = ? ORDER BY e.created_at DESC, e.id DESC`, patronID).Scan(&es).Error
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	acc := &Account{Balance: Money{Currency: cur}, Entries: es}
	for i := range es {
		e := &es[i]
		e.Money = Money{Amount: e.Amount, Currency: e.Currency}
		switch e.Kind {
		case "charge", "refund":
			acc.Balance.Amount += e.Amount
		default:
			acc.Balance.Amount -= e.Amount
		}
		if e.Kind == "charge" {
			e.Outstanding = &Money{Amount: e.Amount - e.Settled, Currency: e.Currency}
		}
	}
	if acc.Entries == nil {
		acc.Entries = []FeeEntry{}
	}
	return acc, nil
}

// PaymentInput is the body of POST /patrons/{id}/payments.
type PaymentInput struct {
	Amount    Money       `json:"amount"`
	Method    string      `json:"method"`
	ChargeIDs []uuid.UUID `json:"charge_ids"` // settle these, in this order; default oldest first
	Note      string      `json:"note"`
	BranchID  *uuid.UUID  `json:"branch_id"`
}

// PaymentResult shows how a payment (or waiver) settled charges.
type PaymentResult struct {
	Entry       FeeEntry     `json:"entry"`
	Allocations []Allocation `json:"allocations"`
	Balance     Money        `json:"balance"`
}

// Allocation is the part of a payment that settled one charge.
type Allocation struct {
	ChargeID uuid.UUID `json:"charge_id"`
	Amount   Money     `json:"amount"`
}

// Pay records a payment and allocates it to charges. Paying more than is
// owed is refused, so paying the same charge twice fails the second time.
func (s *Service) Pay(ctx context.Context, patronID uuid.UUID, in PaymentInput) (*PaymentResult, error) {
	if !slices.Contains(paymentMethods, in.Method) {
		return nil, errs.Field("method", "invalid_method", "method is one of "+strings.Join(paymentMethods, ", "))
	}
	return s.settle(ctx, patronID, "payment", in.Amount, &in.Method, in.ChargeIDs, in.Note, in.BranchID)
}

// WaiveInput is the body of POST /patrons/{id}/waivers.
type WaiveInput struct {
	Amount    *Money      `json:"amount"` // default: everything owed on the charges
	ChargeIDs []uuid.UUID `json:"charge_ids"`
	Reason    string      `json:"reason"`
}

// Waive forgives charges (staff decision, with a reason).
func (s *Service) Waive(ctx context.Context, patronID uuid.UUID, in WaiveInput) (*PaymentResult, error) {
	if strings.TrimSpace(in.Reason) == "" {
		return nil, errs.Field("reason", "required", "say why the charge is waived; the reason stays in the ledger")
	}
	if len(in.ChargeIDs) == 0 {
		return nil, errs.Field("charge_ids", "required", "name the charges to waive")
	}
	amount := Money{}
	if in.Amount != nil {
		amount = *in.Amount
	}
	return s.settle(ctx, patronID, "waiver", amount, nil, in.ChargeIDs, in.Reason, nil)
}

// settle records a payment or waiver and allocates it, oldest charge first
// or in the order of chargeIDs. amount 0 on a waiver means "all of them".
func (s *Service) settle(ctx context.Context, patronID uuid.UUID, kind string, amount Money, method *string, chargeIDs []uuid.UUID, note string, branchID *uuid.UUID) (*PaymentResult, error) {
	if err := s.checkBranchField(ctx, branchID); err != nil {
		return nil, err
	}
	if _, err := s.patrons.Lock(ctx, patronID); err != nil {
		return nil, err
	}
	cur, err := s.currency(ctx)
	if err != nil {
		return nil, err
	}
	if amount.Currency != "" && amount.Currency != cur {
		return nil, errs.Field("amount", "currency_mismatch", "this library keeps its accounts in "+cur+"; send amounts in "+cur)
	}
	if amount.Amount < 0 || (kind == "payment" && amount.Amount == 0) {
		return nil, errs.Field("amount", "invalid_amount", `amount is {"amount": minor units > 0, "currency": "`+cur+`"}`)
	}
	open, err := s.openCharges(ctx, patronID)
	if err != nil {
		return nil, err
	}
	targets := open
	if len(chargeIDs) > 0 {
		byID := map[uuid.UUID]FeeEntry{}
		for _, c := range open {
			byID[c.ID] = c
		}
		targets = nil
		for _, id := range chargeIDs {
			c, ok := byID[id]
			if !ok {
				return nil, errs.Field("charge_ids", "charge_not_open", "charge "+id.String()+" is not an open charge of this patron")
			}
			targets = append(targets, c)
		}
	}
	var owed int64
	for _, c := range targets {
		owed += c.Amount - c.Settled
	}
	if owed == 0 {
		return nil, errs.E(errs.Conflict, "nothing_owed", "Nothing is owed on these charges.")
	}
	if amount.Amount == 0 {
		amount.Amount = owed
	}
	if amount.Amount > owed {
		return nil, errs.E(errs.Invalid, "overpayment", fmt.Sprintf("Only %s is owed; take at most that.", patrons.FormatMoney(owed, cur))).
			WithDetails(map[string]any{"owed": Money{Amount: owed, Currency: cur}})
	}
	e := &FeeEntry{PatronID: patronID, Kind: kind, Method: method, Amount: amount.Amount, Currency: cur, Note: note, BranchID: branchID}
	if err := s.insertEntry(ctx, e); err != nil {
		return nil, err
	}
	res := &PaymentResult{Entry: *e, Allocations: []Allocation{}}
	left := amount.Amount
	for _, c := range targets {
		if left == 0 {
			break
		}
		part := min(left, c.Amount-c.Settled)
		if part <= 0 {
			continue
		}
		if err := s.allocate(ctx, e.ID, c.ID, part); err != nil {
			return nil, err
		}
		res.Allocations = append(res.Allocations, Allocation{ChargeID: c.ID, Amount: Money{Amount: part, Currency: cur}})
		left -= part
	}
	if err := s.audit(ctx, auditEntry{Action: "fee_" + kind, PatronID: &patronID, BranchID: branchID,
		Details: map[string]any{"entry_id": e.ID, "amount": e.Money, "note": note}}); err != nil {
		return nil, err
	}
	st, err := s.Standing(ctx, patronID)
	if err != nil {
		return nil, err
	}
	res.Balance = Money{Amount: st.Balance, Currency: cur}
	return res, nil
}

// ChargeInput is the body of POST /patrons/{id}/charges.
type ChargeInput struct {
	Type     string     `json:"type"` // manual | damage | processing
	Amount   Money      `json:"amount"`
	ItemID   *uuid.UUID `json:"item_id"`
	Note     string     `json:"note"`
	BranchID *uuid.UUID `json:"branch_id"`
}

// AddCharge posts a manual, damage or processing charge.
func (s *Service) AddCharge(ctx context.Context, patronID uuid.UUID, in ChargeInput) (*FeeEntry, error) {
	if !slices.Contains([]string{"manual", "damage", "processing"}, in.Type) {
		return nil, errs.Field("type", "invalid_charge_type", "type is manual, damage or processing (overdue and lost charges come from circulation)")
	}
	if err := s.checkBranchField(ctx, in.BranchID); err != nil {
		return nil, err
	}
	cur, err := s.lockForMoney(ctx, patronID, in.Amount)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.Note) == "" {
		return nil, errs.Field("note", "required", "say what the charge is for; the patron will see it")
	}
	if in.ItemID != nil {
		if _, err := s.catalog.GetItem(ctx, *in.ItemID); err != nil {
			return nil, errs.Field("item_id", "item_not_found", "item_id names no item of this library")
		}
	}
	e := &FeeEntry{PatronID: patronID, Kind: "charge", ChargeType: &in.Type, Amount: in.Amount.Amount, Currency: cur,
		ItemID: in.ItemID, Note: in.Note, BranchID: in.BranchID}
	if err := s.insertEntry(ctx, e); err != nil {
		return nil, err
	}
	if err := s.audit(ctx, auditEntry{Action: "fee_charge", PatronID: &patronID, ItemID: in.ItemID,
		Details: map[string]any{"entry_id": e.ID, "amount": e.Money, "type": in.Type}}); err != nil {
		return nil, err
	}
	return e, nil
}

// RefundInput is the body of POST /patrons/{id}/refunds.
type RefundInput struct {
	Amount Money  `json:"amount"`
	Method string `json:"method"`
	Note   string `json:"note"`
}

// Refund pays money back to a patron in credit (a lost item paid for and
// then found).
func (s *Service) Refund(ctx context.Context, patronID uuid.UUID, in RefundInput) (*FeeEntry, error) {
	if !slices.Contains(paymentMethods, in.Method) {
		return nil, errs.Field("method", "invalid_method", "method is one of "+strings.Join(paymentMethods, ", "))
	}
	cur, err := s.lockForMoney(ctx, patronID, in.Amount)
	if err != nil {
		return nil, err
	}
	st, err := s.Standing(ctx, patronID)
	if err != nil {
		return nil, err
	}
	if -st.Balance < in.Amount.Amount {
		return nil, errs.E(errs.Invalid, "refund_exceeds_credit",
			fmt.Sprintf("The patron's credit is %s; refund at most that.", patrons.FormatMoney(max(-st.Balance, 0), cur)))
	}
	e := &FeeEntry{PatronID: patronID, Kind: "refund", Method: &in.Method, Amount: in.Amount.Amount, Currency: cur, Note: in.Note}
	if err := s.insertEntry(ctx, e); err != nil {
		return nil, err
	}
	if err := s.audit(ctx, auditEntry{Action: "fee_refund", PatronID: &patronID,
		Details: map[string]any{"entry_id": e.ID, "amount": e.Money}}); err != nil {
		return nil, err
	}
	return e, nil
}

// lockForMoney locks the patron whose account an amount is about to
// change (serialising payments, charges and refunds of one account), and
// checks the amount against the library's currency, which it returns.
func (s *Service) lockForMoney(ctx context.Context, patronID uuid.UUID, m Money) (string, error) {
	if _, err := s.patrons.Lock(ctx, patronID); err != nil {
		return "", err
	}
	cur, err := s.currency(ctx)
	if err != nil {
		return "", err
	}
	return cur, checkAmount(m, cur)
}

// checkAmount accepts a positive amount in the library's currency.
func checkAmount(m Money, cur string) error {
	if m.Currency != cur {
		return errs.Field("amount", "currency_mismatch", "this library keeps its accounts in "+cur+"; send amounts in "+cur)
	}
	if m.Amount <= 0 {
		return errs.Field("amount", "invalid_amount", `amount is {"amount": minor units > 0, "currency": "`+cur+`"}`)
	}
	return nil
}

// checkBranchField accepts an optional branch_id of this library.
func (s *Service) checkBranchField(ctx context.Context, id *uuid.UUID) error {
	if id == nil {
		return nil
	}
	if _, err := s.tenants.GetBranch(ctx, *id); err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return errs.Field("branch_id", "invalid_branch", "branch_id names no branch of this library")
		}
		return err
	}
	return nil
}
