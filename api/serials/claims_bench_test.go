package serials_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/acquisitions"
	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/api/serials"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

func TestMain(m *testing.M) { os.Exit(tenanttest.Main(m)) }

// BenchmarkClaimRun: a library with STACKS_BENCH_SUBS monthly
// subscriptions (default 1000) from 10 vendors, whose January-May issues
// are all late on July 1st: one run marks them late, claims them in 10
// mails and records a claim each.
//
//	go test -run '^$' -bench BenchmarkClaimRun -benchtime=1x ./api/serials/
func BenchmarkClaimRun(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("STACKS_BENCH_SUBS")); err == nil && v > 0 {
		n = v
	}
	env := tenanttest.Get(b)
	log := slog.New(slog.DiscardHandler)
	cat := catalog.NewService(env.Tenants)
	acq := acquisitions.NewService(env.Tenants, cat)
	now := time.Date(2026, 1, 1, 18, 0, 0, 0, time.UTC) // subscribed on Jan 1st
	ser := serials.NewService(env.Tenants, cat, acq).SetMailer(notices.NewService(env.Pool, nil, nil, log)).
		SetClock(func() time.Time { return now })
	for b.Loop() {
		b.StopTimer()
		now = time.Date(2026, 1, 1, 18, 0, 0, 0, time.UTC)
		tenant := env.Signup(b, "claimbench").Tenant.ID
		start := time.Now()
		tx(b, env, tenant, func(ctx context.Context) error {
			db, _ := tenants.DB(ctx)
			var row struct{ ID uuid.UUID }
			if err := db.Raw(`SELECT id FROM branches WHERE kind = 'branch' LIMIT 1`).Scan(&row).Error; err != nil {
				return err
			}
			var vendors []uuid.UUID
			for v := 0; v < 10; v++ {
				code, name, email, cur := fmt.Sprintf("V%d", v), fmt.Sprintf("Vendor %d", v), fmt.Sprintf("v%d@vendor.example", v), "USD"
				vd, err := acq.CreateVendor(ctx, acquisitions.VendorInput{Code: &code, Name: &name, Email: &email, Currency: &cur})
				if err != nil {
					return err
				}
				vendors = append(vendors, vd.ID)
			}
			for i := 0; i < n; i++ {
				rec, err := catalog.BibForm{Title: fmt.Sprintf("Bench journal %d", i), Format: catalog.FormatSerial}.Build(now)
				if err != nil {
					return err
				}
				saved, err := cat.SaveRecord(ctx, rec, catalog.DupAdd)
				if err != nil {
					return err
				}
				s, e, pid := "2026-01-01", "2026-12-31", "monthly-journal"
				in := serials.SubscriptionInput{BibID: &saved.Bib.ID, BranchID: &row.ID, StartsOn: &s, EndsOn: &e, PatternID: &pid,
					FirstIssue: &serials.FirstIssueInput{ExpectedOn: "2026-01-15", Enumeration: []int{1, 1}}}
				in.VendorID.Set, in.VendorID.V = true, vendors[i%len(vendors)]
				if _, err := ser.Create(ctx, in); err != nil {
					return err
				}
			}
			return nil
		})
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "subscriptions_created/s")
		now = time.Date(2026, 7, 1, 18, 0, 0, 0, time.UTC) // the run
		b.StartTimer()
		var res *serials.ClaimRunResult
		tx(b, env, tenant, func(ctx context.Context) error {
			var err error
			res, err = ser.RunClaims(ctx, "2026-07-01")
			return err
		})
		if res.Late != 5*n || res.Claimed != 5*n || res.ClaimMails != 10 {
			b.Fatalf("run: %+v", res)
		}
		b.ReportMetric(float64(res.Claimed), "issues_claimed")
	}
}

func tx(b *testing.B, env *tenanttest.Env, tenant uuid.UUID, fn func(ctx context.Context) error) {
	b.Helper()
	err := env.Pool.Tx(context.Background(), tenant, func(ctx context.Context, _ *gorm.DB) error {
		sys, err := tenants.SystemPrincipal(ctx)
		if err != nil {
			return err
		}
		return fn(tenants.WithPrincipal(ctx, sys))
	})
	if err != nil {
		b.Fatal(err)
	}
}
