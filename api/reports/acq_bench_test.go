package reports

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

// BenchmarkAcqReports: one library with 20 branches, 200 funds, 50 vendors,
// STACKS_BENCH_ORDERS (default 20,000) orders of two lines over 2025 (half
// the lines received and paid: a ledger of about 4 entries per two lines),
// one priced copy per line and 200,000 loans of them. Loaded set-based as
// the owner; each report then runs STACKS_BENCH_SAMPLES times (default 20)
// as the API runs it, and p50/p95 are reported.
//
//	go test -run '^$' -bench BenchmarkAcqReports -benchtime=1x -timeout 30m ./api/reports/
func BenchmarkAcqReports(b *testing.B) {
	env := tenanttest.Get(b)
	orders := benchEnv("STACKS_BENCH_ORDERS", 20_000)
	samples := benchEnv("STACKS_BENCH_SAMPLES", 20)
	res := env.Signup(b, "acq-bench")
	tenant := res.Tenant.ID
	start := time.Now()
	owner, err := sql.Open("pgx", env.OwnerURL)
	if err != nil {
		b.Fatal(err)
	}
	defer owner.Close()
	ctx := context.Background()
	conn, err := owner.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{
		"SET session_replication_role = replica",
		"SELECT set_config('app.tenant_id', '" + tenant.String() + "', false)",
		`INSERT INTO branches (tenant_id, id, parent_id, kind, name, code, path)
SELECT $T, gen_random_uuid(), r.id, 'branch', 'Branch ' || g, 'B' || g, ARRAY[r.id]
FROM generate_series(1, 19) g, branches r WHERE r.tenant_id = $T AND r.parent_id IS NULL`,
		"UPDATE branches SET path = path || id WHERE tenant_id = $T AND kind = 'branch' AND cardinality(path) = 1",
		`CREATE TEMP TABLE bench_branches AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM branches WHERE tenant_id = $T AND kind = 'branch'`,
		`INSERT INTO bibs (tenant_id, id, marc, title, title_sort, authors, format, match_key, pub_year)
SELECT $T, gen_random_uuid(), '{}', 'Title ' || g, 'title ' || g, ARRAY['Author ' || (g % 5000)], 'book', 'k' || g, 2024
FROM generate_series(1, 20000) g`,
		`CREATE TEMP TABLE bench_bibs AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM bibs WHERE tenant_id = $T`,
		`INSERT INTO fiscal_years (tenant_id, id, code, starts_on, ends_on, current) VALUES ($T, gen_random_uuid(), 'FY2025', '2025-01-01', '2025-12-31', true)`,
		`INSERT INTO vendors (tenant_id, id, code, name, currency) SELECT $T, gen_random_uuid(), 'V' || g, 'Vendor ' || g, 'USD' FROM generate_series(1, 50) g`,
		`CREATE TEMP TABLE bench_vendors AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM vendors WHERE tenant_id = $T`,
		`INSERT INTO funds (tenant_id, id, fiscal_year_id, code, name, currency, branch_id)
SELECT $T, gen_random_uuid(), y.id, 'F' || g, 'Fund ' || g, 'USD', br.id
FROM generate_series(1, 200) g JOIN bench_branches br ON br.n = 1 + g % 20 CROSS JOIN fiscal_years y WHERE y.tenant_id = $T`,
		`CREATE TEMP TABLE bench_funds AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM funds WHERE tenant_id = $T`,
		`INSERT INTO fund_transactions (tenant_id, id, fund_id, kind, amount, currency, created_at)
SELECT $T, gen_random_uuid(), id, 'allocation', 10000000, 'USD', '2025-01-01T12:00:00Z' FROM bench_funds`,
		fmt.Sprintf(`INSERT INTO purchase_orders (tenant_id, id, number, vendor_id, status, ordered_at)
SELECT $T, gen_random_uuid(), 'PO' || g, v.id, 'open', TIMESTAMPTZ '2025-01-01 15:00Z' + (g %% 365) * interval '1 day'
FROM generate_series(1, %d) g JOIN bench_vendors v ON v.n = 1 + g %% 50`, orders),
		`CREATE TEMP TABLE bench_pos AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM purchase_orders WHERE tenant_id = $T`,
		`INSERT INTO po_lines (tenant_id, id, po_id, line_no, bib_id, quantity, received_quantity, status, unit_price, currency, branch_id)
SELECT $T, gen_random_uuid(), p.id, k, bb.id, 2, CASE WHEN (p.n + k) % 2 = 0 THEN 2 ELSE 1 END,
  CASE WHEN (p.n + k) % 2 = 0 THEN 'received' ELSE 'open' END, 1000 + p.n % 3000, 'USD', br.id
FROM bench_pos p CROSS JOIN generate_series(1, 2) k JOIN bench_bibs bb ON bb.n = 1 + (p.n * 2 + k) % 20000
JOIN bench_branches br ON br.n = 1 + (p.n + k) % 20`,
		`CREATE TEMP TABLE bench_lines AS SELECT row_number() OVER (ORDER BY l.id) AS n, l.id, l.bib_id, l.branch_id, l.unit_price,
  l.received_quantity, o.ordered_at FROM po_lines l JOIN purchase_orders o ON o.id = l.po_id WHERE l.tenant_id = $T`,
		`INSERT INTO fund_transactions (tenant_id, id, fund_id, kind, amount, currency, po_line_id, created_at)
SELECT $T, gen_random_uuid(), f.id, x.kind, x.amount, 'USD', l.id, x.at
FROM bench_lines l JOIN bench_funds f ON f.n = 1 + l.n % 200
CROSS JOIN LATERAL (VALUES ('encumbrance', 2 * l.unit_price, l.ordered_at, true),
  ('release', 2 * l.unit_price, l.ordered_at + interval '30 days', l.received_quantity = 2),
  ('expenditure', 2 * l.unit_price + 50, l.ordered_at + interval '30 days', l.received_quantity = 2)) x(kind, amount, at, keep)
WHERE x.keep`,
		`INSERT INTO items (tenant_id, id, bib_id, barcode, branch_id, item_type, status, acquired_on, price_amount, price_currency)
SELECT $T, gen_random_uuid(), l.bib_id, 'A' || l.n, l.branch_id, (ARRAY['book', 'book', 'dvd'])[1 + l.n % 3], 'available',
  (l.ordered_at + interval '20 days')::date, l.unit_price, 'USD' FROM bench_lines l`,
		`INSERT INTO po_receipts (tenant_id, id, po_line_id, item_id, received_on)
SELECT $T, gen_random_uuid(), l.id, i.id, i.acquired_on FROM bench_lines l JOIN items i ON i.tenant_id = $T AND i.barcode = 'A' || l.n`,
		`CREATE TEMP TABLE bench_items AS SELECT row_number() OVER (ORDER BY id) AS n, id, bib_id, branch_id, item_type, acquired_on FROM items WHERE tenant_id = $T`,
		`INSERT INTO loans (tenant_id, id, item_id, patron_category, item_type, bib_id, branch_id, status, checked_out_at, due_at, renewals_allowed, returned_at, return_branch_id)
SELECT $T, gen_random_uuid(), i.id, 'adult', i.item_type, i.bib_id, i.branch_id, 'returned', x.co, x.co + interval '21 days', 3, x.co + interval '7 days', i.branch_id
FROM generate_series(1, 200000) g
CROSS JOIN LATERAL (SELECT 1 + floor((SELECT count(*) FROM bench_items) * power(random(), 2) + 0 * g)::int AS n) r
JOIN bench_items i ON i.n = r.n
CROSS JOIN LATERAL (SELECT (i.acquired_on + 1 + (g % 300))::timestamp AT TIME ZONE 'America/Chicago' + interval '14 hours' AS co) x`,
		"SET session_replication_role = DEFAULT",
		"SELECT set_config('app.tenant_id', '', false)",
		"VACUUM ANALYZE fund_transactions", "VACUUM ANALYZE po_lines", "VACUUM ANALYZE purchase_orders", "VACUUM ANALYZE items",
		"VACUUM ANALYZE loans", "VACUUM ANALYZE po_receipts", "VACUUM ANALYZE funds", "VACUUM ANALYZE bibs", "VACUUM ANALYZE branches", "VACUUM ANALYZE vendors",
	} {
		if _, err := conn.ExecContext(ctx, replaceT(q, tenant)); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	var ledger int64
	owner.QueryRow("SELECT count(*) FROM fund_transactions WHERE tenant_id = $1", tenant).Scan(&ledger)
	b.Logf("setup: %d orders, %d ledger entries in %s", orders, ledger, time.Since(start).Round(time.Second))
	svc := NewService(env.Pool, nil).SetClock(func() time.Time { return time.Date(2026, 1, 10, 18, 0, 0, 0, time.UTC) })
	year := func(extra ...string) map[string]string {
		m := map[string]string{"from": "2025-01-01", "to": "2025-12-31"}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	cases := []reportBenchCase{
		{"fund_status/200_funds", "fund_status", map[string]string{}},
		{"spending/year_by_month", "spending", year("group_by", "month")},
		{"spending/year_by_vendor", "spending", year("group_by", "vendor")},
		{"spending/year_by_fund_month", "spending", year("group_by", "fund_month")},
		{"late_orders/1000", "late_orders", map[string]string{}},
		{"cost_per_checkout/year_by_item_type", "cost_per_checkout", year()},
		{"cost_per_checkout/year_by_vendor", "cost_per_checkout", year("group_by", "vendor")},
	}
	runReportBenchmarks(b, env.Pool, svc, tenant, cases, samples)
}
