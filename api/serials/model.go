package serials

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/serials/pattern"
)

// Subscription statuses.
const (
	SubActive   = "active"
	SubExpiring = "expiring" // the renewal date is within the library's renewal_notice_days
	SubExpired  = "expired"  // past ends_on
	SubCanceled = "canceled"
)

// Issue statuses.
const (
	IssueExpected     = "expected"
	IssueReceived     = "received"
	IssueLate         = "late"
	IssueClaimed      = "claimed"
	IssueMissing      = "missing"
	IssueDamaged      = "damaged"
	IssueNotPublished = "not_published"
)

// IssueStatuses lists every issue status.
var IssueStatuses = []string{IssueExpected, IssueReceived, IssueLate, IssueClaimed, IssueMissing, IssueDamaged, IssueNotPublished}

// Issue kinds: predicted issues are regular; the others are added by hand.
var IssueKinds = []string{"regular", "supplement", "special", "unexpected"}

// Money is an amount in minor units with its ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Subscription is one subscription to a serial title.
type Subscription struct {
	TenantID         uuid.UUID       `json:"-" gorm:"primaryKey"`
	ID               uuid.UUID       `json:"id" gorm:"primaryKey"`
	BibID            uuid.UUID       `json:"bib_id"`
	VendorID         *uuid.UUID      `json:"vendor_id"`
	FundID           *uuid.UUID      `json:"fund_id"`
	POLineID         *uuid.UUID      `json:"po_line_id" gorm:"column:po_line_id"`
	BranchID         uuid.UUID       `json:"branch_id"`
	Location         string          `json:"location"`
	Copies           int             `json:"copies"`
	StartsOn         string          `json:"starts_on" gorm:"type:date"`
	EndsOn           string          `json:"ends_on" gorm:"type:date"`
	RenewalOn        *string         `json:"renewal_on" gorm:"type:date"`
	Status           string          `json:"status"`
	Pattern          PatternJSON     `json:"pattern" gorm:"type:jsonb"`
	PatternSource    string          `json:"pattern_id"`
	FirstExpectedOn  string          `json:"-" gorm:"type:date"`
	FirstEnumeration Ints            `json:"-" gorm:"type:integer[]"`
	FirstIssue       FirstIssueInput `json:"first_issue" gorm:"-"`
	PredictedUntil   *string         `json:"predicted_until" gorm:"type:date"`
	GraceDays        int             `json:"grace_days"`
	RoutingListID    *uuid.UUID      `json:"routing_list_id"`
	CreateItems      bool            `json:"create_items"`
	ItemType         string          `json:"item_type"`
	AnnualCostAmount *int64          `json:"-" gorm:"column:annual_cost"`
	Currency         *string         `json:"-"`
	AnnualCost       *Money          `json:"annual_cost" gorm:"-"`
	AccountNumber    string          `json:"account_number"`
	Notes            string          `json:"notes"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
	// Filled by Get.
	Title    string `json:"title,omitempty" gorm:"->;-:migration"`
	Holdings string `json:"holdings,omitempty" gorm:"-"`
}

// TableName is the subscriptions table.
func (Subscription) TableName() string { return "subscriptions" }

// fill trims dates read from Postgres and builds the derived fields.
func (s *Subscription) fill() *Subscription {
	s.StartsOn, s.EndsOn, s.FirstExpectedOn = dateOnly(s.StartsOn), dateOnly(s.EndsOn), dateOnly(s.FirstExpectedOn)
	if s.RenewalOn != nil {
		d := dateOnly(*s.RenewalOn)
		s.RenewalOn = &d
	}
	if s.PredictedUntil != nil {
		d := dateOnly(*s.PredictedUntil)
		s.PredictedUntil = &d
	}
	if s.AnnualCostAmount != nil && s.Currency != nil {
		s.AnnualCost = &Money{Amount: *s.AnnualCostAmount, Currency: *s.Currency}
	}
	s.FirstIssue = FirstIssueInput{ExpectedOn: s.FirstExpectedOn, Enumeration: []int(s.FirstEnumeration)}
	if s.FirstIssue.Enumeration == nil {
		s.FirstIssue.Enumeration = []int{}
	}
	return s
}

// first is the subscription's anchor for the pattern engine.
func (s *Subscription) first() pattern.First {
	d, _ := pattern.ParseDate(s.FirstExpectedOn)
	return pattern.First{ExpectedOn: d, Enumeration: []int(s.FirstEnumeration)}
}

// Issue is one issue of a subscription: predicted, or added by hand.
type Issue struct {
	TenantID       uuid.UUID       `json:"-" gorm:"primaryKey"`
	ID             uuid.UUID       `json:"id" gorm:"primaryKey"`
	SubscriptionID uuid.UUID       `json:"subscription_id"`
	Seq            *int            `json:"seq"`
	Kind           string          `json:"kind"`
	Label          string          `json:"label"`
	Enumeration    Ints            `json:"enumeration" gorm:"type:integer[]"`
	EnumerationEnd Ints            `json:"enumeration_end,omitempty" gorm:"type:integer[]"`
	Chronology     ChronJSON       `json:"chronology" gorm:"type:jsonb"`
	ChronologyEnd  *ChronJSON      `json:"chronology_end,omitempty" gorm:"type:jsonb"`
	ExpectedOn     string          `json:"expected_on" gorm:"type:date"`
	Status         string          `json:"status"`
	Claims         int             `json:"claims"`
	LastClaimedAt  *time.Time      `json:"last_claimed_at"`
	ReceivedAt     *time.Time      `json:"received_at"`
	ReceivedBy     *uuid.UUID      `json:"received_by"`
	ItemID         *uuid.UUID      `json:"item_id"`
	Note           string          `json:"note"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	Details        json.RawMessage `json:"-" gorm:"-"`
}

