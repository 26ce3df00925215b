// Package exports streams a library's own data out as CSV: patrons and
// loans (the catalogue leaves as MARC through catalog's export). Together
// they are what a library takes with it when it leaves, and what billing
// points a canceled library to before its data is deleted.
package exports

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/tenants"
)

// table is one CSV export: a keyset query over the id (first column, not
// written) with ? for the last id and the batch size.
type table struct {
	name   string
	header []string
	query  string
}

var tables = map[string]table{
	"patrons": {name: "patrons",
		header: []string{"card_number", "first_name", "last_name", "email", "phone", "address", "home_branch", "category",
			"birth_date", "expires_on", "status", "notes", "notice_channel", "history_privacy", "created_at"},
		query: `SELECT p.id, p.card_number, p.first_name, p.last_name, p.email, p.phone, p.address::text, b.code, p.category,
  p.birth_date::text, p.expires_on::text, p.status, p.notes, p.notice_channel, p.history_privacy, p.created_at
FROM patrons p JOIN branches b ON b.id = p.home_branch_id WHERE p.id > ? ORDER BY p.id LIMIT ?`},
	"loans": {name: "loans",
		header: []string{"loan_id", "patron_card", "item_barcode", "title", "branch", "item_type", "patron_category", "status",
			"checked_out_at", "due_at", "renewals_used", "returned_at", "lost_at"},
		query: `SELECT l.id, l.id::text, COALESCE(p.card_number, ''), i.barcode, bb.title, b.code, l.item_type, l.patron_category, l.status,
  l.checked_out_at, l.due_at, l.renewals_used, l.returned_at, l.lost_at
FROM loans l JOIN items i ON i.id = l.item_id JOIN bibs bb ON bb.id = l.bib_id JOIN branches b ON b.id = l.branch_id
LEFT JOIN patrons p ON p.id = l.patron_id WHERE l.id > ? ORDER BY l.id LIMIT ?`},
}

const batch = 2000

// Service streams exports.
type Service struct {
	pool *tenants.Pool
	log  *slog.Logger
}

// NewService builds the exports service.
func NewService(pool *tenants.Pool, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{pool: pool, log: log}
}

// Routes are the CSV exports. Patron data needs reports.patron_data.
func (s *Service) Routes() []httpx.Route {
	perm := string(tenants.PermPatronData)
	return []httpx.Route{
		{Method: "GET", Path: "/api/v1/exports/patrons.csv", Perm: perm, Summary: "Export every patron as CSV (streamed)", Handler: s.handler("patrons")},
		{Method: "GET", Path: "/api/v1/exports/loans.csv", Perm: perm, Summary: "Export every loan as CSV (streamed)", Handler: s.handler("loans")},
	}
}

func (s *Service) handler(name string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		tenant, err := tenants.CurrentTenant(c.UserContext())
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
		log := s.log
		// Streamed after the request's transaction ends, in batches of
		// their own transactions, so a big library never holds one open.
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
			if err := s.Write(context.Background(), tenant, name, w); err != nil {
				log.Error("export failed mid-stream", "tenant_id", tenant, "export", name, "error", err)
			}
		})
		return nil
	}
}

// Write streams one export as CSV to w.
func (s *Service) Write(ctx context.Context, tenant uuid.UUID, name string, w io.Writer) error {
	t, ok := tables[name]
	if !ok {
		return fmt.Errorf("no export %q", name)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(t.header); err != nil {
		return err
	}
	after := uuid.Nil
	for {
		n := 0
		err := s.pool.Tx(ctx, tenant, func(ctx context.Context, tx *gorm.DB) error {
			rows, err := tx.Raw(t.query, after, batch).Rows()
			if err != nil {
				return err
			}
			defer rows.Close()
			vals := make([]sql.NullString, len(t.header)+1)
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rec := make([]string, len(t.header))
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					return err
				}
				after = uuid.MustParse(vals[0].String)
				for i := range rec {
					rec[i] = cell(vals[i+1].String)
				}
				if err := cw.Write(rec); err != nil {
					return err
				}
				n++
			}
			return rows.Err()
		})
		if err != nil {
			return fmt.Errorf("export %s: %w", name, err)
		}
		cw.Flush()
		if err := cw.Error(); err != nil || n < batch {
			return err
		}
	}
}

// cell writes timestamps as RFC 3339 in UTC, to the second
// (database/sql hands them over as RFC 3339 with nanoseconds).
func cell(s string) string {
	if len(s) < 20 || s[10] != 'T' {
		return s
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC().Format(time.RFC3339)
	}
	return s
}
