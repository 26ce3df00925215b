package workers_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/acquisitions"
	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
	"github.com/stacks-ils/stacks/workers"
)

// The claims task, run twice for the same day (a retry, a second
// scheduler), mails the vendor of a late line once, through the outbox.
// Redis database 12 is acquisitions' own.
func TestClaimsTask_OneMailPerVendorPerDay(t *testing.T) {
	env := tenanttest.Get(t)
	ropt := redisOpt(t)
	ropt.DB = 12
	insp := asynq.NewInspector(ropt)
	for _, q := range []string{"maintenance", "notices"} {
		if qs, _ := insp.Queues(); slices.Contains(qs, q) {
			insp.DeleteAllCompletedTasks(q)
			insp.DeleteQueue(q, true)
		}
	}
	insp.Close()
	sink := newMailSink(t)
	mailer, err := notices.NewSMTP("smtp://"+sink.Addr(), "Stacks Library <library@stacks.test>")
	if err != nil {
		t.Fatal(err)
	}
	client := workers.NewClient(ropt)
	t.Cleanup(func() { client.Close() })
	log := slog.New(slog.DiscardHandler)
	nots := notices.NewService(env.Pool, client, mailer, log)
	cat := catalog.NewService(env.Tenants)
	acq := acquisitions.NewService(env.Tenants, cat).SetNotices(nots).
		SetClock(func() time.Time { return time.Now().Add(-40 * 24 * time.Hour) }) // the order went out 40 days ago
	wk := workers.New(ropt, env.Tenants, cat, log, workers.Options{Concurrency: 4, ShutdownTimeout: 20 * time.Millisecond,
		CheckInterval: 50 * time.Millisecond}).SetNotices(nots).SetAcquisitions(acq)
	if err := wk.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wk.Shutdown)

	res := env.Signup(t, "claims")
	tenant := res.Tenant.ID
	err = env.Pool.Tx(context.Background(), tenant, func(ctx context.Context, tx *gorm.DB) error {
		ctx = tenants.WithPrincipal(ctx, &tenants.Principal{TenantID: tenant, UserID: res.User.ID, Grants: res.User.Roles})
		var branch struct{ ID string }
		if err := tx.Raw(`SELECT id::text AS id FROM branches WHERE kind = 'branch' LIMIT 1`).Scan(&branch).Error; err != nil {
			return err
		}
		fy, err := acq.CreateFiscalYear(ctx, acquisitions.FiscalYearInput{Code: ptr("FY"), StartsOn: ptr("2025-01-01"), EndsOn: ptr("2027-12-31")})
		if err != nil {
			return err
		}
		f, err := acq.CreateFund(ctx, acquisitions.FundInput{Code: ptr("F"), Name: ptr("F"), FiscalYearID: &fy.ID, Allocation: &acquisitions.Money{Amount: 100000, Currency: "USD"}})
		if err != nil {
			return err
		}
		v, err := acq.CreateVendor(ctx, acquisitions.VendorInput{Code: ptr("V"), Name: ptr("Vendor"), Currency: ptr("USD"), Email: ptr("orders@vendor.example")})
		if err != nil {
			return err
		}
		bid := mustUUID(t, branch.ID)
		po, err := acq.CreatePurchaseOrder(ctx, acquisitions.POInput{VendorID: v.ID, Lines: []acquisitions.LineInput{
			{Bib: &catalog.BibForm{Title: "The Overdue Parcel"}, Quantity: 2, UnitPrice: &acquisitions.Money{Amount: 1200, Currency: "USD"},
				BranchID: bid, Funds: []acquisitions.FundShare{{FundID: f.ID, Percent: 10000}}}}})
		if err != nil {
			return err
		}
		_, err = acq.OpenPurchaseOrder(ctx, po.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().In(mustLoc(t, "America/Chicago")).Format(time.DateOnly)
	for range 2 {
		if err := client.EnqueueClaims(context.Background(), tenant, day); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the claim mail", func() bool { return len(sink.Mails()) >= 1 })
	time.Sleep(300 * time.Millisecond) // a second mail would have come by now
	mails := sink.Mails()
	if len(mails) != 1 || mails[0].To[0] != "orders@vendor.example" || !strings.Contains(mails[0].Data, "The Overdue Parcel") {
		t.Fatalf("%d mails: %+v", len(mails), mails)
	}
	var claimed int64
	env.Pool.Tx(context.Background(), tenant, func(ctx context.Context, tx *gorm.DB) error {
		return tx.Raw(`SELECT count(*) FROM po_claims WHERE notice_id IS NOT NULL`).Scan(&claimed).Error
	})
	if claimed != 1 {
		t.Fatalf("%d claims recorded with their mail, want 1", claimed)
	}
}

func ptr[T any](v T) *T { return &v }

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
