package acquisitions

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// maxAmount bounds every amount of money accepted (10 billion in major
// units): far above any library budget, far below int64 overflow in the
// 128-bit arithmetic of split and convert.
const maxAmount = 1_000_000_000_000

// FiscalYear is a budget year of the library.
type FiscalYear struct {
	TenantID  uuid.UUID  `json:"-" gorm:"primaryKey"`
	ID        uuid.UUID  `json:"id" gorm:"primaryKey"`
	Code      string     `json:"code"`
	StartsOn  string     `json:"starts_on" gorm:"type:date"`
	EndsOn    string     `json:"ends_on" gorm:"type:date"`
	Current   bool       `json:"current"`
	ClosedAt  *time.Time `json:"closed_at"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

func (f *FiscalYear) fill() *FiscalYear {
	f.StartsOn, f.EndsOn = dateOnly(f.StartsOn), dateOnly(f.EndsOn)
	return f
}

// FiscalYearInput is the body of POST/PATCH /api/v1/fiscal-years.
type FiscalYearInput struct {
	Code     *string `json:"code"`
	StartsOn *string `json:"starts_on"`
	EndsOn   *string `json:"ends_on"`
	Current  *bool   `json:"current"`
}

// CreateFiscalYear adds a fiscal year; current: true makes it the current
// one (the previous current year stops being current).
func (s *Service) CreateFiscalYear(ctx context.Context, in FiscalYearInput) (*FiscalYear, error) {
	tenant, _ := tenants.CurrentTenant(ctx)
	if in.Code == nil || in.StartsOn == nil || in.EndsOn == nil {
		return nil, errs.Field("code", "required", "code, starts_on and ends_on are required")
	}
	fy := &FiscalYear{TenantID: tenant, ID: tenants.NewID()}
	return fy, s.saveFiscalYear(ctx, fy, in, true)
}

// UpdateFiscalYear changes a fiscal year (code, dates, current flag).
func (s *Service) UpdateFiscalYear(ctx context.Context, id uuid.UUID, in FiscalYearInput) (*FiscalYear, error) {
	fy, err := s.GetFiscalYear(ctx, id)
	if err != nil {
		return nil, err
	}
	return fy, s.saveFiscalYear(ctx, fy, in, false)
}

func (s *Service) saveFiscalYear(ctx context.Context, fy *FiscalYear, in FiscalYearInput, create bool) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	if in.Code != nil {
		c := strings.TrimSpace(*in.Code)
		if !codeRe.MatchString(c) {
			return errs.Field("code", "invalid_code", "code must be 1-40 letters, digits, '.', '_' or '-', such as FY2027")
		}
		fy.Code = c
	}
	if in.StartsOn != nil {
		if err := checkDate("starts_on", *in.StartsOn); err != nil {
			return err
		}
		fy.StartsOn = *in.StartsOn
	}
	if in.EndsOn != nil {
		if err := checkDate("ends_on", *in.EndsOn); err != nil {
			return err
		}
		fy.EndsOn = *in.EndsOn
	}
	if fy.StartsOn >= fy.EndsOn {
		return errs.Field("ends_on", "invalid_dates", "ends_on must be after starts_on")
	}
	var overlap int64
	if err := db.Raw(`SELECT count(*) FROM fiscal_years WHERE id <> ? AND starts_on <= CAST(? AS date) AND ends_on >= CAST(? AS date)`,
		fy.ID, fy.EndsOn, fy.StartsOn).Scan(&overlap).Error; err != nil {
		return fmt.Errorf("check fiscal year overlap: %w", err)
	}
	if overlap > 0 {
		return errs.E(errs.Conflict, "fiscal_year_overlap", "another fiscal year covers part of these dates")
	}
	if in.Current != nil {
		if *in.Current && !fy.Current {
			if err := db.Exec(`UPDATE fiscal_years SET current = false, updated_at = now() WHERE current`).Error; err != nil {
				return fmt.Errorf("unset current fiscal year: %w", err)
			}
		}
		fy.Current = *in.Current
	}
	fy.UpdatedAt = s.now()
	if create {
		fy.CreatedAt = fy.UpdatedAt
		err = db.Create(fy).Error
	} else {
		err = db.Omit("CreatedAt").Save(fy).Error
	}
	if err != nil {
		if code, c := tenants.PgCode(err); code == tenants.PgUniqueViolation && strings.Contains(c, "code") {
			return errs.E(errs.Conflict, "fiscal_year_code_taken", "another fiscal year already has this code")
		}
		return fmt.Errorf("save fiscal year: %w", err)
	}
	fy.fill()
	return nil
}

// GetFiscalYear loads a fiscal year.
func (s *Service) GetFiscalYear(ctx context.Context, id uuid.UUID) (*FiscalYear, error) {
	fy, err := tenants.Find[FiscalYear](ctx, "no fiscal year with this id", "id = ?", id)
	if err != nil {
		return nil, err
	}
	return fy.fill(), nil
}

// ListFiscalYears lists the fiscal years, latest first.
func (s *Service) ListFiscalYears(ctx context.Context) ([]FiscalYear, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var rows []FiscalYear
	if err := db.Order("starts_on DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list fiscal years: %w", err)
	}
	for i := range rows {
		rows[i].fill()
	}
	return rows, nil
}

// Fund is a budget line of one fiscal year.
type Fund struct {
	TenantID            uuid.UUID  `json:"-" gorm:"primaryKey"`
	ID                  uuid.UUID  `json:"id" gorm:"primaryKey"`
	FiscalYearID        uuid.UUID  `json:"fiscal_year_id"`
	Code                string     `json:"code"`
	Name                string     `json:"name"`
	BranchID            *uuid.UUID `json:"branch_id"`
	ParentID            *uuid.UUID `json:"parent_id"`
	Currency            string     `json:"currency"`
	WarnBP              *int64     `json:"-" gorm:"column:warn_bp"`
	StopBP              *int64     `json:"-" gorm:"column:stop_bp"`
	WarnPercent         *Percent   `json:"warn_percent" gorm:"-"`
	StopPercent         *Percent   `json:"stop_percent" gorm:"-"`
	EncumbranceRollover string     `json:"encumbrance_rollover"`
	CarryUnspent        bool       `json:"carry_unspent"`
	RolledFromID        *uuid.UUID `json:"rolled_from_id"`
	Active              bool       `json:"active"`
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
	Balances            `gorm:"-"`
	// Totals are the balances of the fund and every fund below it (same
	// currency), on GET /funds/{id} of a fund that has children.
	Totals *Balances `json:"totals,omitempty" gorm:"-"`
}

// Balances are a fund's derived figures, each a sum over its ledger.
type Balances struct {
	Allocated  Money `json:"allocated"`
	Encumbered Money `json:"encumbered"`
	Expended   Money `json:"expended"`
	Available  Money `json:"available"`
}

// The balance sums over fund_transactions rows t: the one definition of a
// fund's figures (the README and the migration say the same in words);
// available is allocated - encumbered - expended. Exported so the reports
// (api/reports fund_status, spending) sum the ledger exactly the same way.
const (
	AllocatedSQL  = `coalesce(sum(t.amount) FILTER (WHERE t.kind IN ('allocation', 'transfer')), 0)`
	EncumberedSQL = `coalesce(sum(t.amount) FILTER (WHERE t.kind = 'encumbrance'), 0) - coalesce(sum(t.amount) FILTER (WHERE t.kind = 'release'), 0)`
	ExpendedSQL   = `coalesce(sum(t.amount) FILTER (WHERE t.kind = 'expenditure'), 0) - coalesce(sum(t.amount) FILTER (WHERE t.kind = 'credit'), 0)`
)

// balanceSQL sums a fund's ledger into its balances.
const balanceSQL = `SELECT t.fund_id, ` + AllocatedSQL + ` AS allocated, ` + EncumberedSQL + ` AS encumbered, ` + ExpendedSQL + ` AS expended
FROM fund_transactions t WHERE t.fund_id IN ? GROUP BY t.fund_id`

type balanceRow struct {
	FundID                          uuid.UUID
	Allocated, Encumbered, Expended int64
}

// withBalances fills the balances of funds from their ledgers.
func withBalances(ctx context.Context, funds []Fund) error {
	if len(funds) == 0 {
		return nil
	}
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	ids := make([]uuid.UUID, len(funds))
	for i := range funds {
		ids[i] = funds[i].ID
	}
	var rows []balanceRow
	if err := db.Raw(balanceSQL, ids).Scan(&rows).Error; err != nil {
		return fmt.Errorf("fund balances: %w", err)
	}
	by := map[uuid.UUID]balanceRow{}
	for _, r := range rows {
		by[r.FundID] = r
	}
	for i := range funds {
		f := &funds[i]
		r := by[f.ID]
		f.fill()
		f.Allocated = Money{r.Allocated, f.Currency}
		f.Encumbered = Money{r.Encumbered, f.Currency}
		f.Expended = Money{r.Expended, f.Currency}
		f.Available = Money{r.Allocated - r.Encumbered - r.Expended, f.Currency}
	}
	return nil
}

func (f *Fund) fill() *Fund {
	if f.WarnBP != nil {
		p := Percent(*f.WarnBP)
		f.WarnPercent = &p
	}
	if f.StopBP != nil {
		p := Percent(*f.StopBP)
		f.StopPercent = &p
	}
	return f
}

// FundInput is the body of POST/PATCH /api/v1/funds. allocation, on
// create, is the fund's first ledger entry.
type FundInput struct {
	Code                *string    `json:"code"`
	Name                *string    `json:"name"`
	FiscalYearID        *uuid.UUID `json:"fiscal_year_id"`
	BranchID            *uuid.UUID `json:"branch_id"`
	ParentID            *uuid.UUID `json:"parent_id"`
	Currency            *string    `json:"currency"`
	Allocation          *Money     `json:"allocation"`
	WarnPercent         *Percent   `json:"warn_percent"`
	StopPercent         *Percent   `json:"stop_percent"`
	EncumbranceRollover *string    `json:"encumbrance_rollover"`
	CarryUnspent        *bool      `json:"carry_unspent"`
	Active              *bool      `json:"active"`
}

func (s *Service) applyFund(ctx context.Context, f *Fund, in FundInput) error {
	if in.Code != nil {
		c := strings.TrimSpace(*in.Code)
		if !codeRe.MatchString(c) {
			return errs.Field("code", "invalid_code", "code must be 1-40 letters, digits, '.', '_' or '-'")
		}
		f.Code = c
	}
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		if n == "" || len(n) > 200 {
			return errs.Field("name", "invalid_name", "name is required and at most 200 characters")
		}
		f.Name = n
	}
	if in.BranchID != nil {
		b, err := s.tenants.GetBranch(ctx, *in.BranchID)
		if err != nil {
			if errs.KindOf(err) == errs.NotFound {
				return errs.Field("branch_id", "invalid_branch", "branch_id names no org unit of this library")
			}
			return err
		}
		id := b.ID
		f.BranchID = &id
	}
	if in.ParentID != nil {
		parent, err := s.loadFund(ctx, *in.ParentID)
		if err != nil {
			if errs.KindOf(err) == errs.NotFound {
				return errs.Field("parent_id", "invalid_parent", "parent_id names no fund of this library")
			}
			return err
		}
		if parent.FiscalYearID != f.FiscalYearID {
			return errs.Field("parent_id", "invalid_parent", "a fund's parent must belong to the same fiscal year")
		}
		// No cycles: the new parent must not be this fund or below it.
		for p := parent; ; {
			if p.ID == f.ID {
				return errs.Field("parent_id", "invalid_parent", "a fund cannot be its own ancestor")
			}
			if p.ParentID == nil {
				break
			}
			if p, err = s.loadFund(ctx, *p.ParentID); err != nil {
				return err
			}
		}
		id := parent.ID
		f.ParentID = &id
	}
	for _, p := range []struct {
		field string
		in    *Percent
		out   **int64
	}{{"warn_percent", in.WarnPercent, &f.WarnBP}, {"stop_percent", in.StopPercent, &f.StopBP}} {
		if p.in == nil {
			continue
		}
		if *p.in < 0 || *p.in > 100000 {
			return errs.Field(p.field, "invalid_percent", p.field+" must be between 0 and 1000")
		}
		v := int64(*p.in)
		*p.out = &v
	}
	if in.EncumbranceRollover != nil {
		if *in.EncumbranceRollover != "rollover" && *in.EncumbranceRollover != "release" {
			return errs.Field("encumbrance_rollover", "invalid_rollover", `encumbrance_rollover must be "rollover" or "release"`)
		}
		f.EncumbranceRollover = *in.EncumbranceRollover
	}
	if in.CarryUnspent != nil {
		f.CarryUnspent = *in.CarryUnspent
	}
	if in.Active != nil {
		f.Active = *in.Active
	}
	return nil
}

// CreateFund adds a fund to a fiscal year, with its first allocation.
// The caller needs acquisitions.write at the fund's branch (when it has one).
func (s *Service) CreateFund(ctx context.Context, in FundInput) (*Fund, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	if in.Code == nil || in.Name == nil {
		return nil, errs.Field("code", "required", "code and name are required")
	}
	if in.FiscalYearID == nil {
		return nil, errs.Field("fiscal_year_id", "required", "fiscal_year_id is required")
	}
	fy, err := s.GetFiscalYear(ctx, *in.FiscalYearID)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, errs.Field("fiscal_year_id", "invalid_fiscal_year", "fiscal_year_id names no fiscal year of this library")
		}
		return nil, err
	}
	if fy.ClosedAt != nil {
		return nil, errs.E(errs.Conflict, "fiscal_year_closed", "fiscal year "+fy.Code+" is closed")
	}
	f := &Fund{TenantID: tenant, ID: tenants.NewID(), FiscalYearID: fy.ID, EncumbranceRollover: "rollover", Active: true}
	stop := int64(10000)
	f.StopBP = &stop
	cur := ""
	if in.Currency != nil {
		cur = *in.Currency
	} else if in.Allocation != nil {
		cur = in.Allocation.Currency
	} else {
		t, err := s.tenants.GetTenant(ctx)
		if err != nil {
			return nil, err
		}
		cur = t.Currency
	}
	if !currencyRe.MatchString(cur) {
		return nil, errs.Field("currency", "invalid_currency", "currency must be an ISO 4217 code such as USD")
	}
	f.Currency = cur
	if in.Allocation != nil {
		if err := checkMoney("allocation", in.Allocation, false); err != nil {
			return nil, err
		}
		if in.Allocation.Currency != cur {
			return nil, errs.Field("allocation", "currency_mismatch", "the allocation's currency must be the fund's ("+cur+")")
		}
		if in.Allocation.Amount > maxAmount {
			return nil, errs.Field("allocation", "invalid_amount", "allocation is too large")
		}
	}
	if err := s.applyFund(ctx, f, in); err != nil {
		return nil, err
	}
	if ok, where, err := s.canAt(ctx, f.BranchID); err != nil {
		return nil, err
	} else if !ok {
		return nil, errs.E(errs.Forbidden, "forbidden", "you may not manage funds of "+where)
	}
	f.CreatedAt, f.UpdatedAt = s.now(), s.now()
	if err := db.Omit("WarnPercent", "StopPercent", "Balances").Create(f).Error; err != nil {
		if code, c := tenants.PgCode(err); code == tenants.PgUniqueViolation && strings.Contains(c, "code") {
			return nil, errs.E(errs.Conflict, "fund_code_taken", "another fund of this fiscal year already has this code").
				WithDetails(map[string]any{"field": "code"})
		}
		return nil, fmt.Errorf("insert fund: %w", err)
	}
	if in.Allocation != nil && in.Allocation.Amount != 0 {
		if err := s.post(ctx, []Transaction{{FundID: f.ID, Kind: KindAllocation, Amount: in.Allocation.Amount,
			Currency: cur, Reason: "initial allocation"}}); err != nil {
			return nil, err
		}
	}
	return s.GetFund(ctx, f.ID)
}

// UpdateFund changes a fund's settings (never its money: that is the ledger's).
func (s *Service) UpdateFund(ctx context.Context, id uuid.UUID, in FundInput) (*Fund, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	if in.Allocation != nil || in.Currency != nil || in.FiscalYearID != nil {
		return nil, errs.E(errs.Invalid, "immutable_field",
			"a fund's allocation, currency and fiscal year do not change here: post an allocation or transfer to its ledger")
	}
	f, err := s.loadFund(ctx, id)
	if err != nil {
		return nil, err
	}
	if ok, where, err := s.canAt(ctx, f.BranchID); err != nil {
		return nil, err
	} else if !ok {
		return nil, errs.E(errs.Forbidden, "forbidden", "you may not manage funds of "+where)
	}
	if err := s.applyFund(ctx, f, in); err != nil {
		return nil, err
	}
	f.UpdatedAt = s.now()
	if err := db.Omit("WarnPercent", "StopPercent", "Balances", "CreatedAt").Save(f).Error; err != nil {
		if code, c := tenants.PgCode(err); code == tenants.PgUniqueViolation && strings.Contains(c, "code") {
			return nil, errs.E(errs.Conflict, "fund_code_taken", "another fund of this fiscal year already has this code")
		}
		return nil, fmt.Errorf("update fund: %w", err)
	}
	return s.GetFund(ctx, id)
}

func (s *Service) loadFund(ctx context.Context, id uuid.UUID) (*Fund, error) {
	f, err := tenants.Find[Fund](ctx, "no fund with this id", "id = ?", id)
	if err != nil {
		return nil, err
	}
	return f.fill(), nil
}

// GetFund loads a fund with its balances.
func (s *Service) GetFund(ctx context.Context, id uuid.UUID) (*Fund, error) {
	f, err := s.loadFund(ctx, id)
	if err != nil {
		return nil, err
	}
	l := []Fund{*f}
	if err := withBalances(ctx, l); err != nil {
		return nil, err
	}
	return &l[0], nil
}

// FundView is GetFund with the totals of the fund's subtree.
func (s *Service) FundView(ctx context.Context, id uuid.UUID) (*Fund, error) {
	f, err := s.GetFund(ctx, id)
	if err != nil {
		return nil, err
	}
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var subtree []string
	if err := db.Raw(`WITH RECURSIVE t AS (SELECT id FROM funds WHERE parent_id = ? AND currency = ?
  UNION ALL SELECT c.id FROM funds c JOIN t ON c.parent_id = t.id WHERE c.currency = ?)
SELECT id::text FROM t`, id, f.Currency, f.Currency).Scan(&subtree).Error; err != nil {
		return nil, fmt.Errorf("fund subtree: %w", err)
	}
	if len(subtree) == 0 {
		return f, nil
	}
	kids := make([]Fund, len(subtree))
	for i, x := range subtree {
		kids[i] = Fund{ID: uuid.MustParse(x), Currency: f.Currency}
	}
	if err := withBalances(ctx, kids); err != nil {
		return nil, err
	}
	t := f.Balances
	for _, k := range kids {
		t.Allocated.Amount += k.Allocated.Amount
		t.Encumbered.Amount += k.Encumbered.Amount
		t.Expended.Amount += k.Expended.Amount
		t.Available.Amount += k.Available.Amount
	}
	f.Totals = &t
	return f, nil
}

// FundFilter narrows ListFunds.
type FundFilter struct {
	FiscalYearID *uuid.UUID
	After        uuid.UUID
	Limit        int
}

// ListFunds lists funds with their balances.
func (s *Service) ListFunds(ctx context.Context, f FundFilter) ([]Fund, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	q := db.Where("id > ?", f.After)
	if f.FiscalYearID != nil {
		q = q.Where("fiscal_year_id = ?", *f.FiscalYearID)
	}
	var rows []Fund
	if err := q.Order("id").Limit(f.Limit + 1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list funds: %w", err)
	}
	return rows, withBalances(ctx, rows)
}

// Ledger kinds.
const (
	KindAllocation  = "allocation"
	KindTransfer    = "transfer"
	KindEncumbrance = "encumbrance"
	KindRelease     = "release"
	KindExpenditure = "expenditure"
	KindCredit      = "credit"
)

// Transaction is one immutable ledger entry.
type Transaction struct {
	TenantID      uuid.UUID  `json:"-" gorm:"primaryKey"`
	ID            uuid.UUID  `json:"id" gorm:"primaryKey"`
	FundID        uuid.UUID  `json:"fund_id"`
	Kind          string     `json:"kind"`
	Amount        int64      `json:"-"`
	Currency      string     `json:"-"`
	Money         Money      `json:"amount" gorm:"-"`
	POLineID      *uuid.UUID `json:"po_line_id" gorm:"column:po_line_id"`
	InvoiceLineID *uuid.UUID `json:"invoice_line_id"`
	RelatedFundID *uuid.UUID `json:"related_fund_id"`
	Reason        string     `json:"reason"`
	CreatedBy     *uuid.UUID `json:"created_by"`
	CreatedAt     time.Time  `json:"created_at"`
}

// TableName maps Transaction to the ledger.
func (Transaction) TableName() string { return "fund_transactions" }

// post appends entries to the ledger in one statement.
func (s *Service) post(ctx context.Context, txs []Transaction) error {
	if len(txs) == 0 {
		return nil
	}
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	by := actor(ctx)
	now := s.now()
	for i := range txs {
		txs[i].TenantID, txs[i].ID, txs[i].CreatedBy, txs[i].CreatedAt = tenant, tenants.NewID(), by, now
		now = now.Add(time.Microsecond) // ledger order is insertion order
	}
	if err := db.Omit("Money").Create(&txs).Error; err != nil {
		return fmt.Errorf("post to fund ledger: %w", err)
	}
	return nil
}

// Ledger is a fund's entries, oldest first, with its balances.
type Ledger struct {
	Fund    *Fund         `json:"fund"`
	Entries []Transaction `json:"entries"`
	// NextCursor continues a page of entries (GET .../ledger?cursor=).
	NextCursor *string `json:"next_cursor"`
}

// FundLedger returns every entry of a fund's ledger.
func (s *Service) FundLedger(ctx context.Context, id uuid.UUID) (*Ledger, error) {
	return s.FundLedgerPage(ctx, id, uuid.Nil, 0)
}

// FundLedgerPage returns up to limit entries after the entry after (all
// when limit is 0), with the cursor of the next page.
func (s *Service) FundLedgerPage(ctx context.Context, id, after uuid.UUID, limit int) (*Ledger, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	f, err := s.GetFund(ctx, id)
	if err != nil {
		return nil, err
	}
	q := db.Where("fund_id = ? AND id > ?", id, after).Order("id")
	if limit > 0 {
		q = q.Limit(limit + 1)
	}
	var rows []Transaction
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("fund ledger: %w", err)
	}
	for i := range rows {
		rows[i].Money = Money{rows[i].Amount, rows[i].Currency}
	}
	if rows == nil {
		rows = []Transaction{}
	}
	return &Ledger{Fund: f, Entries: rows}, nil
}

// lockFunds locks funds in id order (FOR UPDATE), the fixed order every
// money movement takes, so two orders against the same funds serialise
// instead of both seeing the last money free, and never deadlock.
func lockFunds(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*Fund, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var rows []Fund
	if err := db.Raw(`SELECT * FROM funds WHERE id IN ? ORDER BY id FOR UPDATE`, ids).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("lock funds: %w", err)
	}
	if err := withBalances(ctx, rows); err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]*Fund, len(rows))
	for i := range rows {
		out[rows[i].ID] = &rows[i]
	}
	return out, nil
}

// LedgerInput is the body of POST /api/v1/funds/{id}/transactions: an
// allocation (positive adds budget, negative takes it back) or a credit.
type LedgerInput struct {
	Kind   string `json:"kind"`
	Amount *Money `json:"amount"`
	Reason string `json:"reason"`
}

// PostToFund records an allocation or a credit on a fund.
func (s *Service) PostToFund(ctx context.Context, id uuid.UUID, in LedgerInput) (*Ledger, error) {
	if in.Kind != KindAllocation && in.Kind != KindCredit {
		return nil, errs.Field("kind", "invalid_kind", `kind must be "allocation" or "credit" (other entries come from orders, invoices and transfers)`)
	}
	if err := checkMoney("amount", in.Amount, in.Kind == KindAllocation); err != nil {
		return nil, err
	}
	if in.Amount.Amount == 0 || in.Amount.Amount > maxAmount || in.Amount.Amount < -maxAmount {
		return nil, errs.Field("amount", "invalid_amount", "amount must not be zero (nor absurdly large)")
	}
	funds, err := lockFunds(ctx, []uuid.UUID{id})
	if err != nil {
		return nil, err
	}
	f := funds[id]
	if f == nil {
		return nil, errs.NotFoundf("no fund with this id")
	}
	if ok, where, err := s.canAt(ctx, f.BranchID); err != nil {
		return nil, err
	} else if !ok {
		return nil, errs.E(errs.Forbidden, "forbidden", "you may not manage funds of "+where)
	}
	if in.Amount.Currency != f.Currency {
		return nil, errs.Field("amount", "currency_mismatch", "amount must be in the fund's currency ("+f.Currency+")")
	}
	if in.Kind == KindAllocation && in.Amount.Amount < 0 && f.Available.Amount+in.Amount.Amount < 0 {
		return nil, errs.E(errs.Invalid, "fund_over_limit", "the fund does not have that much available to take back").
			WithDetails(map[string]any{"available": f.Available})
	}
	if err := s.post(ctx, []Transaction{{FundID: id, Kind: in.Kind, Amount: in.Amount.Amount, Currency: f.Currency,
		Reason: strings.TrimSpace(in.Reason)}}); err != nil {
		return nil, err
	}
	return s.FundLedger(ctx, id)
}

// TransferInput is the body of POST /api/v1/fund-transfers.
type TransferInput struct {
	FromFundID uuid.UUID `json:"from_fund_id"`
	ToFundID   uuid.UUID `json:"to_fund_id"`
	Amount     *Money    `json:"amount"`
	Reason     string    `json:"reason"`
}

// TransferResult shows both funds after a transfer.
type TransferResult struct {
	From *Fund `json:"from"`
	To   *Fund `json:"to"`
}

// Transfer moves allocation between two funds of the same currency: one
// ledger entry on each, with the reason. The source may not go below zero
// available.
func (s *Service) Transfer(ctx context.Context, in TransferInput) (*TransferResult, error) {
	if err := checkMoney("amount", in.Amount, false); err != nil {
		return nil, err
	}
	if in.Amount.Amount == 0 || in.Amount.Amount > maxAmount {
		return nil, errs.Field("amount", "invalid_amount", "amount must be positive")
	}
	if strings.TrimSpace(in.Reason) == "" {
		return nil, errs.Field("reason", "required", "a transfer needs a reason")
	}
	if in.FromFundID == in.ToFundID {
		return nil, errs.Field("to_fund_id", "same_fund", "a transfer needs two different funds")
	}
	funds, err := lockFunds(ctx, []uuid.UUID{in.FromFundID, in.ToFundID})
	if err != nil {
		return nil, err
	}
	from, to := funds[in.FromFundID], funds[in.ToFundID]
	if from == nil {
		return nil, errs.Field("from_fund_id", "invalid_fund", "from_fund_id names no fund of this library")
	}
	if to == nil {
		return nil, errs.Field("to_fund_id", "invalid_fund", "to_fund_id names no fund of this library")
	}
	for _, f := range []*Fund{from, to} {
		if ok, where, err := s.canAt(ctx, f.BranchID); err != nil {
			return nil, err
		} else if !ok {
			return nil, errs.E(errs.Forbidden, "forbidden", "you may not manage funds of "+where)
		}
	}
	if from.Currency != to.Currency || in.Amount.Currency != from.Currency {
		return nil, errs.Field("amount", "currency_mismatch", "transfers move money between funds of the same currency, in that currency")
	}
	if from.Available.Amount < in.Amount.Amount {
		return nil, errs.E(errs.Invalid, "fund_over_limit", fmt.Sprintf("fund %s has only %s available", from.Code, fmtMoney(from.Available))).
			WithDetails(map[string]any{"fund_id": from.ID, "available": from.Available})
	}
	reason := strings.TrimSpace(in.Reason)
	fromID, toID := from.ID, to.ID
	if err := s.post(ctx, []Transaction{
		{FundID: from.ID, Kind: KindTransfer, Amount: -in.Amount.Amount, Currency: from.Currency, RelatedFundID: &toID, Reason: reason},
		{FundID: to.ID, Kind: KindTransfer, Amount: in.Amount.Amount, Currency: to.Currency, RelatedFundID: &fromID, Reason: reason},
	}); err != nil {
		return nil, err
	}
	a, err := s.GetFund(ctx, from.ID)
	if err != nil {
		return nil, err
	}
	b, err := s.GetFund(ctx, to.ID)
	if err != nil {
		return nil, err
	}
	return &TransferResult{From: a, To: b}, nil
}

// fmtMoney renders minor units for people: "12.50 USD".
func fmtMoney(m Money) string {
	a, sign := m.Amount, ""
	if a < 0 {
		sign, a = "-", -a
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, a/100, a%100, m.Currency)
}