// TableName is the serial_issues table.
func (Issue) TableName() string { return "serial_issues" }

func (i *Issue) fill() *Issue {
	i.ExpectedOn = dateOnly(i.ExpectedOn)
	if i.Enumeration == nil {
		i.Enumeration = Ints{}
	}
	return i
}

func (i *Issue) holding() pattern.Holding {
	h := pattern.Holding{Enumeration: i.Enumeration, EnumerationEnd: i.EnumerationEnd, Chronology: pattern.Chronology(i.Chronology), Status: i.Status}
	if i.ChronologyEnd != nil {
		c := pattern.Chronology(*i.ChronologyEnd)
		h.ChronologyEnd = &c
	}
	return h
}

func dateOnly(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// Ints is a Postgres integer[].
type Ints []int

// Scan reads the array's text form "{1,2}".
func (v *Ints) Scan(src any) error {
	var s string
	switch x := src.(type) {
	case nil:
		*v = nil
		return nil
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return fmt.Errorf("serials: cannot scan %T into Ints", src)
	}
	s = strings.Trim(s, "{}")
	out := Ints{}
	if s != "" {
		for _, p := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil {
				return fmt.Errorf("serials: integer array %q: %w", s, err)
			}
			out = append(out, n)
		}
	}
	*v = out
	return nil
}

// Value writes the array's text form; nil is NULL.
func (v Ints) Value() (driver.Value, error) {
	if v == nil {
		return nil, nil
	}
	parts := make([]string, len(v))
	for i, n := range v {
		parts[i] = strconv.Itoa(n)
	}
	return "{" + strings.Join(parts, ",") + "}", nil
}

// ChronJSON is a chronology stored as jsonb.
type ChronJSON pattern.Chronology

// Scan reads jsonb.
func (c *ChronJSON) Scan(src any) error { return scanJSON(src, c) }

// Value writes jsonb.
func (c ChronJSON) Value() (driver.Value, error) { return valueJSON(c) }

// MarshalJSON keeps the pattern's JSON form.
func (c ChronJSON) MarshalJSON() ([]byte, error) { return json.Marshal(pattern.Chronology(c)) }

// PatternJSON is a pattern stored as jsonb.
type PatternJSON pattern.Pattern

// Scan reads jsonb.
func (p *PatternJSON) Scan(src any) error { return scanJSON(src, p) }

// Value writes jsonb.
func (p PatternJSON) Value() (driver.Value, error) { return valueJSON(pattern.Pattern(p)) }

// MarshalJSON keeps the pattern's JSON form.
func (p PatternJSON) MarshalJSON() ([]byte, error) { return json.Marshal(pattern.Pattern(p)) }

// UnmarshalJSON reads the pattern's JSON form.
func (p *PatternJSON) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, (*pattern.Pattern)(p)) }

func scanJSON(src, dst any) error {
	switch x := src.(type) {
	case nil:
		return nil
	case string:
		return json.Unmarshal([]byte(x), dst)
	case []byte:
		return json.Unmarshal(x, dst)
	}
	return fmt.Errorf("serials: cannot scan %T as jsonb", src)
}

func valueJSON(v any) (driver.Value, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}
