// Package patrons is the library's borrowers: categories, patron accounts,
// blocks (manual and live automatic ones), OPAC self-registration and the
// merging of duplicate records. Loans, holds and fines belong to
// circulation; this package reaches them only through the Standing and
// Merger interfaces that circulation implements.
package patrons

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// Patron statuses.
const (
	StatusActive   = "active"
	StatusPending  = "pending" // self-registered, waiting for staff approval or email verification
	StatusInactive = "inactive"
	StatusMerged   = "merged" // a duplicate folded into MergedInto
)

// Patron is one borrower account.
type Patron struct {
	TenantID        uuid.UUID       `json:"-" gorm:"primaryKey"`
	ID              uuid.UUID       `json:"id" gorm:"primaryKey"`
	CardNumber      string          `json:"card_number"`
	FirstName       string          `json:"first_name"`
	LastName        string          `json:"last_name"`
	NameKey         string          `json:"-"`
	Email           string          `json:"email"`
	Phone           string          `json:"phone"`
	Address         tenants.Address `json:"address"`
	HomeBranchID    uuid.UUID       `json:"home_branch_id"`
	Category        string          `json:"category"`
	BirthDate       *string         `json:"birth_date" gorm:"type:date"`
	ExpiresOn       string          `json:"expires_on" gorm:"type:date"`
	Status          string          `json:"status"`
	Notes           string          `json:"notes"`
	NoticeChannel   string          `json:"notice_channel"`
	HistoryPrivacy  string          `json:"history_privacy"`
	HistoryDays     *int            `json:"history_days"`
	GuarantorID     *uuid.UUID      `json:"guarantor_id"`
	PinHash         *string         `json:"-"`
	HasPin          bool            `json:"has_pin" gorm:"-"`
	EmailVerifiedAt *time.Time      `json:"email_verified_at"`
	VerifyTokenHash []byte          `json:"-"`
	MergedInto      *uuid.UUID      `json:"merged_into,omitempty"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
}

// fill normalises what the database returns for the JSON view.
func (p *Patron) fill() *Patron {
	p.ExpiresOn = dateOnly(p.ExpiresOn)
	if p.BirthDate != nil {
		d := dateOnly(*p.BirthDate)
		p.BirthDate = &d
	}
	p.HasPin = p.PinHash != nil && *p.PinHash != ""
	return p
}

func dateOnly(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// Category is a patron category with its defaults and block thresholds
// (null means no limit).
type Category struct {
	TenantID        uuid.UUID `json:"-" gorm:"primaryKey"`
	Code            string    `json:"code" gorm:"primaryKey"`
	Name            string    `json:"name"`
	EnrolmentMonths *int      `json:"enrolment_months"`
	MinAge          *int      `json:"min_age"`
	MaxAge          *int      `json:"max_age"`
	MaxLoans        *int      `json:"max_loans"`
	MaxHolds        *int      `json:"max_holds"`
	FineThreshold   *int64    `json:"-"` // minor units of the tenant's currency
	// FineLimit is FineThreshold with the tenant's currency, the JSON view
	// ({"amount","currency"} or null); filled by the category handlers.
	FineLimit  *Money    `json:"fine_threshold" gorm:"-"`
	MaxOverdue *int      `json:"max_overdue"`
	MaxLost    *int      `json:"max_lost"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Money is an amount in minor units (cents) with its ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// TableName maps Category to its table.
func (Category) TableName() string { return "patron_categories" }

// ManualBlock is a block staff placed on an account.
type ManualBlock struct {
	TenantID  uuid.UUID  `json:"-" gorm:"primaryKey"`
	ID        uuid.UUID  `json:"id" gorm:"primaryKey"`
	PatronID  uuid.UUID  `json:"patron_id"`
	Reason    string     `json:"reason"`
	EndsOn    *string    `json:"ends_on" gorm:"type:date"`
	CreatedBy *uuid.UUID `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	LiftedAt  *time.Time `json:"lifted_at"`
	LiftedBy  *uuid.UUID `json:"lifted_by"`
}

// TableName maps ManualBlock to its table.
func (ManualBlock) TableName() string { return "patron_blocks" }

// Block is one reason the patron may not borrow now. Codes: manual,
// expired, pending, inactive, fines, overdue, lost.
type Block struct {
	Code    string     `json:"code"`
	Message string     `json:"message"`
	BlockID *uuid.UUID `json:"block_id,omitempty"` // manual blocks
	EndsOn  *string    `json:"ends_on,omitempty"`
}

// AccountStanding is what circulation knows about a patron that decides
// automatic blocks.
type AccountStanding struct {
	Balance        int64 // owed, minor units (negative: in credit)
	Currency       string
	Loans          int // open loans
	Overdue        int // active loans past due
	Lost           int // loans marked lost and not yet resolved
	ClaimsReturned int
	Holds          int // open holds
}

// Standing is implemented by circulation.
type Standing interface {
	Standing(ctx context.Context, patronID uuid.UUID) (AccountStanding, error)
}

// Merger moves everything circulation holds for one patron to another;
// implemented by circulation.
type Merger interface {
	MovePatron(ctx context.Context, from, to uuid.UUID) error
}

// Service is the patrons module.
type Service struct {
	tenants  *tenants.Service
	pool     *tenants.Pool
	standing Standing
	merger   Merger
	notifier Notifier
	now      func() time.Time
}

// NewService builds the patrons service.
func NewService(t *tenants.Service) *Service {
	return &Service{tenants: t, pool: t.Pool(), now: time.Now}
}

// SetCirculation connects the circulation views patrons need.
func (s *Service) SetCirculation(st Standing, m Merger) *Service {
	s.standing, s.merger = st, m
	return s
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) *Service {
	s.now = now
	return s
}

// Get loads a patron by id.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (*Patron, error) {
	p, err := tenants.Find[Patron](ctx, "no patron with this id", "id = ?", id)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, errs.E(errs.NotFound, "patron_not_found", "no patron with this id")
		}
		return nil, err
	}
	return p.fill(), nil
}

// Lock loads a patron by id and locks the row until the transaction ends:
// circulation serialises each patron's limit checks on this lock. It is a
// NO KEY UPDATE lock, so other transactions can still insert rows that
// reference the patron (a fine posted by a checkin elsewhere) without
// waiting for it.
func (s *Service) Lock(ctx context.Context, id uuid.UUID) (*Patron, error) {
	return s.lockWhere(ctx, "id = ?", id)
}

// LockByCard is Lock by card number.
func (s *Service) LockByCard(ctx context.Context, card string) (*Patron, error) {
	return s.lockWhere(ctx, "card_number = ?", card)
}

func (s *Service) lockWhere(ctx context.Context, where string, arg any) (*Patron, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var p Patron
	r := db.Raw("SELECT * FROM patrons WHERE "+where+" FOR NO KEY UPDATE", arg).Scan(&p)
	if r.Error != nil {
		return nil, fmt.Errorf("lock patron: %w", r.Error)
	}
	if r.RowsAffected == 0 {
		return nil, errs.E(errs.NotFound, "patron_not_found", "no patron with this card number or id")
	}
	return p.fill(), nil
}

// DeskPatron is a patron locked for a desk operation, with what decides
// their blocks except their standing: the category's thresholds and the
// manual blocks in force on day.
type DeskPatron struct {
	*Patron
	Category *Category // nil when the category no longer exists
	manual   []ManualBlock
	day      string
}

// Blocks evaluates the patron's blocks with their standing.
func (d *DeskPatron) Blocks(st AccountStanding) []Block {
	return blocksOf(d.Patron, d.Category, d.manual, st, d.day)
}

// LockForDesk locks the patron with this card (or id, when card is empty)
// like Lock, and reads the category and the manual blocks in force on day
// (YYYY-MM-DD, the desk's local date) in the same statement.
func (s *Service) LockForDesk(ctx context.Context, card string, id *uuid.UUID, day string) (*DeskPatron, error) {
	l := s.DeskLock(card, id, day)
	if err := tenants.Pipeline(ctx, l.Step()); err != nil {
		return nil, fmt.Errorf("lock patron: %w", err)
	}
	return l.Patron()
}

// DeskLockStep is LockForDesk as a step of a tenants.Pipeline: Step goes
// into the pipeline, Patron reads the result after it ran.
type DeskLockStep struct {
	row struct {
		Patron         `gorm:"embedded"`
		CatCode        *string
		CatName        string
		CatMaxLoans    *int
		CatMaxHolds    *int
		CatFineThresh  *int64
		CatMaxOverdue  *int
		CatMaxLost     *int
		Manual         []byte
		CatMinAge      *int
		CatMaxAge      *int
		CatEnrolMonths *int
	}
	n    int64
	day  string
	step tenants.Step
}

// DeskLock prepares LockForDesk for a pipeline.
func (s *Service) DeskLock(card string, id *uuid.UUID, day string) *DeskLockStep {
	l := &DeskLockStep{day: day}
	where, arg := "p.card_number = $1", any(card)
	if card == "" && id != nil {
		where, arg = "p.id = $1", *id
	}
	l.step = tenants.Step{SQL: `SELECT p.*, c.code AS cat_code, c.name AS cat_name, c.max_loans AS cat_max_loans, c.max_holds AS cat_max_holds,
  c.fine_threshold AS cat_fine_thresh, c.max_overdue AS cat_max_overdue, c.max_lost AS cat_max_lost,
  c.min_age AS cat_min_age, c.max_age AS cat_max_age, c.enrolment_months AS cat_enrol_months,
  (SELECT json_agg(b ORDER BY b.created_at) FROM patron_blocks b WHERE b.patron_id = p.id AND b.lifted_at IS NULL
     AND (b.ends_on IS NULL OR b.ends_on >= CAST($2 AS date))) AS manual
FROM patrons p LEFT JOIN patron_categories c ON c.code = p.category
WHERE ` + where + ` FOR NO KEY UPDATE OF p`, Args: []any{arg, day}, Dest: &l.row, Rows: &l.n}
	return l
}

// Step is the statement.
func (l *DeskLockStep) Step() tenants.Step { return l.step }

// Patron is the locked patron with their category and manual blocks, or a
// NotFound error.
func (l *DeskLockStep) Patron() (*DeskPatron, error) {
	if l.n == 0 {
		return nil, errs.E(errs.NotFound, "patron_not_found", "no patron with this card number or id")
	}
	row := &l.row
	d := &DeskPatron{Patron: row.Patron.fill(), day: l.day}
	if row.CatCode != nil {
		d.Category = &Category{Code: *row.CatCode, Name: row.CatName, MaxLoans: row.CatMaxLoans, MaxHolds: row.CatMaxHolds,
			FineThreshold: row.CatFineThresh, MaxOverdue: row.CatMaxOverdue, MaxLost: row.CatMaxLost,
			MinAge: row.CatMinAge, MaxAge: row.CatMaxAge, EnrolmentMonths: row.CatEnrolMonths}
	}
	if len(row.Manual) > 0 {
		if err := json.Unmarshal(row.Manual, &d.manual); err != nil {
			return nil, fmt.Errorf("decode blocks: %w", err)
		}
	}
	return d, nil
}

// GetCategory loads a category by code.
func (s *Service) GetCategory(ctx context.Context, code string) (*Category, error) {
	return tenants.Find[Category](ctx, "no patron category with this code", "code = ?", code)
}

// Blocks evaluates every reason p may not borrow at now: manual blocks in
// force, an expired or not yet active card, and the category's thresholds
// against st. An empty list means the patron may borrow.
func (s *Service) Blocks(ctx context.Context, p *Patron, cat *Category, st AccountStanding, now time.Time, loc *time.Location) ([]Block, error) {
	blocks, _, err := s.evaluate(ctx, p, cat, st, now, loc)
	return blocks, err
}

// evaluate loads the manual blocks in force (and the category, when cat is
// nil) and applies blocksOf.
func (s *Service) evaluate(ctx context.Context, p *Patron, cat *Category, st AccountStanding, now time.Time, loc *time.Location) ([]Block, *Category, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, nil, err
	}
	today := now.In(loc).Format(time.DateOnly)
	var row struct {
		Category `gorm:"embedded"`
		Manual   []byte
	}
	code := p.Category
	if cat != nil {
		code = "" // known: the join finds nothing and only the blocks are read
	}
	err = db.Raw(`SELECT c.*, (SELECT json_agg(b ORDER BY b.created_at) FROM patron_blocks b
  WHERE b.patron_id = @p AND b.lifted_at IS NULL AND (b.ends_on IS NULL OR b.ends_on >= CAST(@today AS date))) AS manual
FROM (SELECT 1) one LEFT JOIN patron_categories c ON c.code = @code`,
		map[string]any{"p": p.ID, "today": today, "code": code}).Scan(&row).Error
	if err != nil {
		return nil, nil, fmt.Errorf("load blocks: %w", err)
	}
	if cat == nil && row.Code != "" {
		cat = &row.Category
	}
	var manual []ManualBlock
	if len(row.Manual) > 0 {
		if err := json.Unmarshal(row.Manual, &manual); err != nil {
			return nil, nil, fmt.Errorf("decode blocks: %w", err)
		}
	}
	return blocksOf(p, cat, manual, st, today), cat, nil
}

// blocksOf is the rule book of blocks, on loaded facts.
func blocksOf(p *Patron, cat *Category, manual []ManualBlock, st AccountStanding, today string) []Block {
	var blocks []Block
	switch p.Status {
	case StatusPending:
		blocks = append(blocks, Block{Code: "pending", Message: "the registration has not been approved yet"})
	case StatusInactive:
		blocks = append(blocks, Block{Code: "inactive", Message: "the account is inactive"})
	case StatusMerged:
		blocks = append(blocks, Block{Code: "merged", Message: "this record was merged into another patron record; use that one"})
	}
	if p.ExpiresOn < today {
		blocks = append(blocks, Block{Code: "expired", Message: "the library card expired on " + p.ExpiresOn})
	}
	for _, m := range manual {
		b := Block{Code: "manual", Message: m.Reason, BlockID: &m.ID}
		if m.EndsOn != nil {
			d := dateOnly(*m.EndsOn)
			b.EndsOn = &d
			b.Message += " (until " + d + ")"
		}
		blocks = append(blocks, b)
	}
	if cat != nil {
		if cat.FineThreshold != nil && st.Balance > 0 && st.Balance >= *cat.FineThreshold {
			blocks = append(blocks, Block{Code: "fines", Message: fmt.Sprintf(
				"owes %s, at or over the limit of %s", FormatMoney(st.Balance, st.Currency), FormatMoney(*cat.FineThreshold, st.Currency))})
		}
		if cat.MaxOverdue != nil && st.Overdue >= *cat.MaxOverdue && st.Overdue > 0 {
			blocks = append(blocks, Block{Code: "overdue", Message: fmt.Sprintf(
				"has %d overdue items; the limit is %d", st.Overdue, *cat.MaxOverdue)})
		}
		if cat.MaxLost != nil && st.Lost >= *cat.MaxLost && st.Lost > 0 {
			blocks = append(blocks, Block{Code: "lost", Message: fmt.Sprintf(
				"has %d lost items; the limit is %d", st.Lost, *cat.MaxLost)})
		}
	}
	return blocks
}

// FormatMoney renders minor units for people: "12.50 USD". Currencies
// without minor units are rare in libraries' fines; two decimals is right
// for all the common ones.
func FormatMoney(amount int64, currency string) string {
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, amount/100, amount%100, currency)
}
