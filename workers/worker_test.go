package workers_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/circulation"
	"github.com/stacks-ils/stacks/api/circulation/policy"
	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
	"github.com/stacks-ils/stacks/workers"
)

func TestMain(m *testing.M) { os.Exit(tenanttest.Main(m)) }

// redisOpt points Asynq at a Redis database of its own, so this package's
// queues never mix with a developer's `stacks dev` on database 0.
func redisOpt(t testing.TB) asynq.RedisClientOpt {
	opt, err := asynq.ParseRedisURI(tenanttest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	o := opt.(asynq.RedisClientOpt)
	o.DB = 9
	return o
}

func countSessions(t *testing.T, env *tenanttest.Env, tenant tenants.TenantRef) int64 {
	var n int64
	err := env.Pool.Tx(context.Background(), tenant.ID, func(ctx context.Context, tx *gorm.DB) error {
		return tx.Raw(`SELECT count(*) FROM sessions`).Scan(&n).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The hourly fan-out purges sessions that ended long ago, once per tenant
// per day however often it runs.
func TestPurgeSessions_FansOutOncePerTenantPerDay(t *testing.T) {
	env := tenanttest.Get(t)
	ctx := context.Background()
	ropt := redisOpt(t)
	insp := asynq.NewInspector(ropt)
	defer insp.Close()
	// Completed tasks outlive DeleteQueue (they are kept for their
	// retention), and earlier runs leave theirs: clear them so the count
	// below sees only this run.
	if qs, _ := insp.Queues(); slices.Contains(qs, "maintenance") {
		if _, err := insp.DeleteAllCompletedTasks("maintenance"); err != nil {
			t.Fatal(err)
		}
		insp.DeleteQueue("maintenance", true)
	}

	// An old login (the clock 60 days back) and a fresh one.
	old := tenants.NewService(env.Pool, env.Counter, tenants.Options{Hash: tenanttest.CheapHash, SignupsPerIPPerHour: -1,
		Now: func() time.Time { return time.Now().Add(-60 * 24 * time.Hour) }})
	slug := tenanttest.Slug("purge")
	res, err := old.Signup(ctx, tenants.SignupInput{LibraryName: "Purge", Slug: slug, AdminEmail: "o@purge.example.org",
		AdminPassword: "purge test password", Kind: "library", Timezone: "UTC", Country: "NL"}, "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Tenants.Login(ctx, tenants.LoginInput{Tenant: slug, Email: "o@purge.example.org", Password: "purge test password"}, "127.0.0.1", ""); err != nil {
		t.Fatal(err)
	}
	if n := countSessions(t, env, res.Tenant); n != 2 {
		t.Fatalf("%d sessions before purge, want 2", n)
	}

	w := workers.New(ropt, env.Tenants, catalog.NewService(env.Tenants), slog.New(slog.DiscardHandler), workers.Options{Concurrency: 2})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	client := asynq.NewClient(ropt)
	defer client.Close()
	for i := 0; i < 2; i++ { // two schedulers firing: still one purge per tenant
		if _, err := client.Enqueue(asynq.NewTask(workers.TypePurgeSessions, nil), asynq.Queue("maintenance")); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for countSessions(t, env, res.Tenant) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("old session not purged; %d sessions left", countSessions(t, env, res.Tenant))
		}
		time.Sleep(50 * time.Millisecond)
	}
	taskID := workers.TypePurgeTenantSessions + ":" + res.Tenant.ID.String() + ":" + time.Now().UTC().Format(time.DateOnly)
	deadline = time.Now().Add(10 * time.Second)
	for {
		info, err := insp.GetTaskInfo("maintenance", taskID)
		if err == nil && info.State == asynq.TaskStateCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("per-tenant task %s not completed: %v %v", taskID, info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	completed, err := insp.ListCompletedTasks("maintenance", asynq.PageSize(10000))
	if err != nil {
		t.Fatal(err)
	}
	perTenant := 0
	for _, c := range completed {
		if c.ID == taskID {
			perTenant++
		}
	}
	if perTenant != 1 {
		t.Fatalf("per-tenant purge ran %d times, want 1", perTenant)
	}
}

// An upload committed by the API is picked up by the worker through the
// real queue and imported.
func TestImportJob_RunsThroughTheQueue(t *testing.T) {
	env := tenanttest.Get(t)
	ctx := context.Background()
	ropt := redisOpt(t)
	res := env.Signup(t, "queue")
	client := workers.NewClient(ropt)
	defer client.Close()
	cat := catalog.NewService(env.Tenants).SetJobs(client, slog.New(slog.DiscardHandler))
	w := workers.New(ropt, env.Tenants, cat, slog.New(slog.DiscardHandler), workers.Options{Concurrency: 2})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	file, err := os.ReadFile("../testdata/marc/ruby-marc/batch.dat")
	if err != nil {
		t.Fatal(err)
	}
	var jobID uuid.UUID
	owner := &tenants.Principal{TenantID: res.Tenant.ID, UserID: res.User.ID, Grants: res.User.Roles}
	err = env.Pool.Tx(tenants.WithPrincipal(ctx, owner), res.Tenant.ID, func(ctx context.Context, _ *gorm.DB) error {
		job, err := cat.CreateImportJob(ctx, catalog.ImportOptions{}, bytes.NewReader(file), 1<<20)
		if job != nil {
			jobID = job.ID
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var job *catalog.Job
		env.Pool.Tx(ctx, res.Tenant.ID, func(ctx context.Context, _ *gorm.DB) error {
			job, err = cat.GetJob(ctx, jobID)
			return err
		})
		if job != nil && job.Status == catalog.JobCompleted {
			if job.Created != 10 || job.Failed != 0 {
				t.Fatalf("job finished with %+v", job)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("import not completed in time: %+v", job)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The stored upload is gone once the job is done.
	var chunks int64
	env.Pool.Tx(ctx, res.Tenant.ID, func(ctx context.Context, tx *gorm.DB) error {
		return tx.Raw(`SELECT count(*) FROM job_files`).Scan(&chunks).Error
	})
	if chunks != 0 {
		t.Fatalf("%d upload chunks left after the job", chunks)
	}
}

// The nightly circulation job runs once per tenant per local day, from
// 02:00 in the tenant's time zone, and expires holds no longer needed.
func TestCirculationNightly_OncePerTenantLocalDay(t *testing.T) {
	env := tenanttest.Get(t)
	ctx := context.Background()
	ropt := redisOpt(t)
	insp := asynq.NewInspector(ropt)
	defer insp.Close()
	if qs, _ := insp.Queues(); slices.Contains(qs, "maintenance") {
		insp.DeleteAllCompletedTasks("maintenance")
		insp.DeleteQueue("maintenance", true)
	}
	res := env.Signup(t, "nightly") // time zone UTC
	var hold struct{ ID uuid.UUID }
	err := env.Pool.Tx(ctx, res.Tenant.ID, func(ctx context.Context, tx *gorm.DB) error {
		return tx.Raw(`WITH b AS (INSERT INTO bibs (tenant_id, id, marc, title, title_sort, format, match_key)
    VALUES (app.current_tenant_id(), gen_random_uuid(), '{}', 'Nightly', 'nightly', 'book', 'nightly') RETURNING id),
  br AS (SELECT id FROM branches WHERE kind = 'branch' LIMIT 1),
  p AS (INSERT INTO patrons (tenant_id, id, card_number, last_name, home_branch_id, category, expires_on)
    SELECT app.current_tenant_id(), gen_random_uuid(), 'N1', 'Night', br.id, 'adult', '2099-12-31' FROM br RETURNING id)
INSERT INTO holds (tenant_id, id, patron_id, bib_id, pickup_branch_id, requested_at, not_needed_after)
SELECT app.current_tenant_id(), gen_random_uuid(), p.id, b.id, br.id, now() - interval '30 days', current_date - 2 FROM p, b, br
RETURNING id`).Scan(&hold).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	// 01:00 in Chicago: before the maintenance hour, nothing runs.
	var clock atomic.Int64
	clock.Store(time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC).Unix())
	pat := patrons.NewService(env.Tenants)
	cat := catalog.NewService(env.Tenants)
	circ := circulation.NewService(env.Tenants, cat, pat, policy.NewService(env.Tenants))
	w := workers.New(ropt, env.Tenants, cat, slog.New(slog.DiscardHandler), workers.Options{Concurrency: 2,
		Now: func() time.Time { return time.Unix(clock.Load(), 0) }}).SetCirculation(circ)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	client := asynq.NewClient(ropt)
	defer client.Close()
	fanOut := func() {
		t.Helper()
		info, err := client.Enqueue(asynq.NewTask(workers.TypeCirculationDaily, nil), asynq.Queue("maintenance"), asynq.Retention(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if ti, err := insp.GetTaskInfo("maintenance", info.ID); err == nil && ti.State == asynq.TaskStateCompleted {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("fan-out not completed: %v %v", ti, err)
			}
		}
	}
	taskID := workers.TypeCirculationDailyTenant + ":" + res.Tenant.ID.String() + ":2026-11-27"
	fanOut()
	if _, err := insp.GetTaskInfo("maintenance", taskID); err == nil {
		t.Fatal("the nightly job ran before 02:00 local time")
	}
	// 03:00 in Chicago, twice (two schedulers): one run.
	clock.Store(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC).Unix())
	fanOut()
	fanOut()
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, err := insp.GetTaskInfo("maintenance", taskID)
		if err == nil && info.State == asynq.TaskStateCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nightly task %s not completed: %v %v", taskID, info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var status string
	env.Pool.Tx(ctx, res.Tenant.ID, func(ctx context.Context, tx *gorm.DB) error {
		return tx.Raw("SELECT status FROM holds WHERE id = ?", hold.ID).Scan(&status).Error
	})
	if status != "expired" {
		t.Fatalf("hold %s after the nightly job, want expired", status)
	}
	completed, _ := insp.ListCompletedTasks("maintenance", asynq.PageSize(10000))
	n := 0
	for _, c := range completed {
		if c.ID == taskID {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("nightly job ran %d times for the tenant, want 1", n)
	}
}

// Queue depth shows on /metrics.
func TestQueueCollector_ReportsDepth(t *testing.T) {
	ropt := redisOpt(t)
	insp := asynq.NewInspector(ropt)
	defer insp.Close()
	if qs, _ := insp.Queues(); slices.Contains(qs, "reports") {
		insp.DeleteQueue("reports", true)
	}
	client := asynq.NewClient(ropt)
	defer client.Close()
	for i := 0; i < 3; i++ { // no worker runs: they stay pending
		if _, err := client.Enqueue(asynq.NewTask("test:depth", nil), asynq.Queue("reports")); err != nil {
			t.Fatal(err)
		}
	}
	c := workers.NewQueueCollector(ropt)
	defer c.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	got, err := testutil.GatherAndCount(reg, "stacks_queue_tasks")
	if err != nil || got == 0 {
		t.Fatalf("%d queue series, %v", got, err)
	}
	want := `
# HELP stacks_queue_up 1 when the queues in Redis could be read.
# TYPE stacks_queue_up gauge
stacks_queue_up 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "stacks_queue_up"); err != nil {
		t.Fatal(err)
	}
	mfs, _ := reg.Gather()
	pending := -1.0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if mf.GetName() == "stacks_queue_tasks" && labels["queue"] == "reports" && labels["state"] == "pending" {
				pending = m.GetGauge().GetValue()
			}
		}
	}
	if pending != 3 {
		t.Fatalf("reports pending = %v, want 3", pending)
	}
	insp.DeleteQueue("reports", true)
}
