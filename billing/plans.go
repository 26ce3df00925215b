// Package billing sells Stacks to libraries: plans from a versioned file,
// Stripe Checkout and the Customer Portal, webhooks that keep each
// library's subscription in step with Stripe, and the entitlements the API
// enforces (read-only when unpaid, plan limits at creation).
package billing

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

//go:embed plans.json
var defaultPlans []byte

// Limits are what a plan allows; 0 means no limit.
type Limits struct {
	Branches       int `json:"branches"`
	Staff          int `json:"staff"`
	Bibs           int `json:"bibs"`
	Patrons        int `json:"patrons"`
	APICallsPerDay int `json:"api_calls_per_day"`
}

// Of returns the limit for a resource name (tenants.Resource*).
func (l Limits) Of(resource string) int {
	switch resource {
	case "branches":
		return l.Branches
	case "staff":
		return l.Staff
	case "bibs":
		return l.Bibs
	case "patrons":
		return l.Patrons
	}
	return 0
}

// Tier is one band of a volume-priced plan; UpTo 0 is "and above".
type Tier struct {
	UpTo       int   `json:"up_to"`
	UnitAmount int64 `json:"unit_amount"`
}

// Price is one way to pay for a plan. Stripe's price (found by LookupKey)
// is what is charged; the amounts here are what /billing/plans shows.
type Price struct {
	Interval   string `json:"interval"` // month | year
	LookupKey  string `json:"lookup_key"`
	Currency   string `json:"currency"`
	UnitAmount int64  `json:"unit_amount,omitempty"` // minor units per branch
	Tiers      []Tier `json:"tiers,omitempty"`
}

// Plan is one plan of the file.
type Plan struct {
	Code        string  `json:"code"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	TrialDays   int     `json:"trial_days,omitempty"`
	Per         string  `json:"per,omitempty"` // what the quantity counts: branch
	Limits      Limits  `json:"limits"`
	Prices      []Price `json:"prices"`
}

// Plans is the plans file: versioned, so a change is a reviewed commit or
// an operator's file (BILLING_PLANS_FILE), never a code constant.
type Plans struct {
	Version string `json:"version"`
	Plans   []Plan `json:"plans"`
}

// TrialPlan is the plan every library starts on.
const TrialPlan = "trial"

// LoadPlans reads the plans file at path, or the built-in one when path is
// empty, and checks it.
func LoadPlans(path string) (*Plans, error) {
	b := defaultPlans
	if path != "" {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("plans file: %w", err)
		}
	}
	var p Plans
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("plans file %s: %w", path, err)
	}
	return &p, p.validate()
}

func (p *Plans) validate() error {
	if p.Version == "" {
		return fmt.Errorf("plans file: no version")
	}
	if p.Plan(TrialPlan) == nil {
		return fmt.Errorf("plans file: no %q plan", TrialPlan)
	}
	keys := map[string]bool{}
	for i, pl := range p.Plans {
		if pl.Code == "" || slices.IndexFunc(p.Plans[:i], func(o Plan) bool { return o.Code == pl.Code }) >= 0 {
			return fmt.Errorf("plans file: plan %d has an empty or repeated code %q", i, pl.Code)
		}
		for _, pr := range pl.Prices {
			if pr.Interval != "month" && pr.Interval != "year" {
				return fmt.Errorf("plans file: plan %s: interval %q is not month or year", pl.Code, pr.Interval)
			}
			if pr.LookupKey == "" || keys[pr.LookupKey] {
				return fmt.Errorf("plans file: plan %s: empty or repeated lookup_key %q", pl.Code, pr.LookupKey)
			}
			keys[pr.LookupKey] = true
		}
	}
	return nil
}

// APICallsPerDay is the plan's daily API-key request allowance (0: none).
func (p *Plans) APICallsPerDay(code string) int {
	if pl := p.Plan(code); pl != nil {
		return pl.Limits.APICallsPerDay
	}
	return p.Plan(TrialPlan).Limits.APICallsPerDay
}

// Plan returns the plan with code, or nil.
func (p *Plans) Plan(code string) *Plan {
	for i := range p.Plans {
		if p.Plans[i].Code == code {
			return &p.Plans[i]
		}
	}
	return nil
}

// Price returns the plan's price for interval, or nil.
func (pl *Plan) Price(interval string) *Price {
	for i := range pl.Prices {
		if pl.Prices[i].Interval == interval {
			return &pl.Prices[i]
		}
	}
	return nil
}

// ByLookupKey finds the plan and interval a Stripe price stands for.
func (p *Plans) ByLookupKey(key string) (*Plan, *Price) {
	for i := range p.Plans {
		for j := range p.Plans[i].Prices {
			if p.Plans[i].Prices[j].LookupKey == key {
				return &p.Plans[i], &p.Plans[i].Prices[j]
			}
		}
	}
	return nil, nil
}
