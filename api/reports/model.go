// Package reports is the built-in reports: named, parameterised queries
// with documented columns, run in the tenant transaction and answered as
// JSON, CSV (streamed) or an SVG chart; and scheduled reports that the
// workers build at each library's local hour and keep as stored runs.
//
// Circulation counts come from the aggregates circ_daily, circ_hourly and
// circ_titles_monthly, rolled up once a day by the workers, plus the
// events since the rollup read live (migrations/0018_circ_rollup.sql), so
// a year of activity is a few thousand aggregate rows instead of millions
// of loans, and the desk pays nothing for reports.
package reports

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/tenants"
)

// Column types in a report's columns list.
const (
	TypeString  = "string"
	TypeID      = "id"
	TypeDate    = "date"    // YYYY-MM-DD, the library's local date
	TypeInteger = "integer" // counts
	TypeNumber  = "number"  // ratios, averages
	TypeMoney   = "money"   // integer minor units of the row's currency column
)

// Column is one column of a report.
type Column struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	// sum: the column is added up into the result's totals.
	sum bool
}

// Result is the JSON answer of a report (the contract's shape).
type Result struct {
	Report      string           `json:"report"`
	Params      map[string]any   `json:"params"`
	Columns     []Column         `json:"columns"`
	Rows        [][]any          `json:"rows"`
	Totals      map[string]int64 `json:"totals"`
	GeneratedAt time.Time        `json:"generated_at"`
}

// Service runs reports and keeps report schedules.
type Service struct {
	pool    *tenants.Pool
	log     *slog.Logger
	now     func() time.Time
	enqueue Enqueuer
	notices *notices.Service
	secret  []byte
	baseURL string
	// attachBytes: mailed files up to this size are attached (default
	// DefaultAttachBytes), larger ones linked.
	attachBytes int
}

// Enqueuer queues a report run on the workers (workers.Client implements
// it); nil runs "run now" requests inline.
type Enqueuer interface {
	EnqueueReportRun(ctx context.Context, tenantID, runID uuid.UUID) error
}

// NewService builds the reports service on the tenant pool.
func NewService(pool *tenants.Pool, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{pool: pool, log: log, now: time.Now}
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) *Service {
	s.now = now
	return s
}
