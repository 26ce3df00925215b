// Package policy is the circulation rule matrix and the library calendar:
// which rule applies to a (branch, patron category, item type), why it won,
// and the due dates and overdue fines that rule and the calendar give.
//
// # Which rule applies
//
// A rule has three keys, each null ("any") or set: branch_id,
// patron_category, item_type. For a transaction at branch B by a patron of
// category C borrowing an item of type T, a rule is a candidate when every
// key is null or matches:
//
//   - branch_id matches when it is on B's path (root..B): a rule set on a
//     library applies to all of its branches;
//   - patron_category matches when it equals C;
//   - item_type matches when it equals T.
//
// The candidate with the highest specificity score wins:
//
//	item_type set       4
//	patron_category set 2
//	branch_id set       1
//
// so the item type decides first, then the patron category, then the place.
// Two candidates can only tie when both name a branch and agree on the other
// keys (the unique key forbids any other tie); the one whose branch is deeper
// on B's path (closer to B) wins. Examples at branch X: "DVDs: 7 days" (4)
// beats "branch X: 14 days" (1) for a DVD; "children, DVDs: 3 days" (6)
// beats both; "branch X: 14 days" beats "library L (X's parent): 28 days"
// (both 1, X is deeper). A library keeps one rule with every key null as the
// fallback (created with the library); without one, a combination no rule
// matches cannot be checked out ("no_rule") and lint reports it.
//
// Item types: items.item_type is free text without a foreign key to
// item_types (the catalogue accepts any short code), so an item may carry a
// type the item_types table does not list. Such an item is treated as
// loanable and is matched only by rules whose item_type is null.
package policy

import (
	"time"

	"github.com/google/uuid"
)

// Money is an amount in minor units with its ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Rule is one row of the matrix. A nil key matches anything.
type Rule struct {
	TenantID            uuid.UUID  `json:"-" gorm:"primaryKey"`
	ID                  uuid.UUID  `json:"id" gorm:"primaryKey"`
	BranchID            *uuid.UUID `json:"branch_id"`
	PatronCategory      *string    `json:"patron_category"`
	ItemType            *string    `json:"item_type"`
	LoanDays            *int       `json:"loan_days"`
	LoanHours           *int       `json:"loan_hours"`
	MaxLoans            *int       `json:"max_loans"`
	Renewals            int        `json:"renewals"`
	RenewalDays         *int       `json:"renewal_days"`           // nil: the loan period again
	NoRenewalBeforeDays *int       `json:"no_renewal_before_days"` // renewals open this many days before due
	FineAmount          int64      `json:"-"`
	FineInterval        string     `json:"-"` // day | hour
	FinePerDay          *Money     `json:"fine_per_day" gorm:"-"`
	FinePerHour         *Money     `json:"fine_per_hour" gorm:"-"`
	GraceDays           int        `json:"grace_days"`
	MaxFineAmount       *int64     `json:"-" gorm:"column:max_fine"`
	MaxFine             *Money     `json:"max_fine" gorm:"-"`
	ProcessingFeeAmount int64      `json:"-" gorm:"column:processing_fee"`
	ProcessingFee       *Money     `json:"processing_fee" gorm:"-"`
	HoldsAllowed        bool       `json:"holds_allowed"`
	MaxHolds            *int       `json:"max_holds"`
	HoldShelfDays       int        `json:"hold_shelf_days"`
	AutoRenew           bool       `json:"auto_renew"`
	Notes               string     `json:"notes"`
	Currency            string     `json:"-" gorm:"->"` // the tenant's, read with the rule
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
}

// TableName maps Rule to its table.
func (Rule) TableName() string { return "circ_rules" }

// Subject is what a rule is chosen for: where the transaction happens, who
// borrows and what. BranchPath is the branch's path root..branch, so rules
// set on a library apply to its branches.
type Subject struct {
	BranchID       uuid.UUID   `json:"branch_id"`
	BranchPath     []uuid.UUID `json:"-"`
	PatronCategory string      `json:"patron_category"`
	ItemType       string      `json:"item_type"`
}

// fill renders the stored money columns as Money in the tenant's currency.
// A zero fine or processing fee renders as null (none).
func (r *Rule) fill() *Rule {
	money := func(a int64) *Money { return &Money{Amount: a, Currency: r.Currency} }
	r.FinePerDay, r.FinePerHour, r.MaxFine, r.ProcessingFee = nil, nil, nil, nil
	if r.FineAmount > 0 {
		if r.FineInterval == FineHour {
			r.FinePerHour = money(r.FineAmount)
		} else {
			r.FinePerDay = money(r.FineAmount)
		}
	}
	if r.MaxFineAmount != nil {
		r.MaxFine = money(*r.MaxFineAmount)
	}
	if r.ProcessingFeeAmount > 0 {
		r.ProcessingFee = money(r.ProcessingFeeAmount)
	}
	return r
}

// Fine intervals.
const (
	FineDay  = "day"
	FineHour = "hour"
)

// Specificity weights of the rule keys (see the package comment).
const (
	ScoreItemType       = 4
	ScorePatronCategory = 2
	ScoreBranch         = 1
)

// Score is the rule's specificity: 4 for an item type, 2 for a patron
// category, 1 for a branch, summed.
func (r *Rule) Score() int {
	s := 0
	if r.ItemType != nil {
		s += ScoreItemType
	}
	if r.PatronCategory != nil {
		s += ScorePatronCategory
	}
	if r.BranchID != nil {
		s += ScoreBranch
	}
	return s
}
