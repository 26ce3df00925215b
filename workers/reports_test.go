package workers_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/reports"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
	"github.com/stacks-ils/stacks/workers"
)

// The reports queue has a Redis database of its own (11) in tests.
func reportsRedis(t testing.TB) asynq.RedisClientOpt {
	o := redisOpt(t)
	o.DB = 11
	return o
}

// A weekly schedule runs once in its ISO week, from its local hour on, at
// the library's local time, whatever the number of fan-outs.
func TestScheduledReports_OncePerPeriod(t *testing.T) {
	env := tenanttest.Get(t)
	ctx := context.Background()
	ropt := reportsRedis(t)
	insp := asynq.NewInspector(ropt)
	defer insp.Close()
	insp.DeleteQueue("reports", true) // clear what this test counts
	res := env.Signup(t, "sched")     // America/Chicago
	var owner uuid.UUID
	var sid uuid.UUID
	svc := reports.NewService(env.Pool, nil)
	var clock atomic.Int64
	// Monday Feb 16, 2026, 06:00 in Chicago: before the schedule's 07:00.
	clock.Store(time.Date(2026, 2, 16, 12, 0, 0, 0, time.UTC).Unix())
	now := func() time.Time { return time.Unix(clock.Load(), 0) }
	svc.SetClock(now)
	err := env.Pool.Tx(ctx, res.Tenant.ID, func(ctx context.Context, tx *gorm.DB) error {
		owner = res.User.ID
		p, err := tenants.PrincipalForUser(ctx, owner)
		if err != nil {
			return err
		}
		sc, err := svc.CreateSchedule(tenants.WithPrincipal(ctx, p), reports.ScheduleInput{Report: ptr("circulation_activity"),
			Frequency: ptr("weekly"), Hour: ptr(7), Params: reports.ParamMap{"period": "last_week"}})
		if err != nil {
			return err
		}
		sid = sc.ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.NewService(env.Tenants)
	w := workers.New(ropt, env.Tenants, cat, slog.New(slog.DiscardHandler), workers.Options{Concurrency: 2, Now: now}).SetReports(svc)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	client := asynq.NewClient(ropt)
	defer client.Close()
	fanOut := func() {
		t.Helper()
		info, err := client.Enqueue(asynq.NewTask(workers.TypeReportsDue, nil), asynq.Queue("reports"), asynq.Retention(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if ti, err := insp.GetTaskInfo("reports", info.ID); err == nil && ti.State == asynq.TaskStateCompleted {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("fan-out not completed: %v %v", ti, err)
			}
		}
	}
	taskID := workers.ReportTaskID(res.Tenant.ID, sid, "2026-W08")
	fanOut()
	if _, err := insp.GetTaskInfo("reports", taskID); err == nil {
		t.Fatal("the weekly report ran before its local hour")
	}
	clock.Store(time.Date(2026, 2, 16, 13, 30, 0, 0, time.UTC).Unix()) // 07:30 local
	fanOut()
	fanOut()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		info, err := insp.GetTaskInfo("reports", taskID)
		if err == nil && info.State == asynq.TaskStateCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("report task %s not completed: %v %v", taskID, info, err)
		}
	}
	// Later that week the period has its run: nothing new.
	clock.Store(time.Date(2026, 2, 19, 15, 0, 0, 0, time.UTC).Unix())
	fanOut()
	var runs []struct {
		Period, Status string
		RowCount       int64
	}
	env.Pool.Tx(ctx, res.Tenant.ID, func(ctx context.Context, tx *gorm.DB) error {
		return tx.Raw("SELECT period, status, row_count FROM report_runs WHERE schedule_id = ?", sid).Scan(&runs).Error
	})
	if len(runs) != 1 || runs[0].Period != "2026-W08" || runs[0].Status != "completed" || runs[0].RowCount != 7 {
		t.Fatalf("runs %+v, want one completed run of 2026-W08 with a row for each day of last week", runs)
	}
}
