package patrons

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stacks-ils/stacks/api/errs"
)

// Opt is a JSON field that can be absent (Set false), null (Set and Null:
// clear the value) or a value: PATCH bodies need all three.
type Opt[T any] struct {
	Set  bool
	Null bool
	V    T
}

// UnmarshalJSON records that the field was present.
func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// Ptr returns the value as a pointer, nil when null or absent.
func (o Opt[T]) Ptr() *T {
	if !o.Set || o.Null {
		return nil
	}
	v := o.V
	return &v
}

var (
	cardRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	categoryRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
)

// Allowed values of the enumerated patron fields.
var (
	NoticeChannels   = []string{"email", "sms", "print", "none"}
	HistoryPrivacies = []string{"keep", "keep_n_days", "never"}
	// Statuses staff may set; "merged" is set only by merging.
	SettableStatuses = []string{StatusActive, StatusPending, StatusInactive}
)

// normalizeEmail checks an email address and lower-cases it: stored
// lower-case, it is found with a plain (leakproof, indexable) equality.
func normalizeEmail(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(s)
	at := strings.LastIndexByte(s, '@')
	if err != nil || a.Address != s || at < 1 || !strings.Contains(s[at:], ".") || len(s) > 254 {
		return "", errs.Field(field, "invalid_email", fmt.Sprintf("%q is not an email address like name@example.org", s))
	}
	return strings.ToLower(s), nil
}

// parseDate checks a YYYY-MM-DD date.
func parseDate(field, s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, errs.Field(field, "invalid_date", field+" must be a date YYYY-MM-DD")
	}
	return d, nil
}

// text trims s and checks its length.
func text(field, s string, required bool, max int) (string, error) {
	s = strings.TrimSpace(s)
	if required && s == "" {
		return "", errs.Field(field, "required", field+" is required")
	}
	if utf8.RuneCountInString(s) > max {
		return "", errs.Field(field, "too_long", fmt.Sprintf("%s must be at most %d characters", field, max))
	}
	return s, nil
}

// checkPin enforces the PIN policy: 4 to 64 characters.
func checkPin(field, pin string) error {
	if n := utf8.RuneCountInString(pin); n < 4 || n > 64 {
		return errs.Field(field, "invalid_pin", "pin must be 4 to 64 characters")
	}
	return nil
}

// addMonths adds n calendar months to a date, keeping the day of the month
// or the last day of a shorter month (Jan 31 + 1 month is Feb 28/29).
func addMonths(d time.Time, n int) time.Time {
	y, m, day := d.Date()
	first := time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, d.Location())
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(day, last), 0, 0, 0, 0, d.Location())
}

// ageOn is the age in whole years on day of someone born on birth.
func ageOn(birth, day time.Time) int {
	age := day.Year() - birth.Year()
	if day.Month() < birth.Month() || (day.Month() == birth.Month() && day.Day() < birth.Day()) {
		age--
	}
	return age
}
