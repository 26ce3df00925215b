// Package policy is the circulation rule matrix and the library calendar:
// which rule applies to a (branch, patron category, item type), why it won,
// and the due dates and overdue fines that rule and the calendar give.
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
