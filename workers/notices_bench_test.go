package workers_test

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/api/notices/devmail"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
	"github.com/stacks-ils/stacks/workers"
)

func benchInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkOverdueNotices: a library with 200k active loans, 20k of them
// overdue across 8k patrons (STACKS_BENCH_LOANS, _OVERDUE, _PATRONS). It
// measures the time from the overdue run's start until every patron's
// notice was rendered and accepted by an SMTP server (the in-process
// devmail sink), through the real worker.
func BenchmarkOverdueNotices(b *testing.B) {
	env := tenanttest.Get(b)
	nLoans, nOverdue, nPatrons := benchInt("STACKS_BENCH_LOANS", 200000), benchInt("STACKS_BENCH_OVERDUE", 20000), benchInt("STACKS_BENCH_PATRONS", 8000)
	ropt := redisOpt(b)
	insp := asynq.NewInspector(ropt)
	defer insp.Close()
	insp.DeleteQueue("notices", true)
	res := env.Signup(b, "nbench") // America/Chicago
	chicago, _ := time.LoadLocation("America/Chicago")
	now := time.Now().In(chicago)
	yesterday := time.Date(now.Year(), now.Month(), now.Day()-1, 23, 59, 59, 0, chicago)
	start := time.Now()
	err := env.Pool.Tx(context.Background(), res.Tenant.ID, func(ctx context.Context, tx *gorm.DB) error {
		for _, q := range []string{
			`INSERT INTO bibs (tenant_id, id, marc, title, title_sort, format, match_key)
SELECT app.current_tenant_id(), gen_random_uuid(), '{}', 'Bench title ' || g, 'bench title ' || g, 'book', 'b' || g
FROM generate_series(1, @bibs) g`,
			`INSERT INTO items (tenant_id, id, bib_id, barcode, branch_id, status)
SELECT app.current_tenant_id(), gen_random_uuid(), b.id, 'NB' || (row_number() OVER ()), (SELECT id FROM branches WHERE kind = 'branch' LIMIT 1), 'checked_out'
FROM bibs b, generate_series(1, 10) c`,
			`INSERT INTO patrons (tenant_id, id, card_number, first_name, last_name, email, home_branch_id, category, expires_on)
SELECT app.current_tenant_id(), gen_random_uuid(), 'NB' || g, 'Pat', 'Ron ' || g, 'p' || g || '@example.org',
  (SELECT id FROM branches WHERE kind = 'branch' LIMIT 1), 'adult', '2099-12-31'
FROM generate_series(1, @patrons) g`,
			`WITH i AS (SELECT id, bib_id, branch_id, row_number() OVER (ORDER BY id) AS n FROM items LIMIT @loans),
  p AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM patrons)
INSERT INTO loans (tenant_id, id, item_id, patron_id, patron_category, item_type, bib_id, branch_id, checked_out_at, due_at, renewals_allowed)
SELECT app.current_tenant_id(), gen_random_uuid(), i.id, p.id, 'adult', 'book', i.bib_id, i.branch_id, now() - interval '20 days',
  CASE WHEN i.n <= @overdue THEN CAST(@yesterday AS timestamptz) ELSE now() + interval '10 days' END, 3
FROM i JOIN p ON p.k = i.n % @patrons`,
		} {
			var args []any
			if strings.Contains(q, "@") {
				args = append(args, map[string]any{"bibs": nLoans / 10, "patrons": nPatrons, "loans": nLoans, "overdue": nOverdue,
					"yesterday": yesterday})
			}
			if err := tx.Exec(q, args...).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("generate: %v", err)
	}
	b.Logf("generated %d loans (%d overdue) for %d patrons in %s", nLoans, nOverdue, nPatrons, time.Since(start).Round(time.Second))
	sink, err := newBenchSink()
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	mailer, _ := notices.NewSMTP("smtp://"+sink.Addr(), "library@stacks.test")
	client := workers.NewClient(ropt)
	defer client.Close()
	log := slog.New(slog.DiscardHandler)
	nots := notices.NewService(env.Pool, client, mailer, log)
	wk := workers.New(ropt, env.Tenants, catalog.NewService(env.Tenants), log, workers.Options{Concurrency: 10,
		CheckInterval: 100 * time.Millisecond}).SetNotices(nots)
	if err := wk.Start(); err != nil {
		b.Fatal(err)
	}
	defer wk.Shutdown()
	want := min(nOverdue, nPatrons)
	b.ResetTimer()
	t0 := time.Now()
	if err := client.EnqueueDaily(context.Background(), res.Tenant.ID, notices.KindOverdue, now.Format(time.DateOnly)); err != nil {
		b.Fatal(err)
	}
	for len(sink.Mails()) < want {
		if time.Since(t0) > 10*time.Minute {
			b.Fatalf("%d of %d notices sent after 10 minutes", len(sink.Mails()), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(took.Seconds(), "s-to-all-sent")
	b.ReportMetric(float64(want)/took.Seconds(), "notices/s")
	b.ReportMetric(0, "ns/op")
}

func newBenchSink() (*devmail.Sink, error) {
	s, err := devmail.Listen("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.Keep = 1 << 20
	return s, nil
}
