// Package acquisitions is how a library spends its budget: vendors, fiscal
// years, funds with an append-only ledger, purchase orders and their lines,
// receiving copies into the catalogue, invoices and payments, fiscal-year
// rollover, claims for late lines and purchase suggestions.
//
// Money is integer minor units with a currency; percentages are basis
// points (hundredths of a percent); exchange rates are millionths. Fund
// balances are never stored: they are sums over fund_transactions.
package acquisitions

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/tenants"
)

// Service is the acquisitions module.
type Service struct {
	tenants *tenants.Service
	catalog *catalog.Service
	notices *notices.Service
	now     func() time.Time
}

// SetNotices connects the outbox that claims go through.
func (s *Service) SetNotices(n *notices.Service) *Service {
	s.notices = n
	return s
}

// NewService builds the acquisitions service on the catalogue it orders for.
func NewService(t *tenants.Service, c *catalog.Service) *Service {
	return &Service{tenants: t, catalog: c, now: time.Now}
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) *Service {
	s.now = now
	return s
}

// Money is an amount in minor units with its ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

var currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)

func checkMoney(field string, m *Money, allowNegative bool) error {
	if m == nil {
		return errs.Field(field, "required", field+` is required: {"amount": minor units, "currency": "USD"}`)
	}
	if !currencyRe.MatchString(m.Currency) {
		return errs.Field(field, "invalid_currency", field+".currency must be an ISO 4217 code such as USD")
	}
	if m.Amount < 0 && !allowNegative {
		return errs.Field(field, "invalid_amount", field+".amount must not be negative")
	}
	return nil
}

// Percent is a percentage with up to two decimals, kept as basis points
// (33.33 % = 3333) so that no float ever touches money. JSON: a number.
type Percent int64

// UnmarshalJSON reads 50, 33.33 or "33.33".
func (p *Percent) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := parseBP(s)
	if err != nil {
		return errs.E(errs.BadRequest, "invalid_percent", fmt.Sprintf("%q is not a percentage with at most two decimals", s))
	}
	*p = Percent(v)
	return nil
}

// MarshalJSON writes the percentage as a number (3333 -> 33.33).
func (p Percent) MarshalJSON() ([]byte, error) {
	return []byte(p.String()), nil
}

func (p Percent) String() string {
	v := int64(p)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	if v%100 == 0 {
		return fmt.Sprintf("%s%d", sign, v/100)
	}
	return strings.TrimRight(fmt.Sprintf("%s%d.%02d", sign, v/100, v%100), "0")
}

// parseBP parses a decimal with at most two fraction digits into hundredths.
func parseBP(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || strings.ContainsAny(whole+frac, "eE+-") {
		return 0, fmt.Errorf("bad percentage %q", s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || n > 1e9 {
		return 0, fmt.Errorf("bad percentage %q", s)
	}
	if neg {
		n = -n
	}
	return n, nil
}

// Rate is an exchange rate kept in millionths (1.234567 = 1234567): fund
// currency units per unit of the line's currency. JSON: a number or string.
type Rate int64

// UnmarshalJSON reads 1.1 or "1.1" (up to six decimals).
func (r *Rate) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	whole, frac, _ := strings.Cut(s, ".")
	bad := errs.E(errs.BadRequest, "invalid_exchange_rate", fmt.Sprintf("%q is not a positive exchange rate with at most six decimals", s))
	if whole == "" || len(frac) > 6 || strings.ContainsAny(whole+frac, "eE+-") {
		return bad
	}
	for len(frac) < 6 {
		frac += "0"
	}
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	// At most 1,000,000 fund units per unit: converted amounts then stay
	// far inside int64.
	if err != nil || n <= 0 || n > 1_000_000*1_000_000 {
		return bad
	}
	*r = Rate(n)
	return nil
}

// MarshalJSON writes the rate as a decimal number.
func (r Rate) MarshalJSON() ([]byte, error) {
	s := fmt.Sprintf("%d.%06d", int64(r)/1e6, int64(r)%1e6)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return []byte(s), nil
}

// convert turns an amount of the line's currency into the fund's with rate
// (millionths), rounding half away from zero.
func convert(amount int64, rate *int64) int64 {
	if rate == nil {
		return amount
	}
	return mulDivRound(amount, *rate, 1_000_000)
}

// mulDivRound is a*b/c rounded half away from zero; the product is
// computed in 128 bits, so amounts up to maxAmount never overflow.
func mulDivRound(a, b, c int64) int64 {
	neg := (a < 0) != (b < 0)
	if a < 0 {
		a = -a
	}
	if b < 0 {
		b = -b
	}
	hi, lo := mul64(uint64(a), uint64(b))
	q, r := div128(hi, lo, uint64(c))
	if 2*r >= uint64(c) {
		q++
	}
	if neg {
		return -int64(q)
	}
	return int64(q)
}

// split divides total into parts proportional to weights that sum exactly
// to total: each part is floored, and the units left over go one by one to
// the parts with the largest remainders (ties to the earlier part). This is
// the rule for fund distributions and for prorating invoice adjustments.
func split(total int64, weights []int64) []int64 {
	parts := make([]int64, len(weights))
	var sum int64
	for _, w := range weights {
		sum += w
	}
	if sum == 0 || len(weights) == 0 {
		if len(parts) > 0 {
			parts[0] = total
		}
		return parts
	}
	neg := total < 0
	if neg {
		total = -total
	}
	rems := make([]int64, len(weights))
	var given int64
	for i, w := range weights {
		hi, lo := mul64(uint64(total), uint64(w))
		q, r := div128(hi, lo, uint64(sum))
		parts[i], rems[i] = int64(q), int64(r)
		given += parts[i]
	}
	for left := total - given; left > 0; left-- {
		best := -1
		for i := range rems {
			if rems[i] >= 0 && (best < 0 || rems[i] > rems[best]) {
				best = i
			}
		}
		parts[best]++
		rems[best] = -1 // each part gets at most one extra unit
	}
	if neg {
		for i := range parts {
			parts[i] = -parts[i]
		}
	}
	return parts
}

// principal returns the caller, for created_by columns (nil for API keys).
func actor(ctx context.Context) *uuid.UUID {
	if p := tenants.PrincipalFrom(ctx); p != nil && p.UserID != uuid.Nil {
		id := p.UserID
		return &id
	}
	return nil
}

// canAt reports whether the caller holds acquisitions.write at branch (or
// above it). Nil branch: anywhere in the library (any grant of the
// permission).
func (s *Service) canAt(ctx context.Context, branch *uuid.UUID) (bool, string, error) {
	p := tenants.PrincipalFrom(ctx)
	if p == nil {
		return false, "", nil
	}
	if branch == nil {
		return p.Has(tenants.PermAcquisitionsWrite), "this library", nil
	}
	b, err := s.tenants.GetBranch(ctx, *branch)
	if err != nil {
		return false, "", err
	}
	return p.CanAt(tenants.PermAcquisitionsWrite, b.Path), b.Name, nil
}

func dateOnly(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

func checkDate(field, s string) error {
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return errs.Field(field, "invalid_date", field+" must be a date YYYY-MM-DD")
	}
	return nil
}
