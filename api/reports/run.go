package reports

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// statementTimeout bounds one report query: a report never holds a
// connection for minutes (the aggregates make the big ones fast).
const statementTimeout = "60s"

// prepared is a report checked and built, ready to run.
type prepared struct {
	report *Report
	params *Params
	q      *query
}

// Prepare looks the report up, checks its parameters in the library's time
// zone and builds its query; it needs the tenant transaction.
func (s *Service) prepare(ctx context.Context, name string, raw map[string]string) (*prepared, error) {
	r, ok := Lookup(name)
	if !ok {
		return nil, errs.E(errs.NotFound, "report_not_found", fmt.Sprintf("there is no report %q; GET /api/v1/reports lists them", name))
	}
	p, err := s.parseParams(ctx, r, raw, s.now())
	if err != nil {
		return nil, err
	}
	q, err := r.build(p)
	if err != nil {
		return nil, err
	}
	return &prepared{report: r, params: p, q: q}, nil
}

// Run answers a report as the contract's JSON object.
func (s *Service) Run(ctx context.Context, name string, raw map[string]string) (*Result, error) {
	pr, err := s.prepare(ctx, name, raw)
	if err != nil {
		return nil, err
	}
	return s.collect(ctx, pr)
}

func (s *Service) collect(ctx context.Context, pr *prepared) (*Result, error) {
	res := &Result{Report: pr.report.Name, Params: pr.params.echo(pr.report), Columns: pr.q.cols, Rows: [][]any{},
		Totals: map[string]int64{}, GeneratedAt: s.now().UTC().Truncate(time.Second)}
	for _, c := range pr.q.cols {
		if c.sum {
			res.Totals[c.Name] = 0
		}
	}
	err := s.each(ctx, pr.q, func(row []any) error {
		for i, c := range pr.q.cols {
			if v, ok := row[i].(int64); ok && c.sum {
				res.Totals[c.Name] += v
			}
		}
		res.Rows = append(res.Rows, row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// each runs q in the tenant transaction of ctx and calls fn with each row
// as it is scanned (strings, int64, float64 or nil), so a caller that
// writes rows out holds one row at a time.
func (s *Service) each(ctx context.Context, q *query, fn func(row []any) error) error {
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	return eachIn(db, q, fn)
}

func eachIn(db *gorm.DB, q *query, fn func(row []any) error) error {
	// Report statements depend on their values (date ranges, subtrees):
	// plan them for the values, not generically as the desk's lookups are.
	// No JIT: every report is index-driven and answers in milliseconds to
	// a few hundred, while compiling a plan the planner prices high (a
	// function scan, a year of loans) costs 250-900 ms on its own. More
	// work_mem than the desk's: a year by hour sorts 80k aggregate rows,
	// which spilled to disk with the default 4 MB.
	if err := db.Exec(`SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true),
  set_config('work_mem', '64MB', true), set_config('statement_timeout', ?, true)`,
		statementTimeout).Error; err != nil {
		return fmt.Errorf("report settings: %w", err)
	}
	var vars []any
	if len(q.args) > 0 {
		vars = append(vars, q.args)
	}
	rows, err := db.Raw(q.sql, vars...).Rows()
	if err != nil {
		return fmt.Errorf("report query: %w", err)
	}
	defer rows.Close()
	dest := make([]any, len(q.cols))
	for i, c := range q.cols {
		switch c.Type {
		case TypeInteger, TypeMoney:
			dest[i] = new(sql.NullInt64)
		case TypeNumber:
			dest[i] = new(sql.NullFloat64)
		default:
			dest[i] = new(sql.NullString)
		}
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("report row: %w", err)
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			switch v := d.(type) {
			case *sql.NullInt64:
				if v.Valid {
					row[i] = v.Int64
				}
			case *sql.NullFloat64:
				if v.Valid {
					row[i] = v.Float64
				}
			case *sql.NullString:
				if v.Valid {
					row[i] = v.String
				}
			}
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("report rows: %w", err)
	}
	return nil
}

// csvCell is a value as a CSV field: empty for null.
func csvCell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// writeCSV writes the header and each row as it is scanned (encoding/csv
// quoting), with a UTF-8 byte order mark first when bom is set (Excel
// reads the file as UTF-8 then).
func writeCSV(w io.Writer, cols []Column, bom bool, rows func(fn func([]any) error) error) error {
	if bom {
		if _, err := io.WriteString(w, "\ufeff"); err != nil {
			return err
		}
	}
	cw := csv.NewWriter(w)
	rec := make([]string, len(cols))
	for i, c := range cols {
		rec[i] = c.Name
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	err := rows(func(row []any) error {
		for i, v := range row {
			rec[i] = csvCell(v)
		}
		return cw.Write(rec)
	})
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}

// StreamCSV writes a prepared report as CSV in a transaction of its own
// (the request's has committed by the time a streamed body is written).
func (s *Service) streamCSV(ctx context.Context, tenantID uuid.UUID, pr *prepared, bom bool, w *bufio.Writer) error {
	return s.pool.Tx(ctx, tenantID, func(ctx context.Context, tx *gorm.DB) error {
		return writeCSV(w, pr.q.cols, bom, func(fn func([]any) error) error { return eachIn(tx, pr.q, fn) })
	})
}
