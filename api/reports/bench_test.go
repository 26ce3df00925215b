package reports

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkReports: one library with 20 branches, 200k items of 50k
// titles and STACKS_BENCH_LOANS (default 2,000,000) loans over 2025, all
// returned, a fifth renewed, checkouts skewed toward popular items. Loans
// and the aggregates are generated set-based (triggers off while loading,
// then app.circ_daily_rebuild rolls everything up), so setup takes well
// under a minute. Each
// report then runs STACKS_BENCH_SAMPLES times (default 30) the way the API
// runs it (a tenant transaction, as stacks_app), and p50/p95 are reported.
//
//	go test -run '^$' -bench BenchmarkReports -benchtime=1x -timeout 30m ./api/reports/
func BenchmarkReports(b *testing.B) {
	env := tenanttest.Get(b)
	loans := benchEnv("STACKS_BENCH_LOANS", 2_000_000)
	samples := benchEnv("STACKS_BENCH_SAMPLES", 30)
	res := env.Signup(b, "rep-bench")
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
		// Bulk load: no triggers (search vectors, per-loan aggregate) and no
		// foreign-key checks; the rows are generated consistent.
		"SET session_replication_role = replica",
		"SELECT set_config('app.tenant_id', '" + tenant.String() + "', false)",
		`INSERT INTO branches (tenant_id, id, parent_id, kind, name, code, path)
SELECT $T, gen_random_uuid(), r.id, 'branch', 'Branch ' || g, 'B' || g, ARRAY[r.id]
FROM generate_series(1, 19) g, branches r WHERE r.tenant_id = $T AND r.parent_id IS NULL`,
		"UPDATE branches SET path = path || id WHERE tenant_id = $T AND kind = 'branch' AND cardinality(path) = 1",
		`INSERT INTO bibs (tenant_id, id, marc, title, title_sort, authors, format, match_key, pub_year)
SELECT $T, gen_random_uuid(), '{}', 'Title ' || g, 'title ' || g, ARRAY['Author ' || (g % 5000)], 'book', 'k' || g, 1950 + g % 75
FROM generate_series(1, 50000) g`,
		`CREATE TEMP TABLE bench_branches AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM branches WHERE tenant_id = $T AND kind = 'branch'`,
		`CREATE TEMP TABLE bench_bibs AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM bibs WHERE tenant_id = $T`,
		`INSERT INTO items (tenant_id, id, bib_id, barcode, branch_id, item_type, status)
SELECT $T, gen_random_uuid(), bb.id, 'X' || g, br.id, (ARRAY['book','book','book','dvd','magazine'])[1 + g % 5], 'available'
FROM generate_series(1, 200000) g JOIN bench_bibs bb ON bb.n = 1 + g % 50000 JOIN bench_branches br ON br.n = 1 + g % 20`,
		`CREATE TEMP TABLE bench_items AS SELECT row_number() OVER (ORDER BY id) AS n, id, bib_id, branch_id, item_type FROM items WHERE tenant_id = $T`,
		// Opening hours 09:00-20:00 local; item n drawn as 200000 * u^3,
		// so a few titles are far more popular than the rest.
		fmt.Sprintf(`INSERT INTO loans (tenant_id, id, item_id, patron_category, item_type, bib_id, branch_id, status, checked_out_at, due_at,
  renewals_used, renewals_allowed, last_renewed_at, returned_at, return_branch_id)
SELECT $T, gen_random_uuid(), i.id, CASE WHEN g %% 4 = 0 THEN 'child' ELSE 'adult' END, i.item_type, i.bib_id, i.branch_id, 'returned',
  x.co, x.co + interval '21 days', CASE WHEN g %% 5 = 0 THEN 1 ELSE 0 END, 3,
  CASE WHEN g %% 5 = 0 THEN x.co + interval '20 days' END, x.co + interval '1 day' * (1 + g %% 30), i.branch_id
FROM generate_series(1, %d) g
CROSS JOIN LATERAL (SELECT ((DATE '2025-01-01' + (g %% 365))::timestamp + interval '9 hours' + random() * interval '11 hours')
  AT TIME ZONE 'America/Chicago' AS co, 1 + floor(199999 * power(random(), 3))::int AS n) x
JOIN bench_items i ON i.n = x.n
ORDER BY x.co`, loans), // in time order, as a desk writes them
		"SELECT app.circ_daily_rebuild()",
		"SET session_replication_role = DEFAULT",
		"SELECT set_config('app.tenant_id', '', false)",
		"VACUUM ANALYZE loans", "VACUUM ANALYZE circ_daily", "VACUUM ANALYZE circ_hourly", "VACUUM ANALYZE circ_titles_monthly", "VACUUM ANALYZE items", "VACUUM ANALYZE bibs", "VACUUM ANALYZE holds",
	} {
		if _, err := conn.ExecContext(ctx, replaceT(q, tenant)); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	var aggRows int64
	owner.QueryRow("SELECT count(*) FROM circ_daily WHERE tenant_id = $1", tenant).Scan(&aggRows)
	b.Logf("setup: %d loans, %d aggregate rows in %s", loans, aggRows, time.Since(start).Round(time.Second))
	svc := NewService(env.Pool, nil).SetClock(func() time.Time { return time.Date(2026, 1, 10, 18, 0, 0, 0, time.UTC) })
	year := map[string]string{"from": "2025-01-01", "to": "2025-12-31"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range year {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cases := []reportBenchCase{
		{"circulation_activity/year_by_month", "circulation_activity", with(map[string]string{"group_by": "month"})},
		{"circulation_activity/year_by_day", "circulation_activity", with(nil)},
		{"circulation_activity/year_by_branch", "circulation_activity", with(map[string]string{"group_by": "branch"})},
		{"circulation_activity/year_by_hour", "circulation_activity", with(map[string]string{"group_by": "hour"})},
		{"popular_titles/year_top20", "popular_titles", with(nil)},
		{"popular_titles/last_month_top20", "popular_titles", map[string]string{"from": "2025-12-01", "to": "2025-12-31"}},
	}
	runReportBenchmarks(b, env.Pool, svc, tenant, cases, samples)
}

func replaceT(q string, tenant uuid.UUID) string {
	out := []byte{}
	for i := 0; i < len(q); i++ {
		if q[i] == '$' && i+1 < len(q) && q[i+1] == 'T' {
			out = append(out, "'"+tenant.String()+"'::uuid"...)
			i++
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}

// reportBenchCase is one report run of a benchmark.
type reportBenchCase struct {
	name, report string
	raw          map[string]string
}

// runReportBenchmarks runs each case samples times through the tenant
// transaction and reports p50/p95 and the row count; STACKS_BENCH_EXPLAIN
// logs each plan first.
func runReportBenchmarks(b *testing.B, pool *tenants.Pool, svc *Service, tenant uuid.UUID, cases []reportBenchCase, samples int) {
	ctx := context.Background()
	if os.Getenv("STACKS_BENCH_EXPLAIN") != "" {
		for _, c := range cases {
			pool.Tx(ctx, tenant, func(ctx context.Context, tx *gorm.DB) error {
				pr, err := svc.prepare(ctx, c.report, c.raw)
				if err != nil {
					b.Fatal(err)
				}
				tx.Exec("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)")
				var plan []string
				tx.Raw("EXPLAIN (ANALYZE, BUFFERS) "+pr.q.sql, pr.q.args).Scan(&plan)
				b.Logf("%s:\n%s", c.name, strings.Join(plan, "\n"))
				return nil
			})
		}
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				var ds []time.Duration
				rows := 0
				for range samples {
					t0 := time.Now()
					err := pool.Tx(ctx, tenant, func(ctx context.Context, _ *gorm.DB) error {
						ctx = tenants.WithPrincipal(ctx, &tenants.Principal{TenantID: tenant, UserID: uuid.New(),
							Grants: []tenants.Grant{{Role: tenants.RoleReadonly, BranchID: uuid.Nil}}})
						r, err := svc.Run(ctx, c.report, c.raw)
						if err == nil {
							rows = len(r.Rows)
						}
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
					ds = append(ds, time.Since(t0))
				}
				slices.Sort(ds)
				ms := func(q float64) float64 { return float64(ds[int(q*float64(len(ds)-1))].Microseconds()) / 1000 }
				b.ReportMetric(ms(0.5), "p50_ms")
				b.ReportMetric(ms(0.95), "p95_ms")
				b.ReportMetric(float64(rows), "rows")
			}
		})
	}
}
