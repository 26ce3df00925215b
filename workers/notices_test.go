package workers_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/circulation"
	"github.com/stacks-ils/stacks/api/circulation/policy"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/api/notices/devmail"
	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
	"github.com/stacks-ils/stacks/workers"
)

// newMailSink starts a real SMTP server in the test process.
func newMailSink(t *testing.T) *devmail.Sink {
	t.Helper()
	sink, err := devmail.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	return sink
}

// noticeWorld is a tenant with a patron waiting for a title whose only copy
// is on the shelf, and the services wired as in `stacks serve` + `worker`.
type noticeWorld struct {
	worker  *workers.Worker
	stopped bool
	env     *tenanttest.Env
	tenant  uuid.UUID
	branch  uuid.UUID
	barcode string
	circ    *circulation.Service
	nots    *notices.Service
}

func newNoticeWorld(t *testing.T, sink *devmail.Sink, email string) *noticeWorld {
	t.Helper()
	env := tenanttest.Get(t)
	ropt := redisOpt(t)
	// Deliveries left by earlier runs name databases that are gone.
	insp := asynq.NewInspector(ropt)
	if qs, _ := insp.Queues(); slices.Contains(qs, "notices") {
		insp.DeleteQueue("notices", true)
	}
	insp.Close()
	res := env.Signup(t, "notice")
	w := &noticeWorld{env: env, tenant: res.Tenant.ID, barcode: "N-" + res.Tenant.ID.String()[:8]}
	err := env.Pool.Tx(context.Background(), w.tenant, func(ctx context.Context, tx *gorm.DB) error {
		var row struct{ ID uuid.UUID }
		if err := tx.Raw(`SELECT id FROM branches WHERE kind = 'branch' LIMIT 1`).Scan(&row).Error; err != nil {
			return err
		}
		w.branch = row.ID
		return tx.Exec(`WITH b AS (INSERT INTO bibs (tenant_id, id, marc, title, title_sort, format, match_key)
    VALUES (app.current_tenant_id(), gen_random_uuid(), '{}', 'The Waves', 'waves', 'book', 'waves') RETURNING id),
  i AS (INSERT INTO items (tenant_id, id, bib_id, barcode, branch_id) SELECT app.current_tenant_id(), gen_random_uuid(), b.id, ?, ? FROM b),
  p AS (INSERT INTO patrons (tenant_id, id, card_number, first_name, last_name, email, home_branch_id, category, expires_on)
    VALUES (app.current_tenant_id(), gen_random_uuid(), 'W1', 'Virginia', 'Woolf', ?, ?, 'adult', '2099-12-31') RETURNING id)
INSERT INTO holds (tenant_id, id, patron_id, bib_id, pickup_branch_id, requested_at)
SELECT app.current_tenant_id(), gen_random_uuid(), p.id, b.id, ?, now() FROM p, b`, w.barcode, w.branch, email, w.branch, w.branch).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	mailer, err := notices.NewSMTP("smtp://"+sink.Addr(), "Stacks Library <library@stacks.test>")
	if err != nil {
		t.Fatal(err)
	}
	client := workers.NewClient(ropt)
	t.Cleanup(func() { client.Close() })
	log := slog.New(slog.DiscardHandler)
	w.nots = notices.NewService(env.Pool, client, mailer, log)
	cat := catalog.NewService(env.Tenants)
	w.circ = circulation.NewService(env.Tenants, cat, patrons.NewService(env.Tenants), policy.NewService(env.Tenants)).SetNotices(w.nots)
	wk := workers.New(ropt, env.Tenants, cat, log, workers.Options{Concurrency: 4, ShutdownTimeout: 20 * time.Millisecond,
		RetryDelay:    func(int, error, *asynq.Task) time.Duration { return 20 * time.Millisecond },
		CheckInterval: 50 * time.Millisecond}).SetNotices(w.nots)
	if err := wk.Start(); err != nil {
		t.Fatal(err)
	}
	w.worker = wk
	t.Cleanup(w.stopWorker)
	return w
}

// stopWorker shuts the world's worker down (once), cutting off deliveries
// still running after a few milliseconds.
func (w *noticeWorld) stopWorker() {
	if !w.stopped {
		w.stopped = true
		w.worker.Shutdown()
	}
}

// tx runs fn in the tenant as the system principal.
func (w *noticeWorld) tx(t *testing.T, fn func(ctx context.Context) error) {
	t.Helper()
	err := w.env.Pool.Tx(context.Background(), w.tenant, func(ctx context.Context, _ *gorm.DB) error {
		sys, err := tenants.SystemPrincipal(ctx)
		if err != nil {
			return err
		}
		return fn(tenants.WithPrincipal(ctx, sys))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (w *noticeWorld) notice(t *testing.T) notices.Notice {
	t.Helper()
	var ns []notices.Notice
	w.tx(t, func(ctx context.Context) error {
		var err error
		ns, err = w.nots.List(ctx, notices.Filter{Limit: 10})
		return err
	})
	if len(ns) != 1 {
		t.Fatalf("%d notices, want 1", len(ns))
	}
	return ns[0]
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Trapping a hold emails the patron once, with the title, the branch and
// the pickup deadline, and records the send.
func TestHoldAvailableNotice_SentOnce(t *testing.T) {
	sink := newMailSink(t)
	w := newNoticeWorld(t, sink, "virginia@example.org")
	for i := 0; i < 2; i++ { // the second scan finds the copy already waiting: no second notice
		w.tx(t, func(ctx context.Context) error {
			res, err := w.circ.Checkin(ctx, circulation.CheckinInput{ItemBarcode: w.barcode, BranchID: w.branch})
			if err == nil && res.Route != "hold_shelf" {
				err = fmt.Errorf("route %s", res.Route)
			}
			return err
		})
	}
	waitFor(t, "the notice to be sent", func() bool { return w.notice(t).Status == notices.StatusSent })
	mails := sink.Mails()
	if len(mails) != 1 {
		t.Fatalf("%d mails, want 1", len(mails))
	}
	m := mails[0]
	if len(m.To) != 1 || m.To[0] != "virginia@example.org" || !strings.Contains(m.Data, "The Waves is waiting for you") ||
		!strings.Contains(m.Data, "Pick it up at") || !strings.Contains(m.Data, "Dear Virginia Woolf") ||
		!strings.Contains(m.Data, "text/html") || !strings.Contains(m.Data, "multipart/alternative") {
		t.Fatalf("mail: to %v\n%s", m.To, m.Data)
	}
	n := w.notice(t)
	if n.MessageID == "" || n.SentAt == nil || n.Kind != notices.KindHoldAvailable || !strings.Contains(m.Data, n.MessageID) {
		t.Fatalf("notice record: %+v", n)
	}
}

// A mail server that refuses the message: retries, then failed with the
// reason; a resend once it accepts delivers it.
func TestNotice_FailsAfterRetriesThenResends(t *testing.T) {
	sink := newMailSink(t)
	sink.Refuse("busy@example.org", true)
	w := newNoticeWorld(t, sink, "busy@example.org")
	w.tx(t, func(ctx context.Context) error {
		_, err := w.circ.Checkin(ctx, circulation.CheckinInput{ItemBarcode: w.barcode, BranchID: w.branch})
		return err
	})
	waitFor(t, "the notice to fail", func() bool { return w.notice(t).Status == notices.StatusFailed })
	n := w.notice(t)
	if n.Attempts != 9 || !strings.Contains(n.Error, "mailbox busy") {
		t.Fatalf("failed notice: attempts %d, error %q", n.Attempts, n.Error)
	}
	sink.Refuse("busy@example.org", false)
	w.tx(t, func(ctx context.Context) error {
		_, err := w.nots.Resend(ctx, n.ID)
		return err
	})
	waitFor(t, "the resend", func() bool { return w.notice(t).Status == notices.StatusSent })
	if len(sink.Mails()) != 1 {
		t.Fatalf("%d mails after the resend, want 1", len(sink.Mails()))
	}
}

// No email address: recorded as undeliverable (for print), never sent.
func TestNotice_NoAddressIsUndeliverable(t *testing.T) {
	sink := newMailSink(t)
	w := newNoticeWorld(t, sink, "")
	w.tx(t, func(ctx context.Context) error {
		_, err := w.circ.Checkin(ctx, circulation.CheckinInput{ItemBarcode: w.barcode, BranchID: w.branch})
		return err
	})
	if n := w.notice(t); n.Status != notices.StatusUndeliverable || n.BodyText == "" {
		t.Fatalf("notice without an address: %+v", n)
	}
	var err error
	id := w.notice(t).ID
	w.tx(t, func(ctx context.Context) error {
		_, err = w.nots.Resend(ctx, id)
		return nil
	})
	if e := errs.As(err); e == nil || e.Code != "notice_undeliverable" {
		t.Fatalf("resending an undeliverable notice: %v", err)
	}
	if len(sink.Mails()) != 0 {
		t.Fatal("an undeliverable notice was mailed")
	}
}

// Libraries get their daily notices at their own 08:00: Los Angeles while
// Auckland sleeps, Auckland hours later; running the fan-out again sends
// nothing twice.
func TestDailyNotices_EachLibraryAtItsOwnHour(t *testing.T) {
	env := tenanttest.Get(t)
	ropt := redisOpt(t)
	insp := asynq.NewInspector(ropt)
	defer insp.Close()
	if qs, _ := insp.Queues(); slices.Contains(qs, "notices") {
		insp.DeleteAllCompletedTasks("notices")
		insp.DeleteQueue("notices", true)
	}
	sink := newMailSink(t)
	type lib struct {
		id    uuid.UUID
		tz    string
		due   string // local due date of its overdue loan
		email string
		title string
	}
	libs := []*lib{{tz: "America/Los_Angeles", due: "2026-11-26", email: "la@example.org", title: "Middlemarch"},
		{tz: "Pacific/Auckland", due: "2026-11-27", email: "akl@example.org", title: "The Bone People"}}
	for _, l := range libs {
		l.id = env.Signup(t, "tz").Tenant.ID
		err := env.Pool.Tx(context.Background(), l.id, func(ctx context.Context, tx *gorm.DB) error {
			loc, _ := time.LoadLocation(l.tz)
			d, _ := time.ParseInLocation(time.DateOnly, l.due, loc)
			return tx.Exec(`WITH tz AS (UPDATE tenants SET timezone = ? WHERE id = app.current_tenant_id()),
  br AS (SELECT id FROM branches WHERE kind = 'branch' LIMIT 1),
  b AS (INSERT INTO bibs (tenant_id, id, marc, title, title_sort, format, match_key)
    VALUES (app.current_tenant_id(), gen_random_uuid(), '{}', ?, 'title', 'book', 'mm') RETURNING id),
  i AS (INSERT INTO items (tenant_id, id, bib_id, barcode, branch_id, status)
    SELECT app.current_tenant_id(), gen_random_uuid(), b.id, 'MM1', br.id, 'checked_out' FROM b, br RETURNING id, bib_id),
  p AS (INSERT INTO patrons (tenant_id, id, card_number, first_name, last_name, email, home_branch_id, category, expires_on)
    SELECT app.current_tenant_id(), gen_random_uuid(), 'T1', 'Mary', 'Evans', ?, br.id, 'adult', '2099-12-31' FROM br RETURNING id)
INSERT INTO loans (tenant_id, id, item_id, patron_id, patron_category, item_type, bib_id, branch_id, checked_out_at, due_at, renewals_allowed)
SELECT app.current_tenant_id(), gen_random_uuid(), i.id, p.id, 'adult', 'book', i.bib_id, br.id, ?, ?, 0 FROM i, p, br`,
				l.tz, l.title, l.email, d.AddDate(0, 0, -21), d.Add(24*time.Hour-time.Second)).Error
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	mailer, err := notices.NewSMTP("smtp://"+sink.Addr(), "library@stacks.test")
	if err != nil {
		t.Fatal(err)
	}
	client := workers.NewClient(ropt)
	defer client.Close()
	log := slog.New(slog.DiscardHandler)
	nots := notices.NewService(env.Pool, client, mailer, log)
	var clock atomic.Int64
	wk := workers.New(ropt, env.Tenants, catalog.NewService(env.Tenants), log, workers.Options{Concurrency: 4,
		Now: func() time.Time { return time.Unix(clock.Load(), 0) }, CheckInterval: 50 * time.Millisecond}).SetNotices(nots)
	if err := wk.Start(); err != nil {
		t.Fatal(err)
	}
	defer wk.Shutdown()
	raw := asynq.NewClient(ropt)
	defer raw.Close()
	fanOut := func(at time.Time) {
		t.Helper()
		clock.Store(at.Unix())
		info, err := raw.Enqueue(asynq.NewTask(workers.TypeNoticesDaily, nil), asynq.Queue("notices"), asynq.Retention(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the fan-out", func() bool {
			ti, err := insp.GetTaskInfo("notices", info.ID)
			return err == nil && ti.State == asynq.TaskStateCompleted
		})
	}
	mailsTo := func(addr string) int {
		n := 0
		for _, m := range sink.Mails() {
			if len(m.To) == 1 && m.To[0] == addr {
				n++
			}
		}
		return n
	}
	// 16:30 UTC: 08:30 in Los Angeles (27 Nov), 05:30 in Auckland (28 Nov).
	fanOut(time.Date(2026, 11, 27, 16, 30, 0, 0, time.UTC))
	waitFor(t, "Los Angeles's overdue notice", func() bool { return mailsTo("la@example.org") == 1 })
	if mailsTo("akl@example.org") != 0 {
		t.Fatal("Auckland's notice went out at 05:30 local time")
	}
	// 19:30 UTC: 08:30 in Auckland; Los Angeles is done for the day.
	fanOut(time.Date(2026, 11, 27, 19, 30, 0, 0, time.UTC))
	waitFor(t, "Auckland's overdue notice", func() bool { return mailsTo("akl@example.org") == 1 })
	fanOut(time.Date(2026, 11, 27, 19, 45, 0, 0, time.UTC))
	time.Sleep(300 * time.Millisecond)
	if got := len(sink.Mails()); got != 2 {
		t.Fatalf("%d mails after three fan-outs, want 2", got)
	}
	// Each library's mail names its own title and nothing of the other's.
	for _, m := range sink.Mails() {
		own, other := libs[0], libs[1]
		if m.To[0] == other.email {
			own, other = other, own
		}
		if !strings.Contains(m.Data, own.title+" (MM1), due") || !strings.Contains(m.Data, "overdue") || strings.Contains(m.Data, other.title) {
			t.Fatalf("overdue mail to %s:\n%s", m.To[0], m.Data)
		}
	}
}

// A library over its sending limit: the extra notices wait for the next
// window instead of failing, and none uses up a retry.
func TestNotices_RateLimitedPerLibrary(t *testing.T) {
	sink := newMailSink(t)
	w := newNoticeWorld(t, sink, "first@example.org")
	w.nots.SetRateLimit(w.env.Counter, 2, time.Second)
	var ids []uuid.UUID
	w.tx(t, func(ctx context.Context) error {
		db, _ := tenants.DB(ctx)
		for i := 0; i < 5; i++ {
			var p struct{ ID uuid.UUID }
			if err := db.Raw(`INSERT INTO patrons (tenant_id, id, card_number, last_name, email, home_branch_id, category, expires_on)
  VALUES (app.current_tenant_id(), gen_random_uuid(), ?, 'Many', ?, ?, 'adult', '2099-12-31') RETURNING id`,
				fmt.Sprintf("RL%d", i), fmt.Sprintf("rl%d@example.org", i), w.branch).Scan(&p).Error; err != nil {
				return err
			}
			n, err := w.nots.Queue(ctx, notices.Draft{PatronID: p.ID, Kind: notices.KindHoldAvailable, DedupeKey: "rl",
				To: fmt.Sprintf("rl%d@example.org", i), Data: notices.Data{Library: "L", Hold: &notices.HoldData{Title: "T"}}})
			if err != nil {
				return err
			}
			ids = append(ids, n.ID)
		}
		return nil
	})
	start := time.Now()
	waitFor(t, "all five mails", func() bool { return len(sink.Mails()) == 5 })
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Fatalf("5 mails at 2 per second took %s: the limit did not hold", took)
	}
	allSent(t, w, ids, 1)
}

// allSent waits until every notice is marked sent (the mail reaches the
// server a moment before the worker records it) and, when attempts > 0,
// checks each took that many attempts.
func allSent(t *testing.T, w *noticeWorld, ids []uuid.UUID, attempts int) {
	t.Helper()
	var last []notices.Notice
	waitFor(t, "every notice marked sent", func() bool {
		last = last[:0]
		w.tx(t, func(ctx context.Context) error {
			for _, id := range ids {
				n, err := w.nots.Get(ctx, id)
				if err != nil {
					return err
				}
				last = append(last, *n)
			}
			return nil
		})
		for _, n := range last {
			if n.Status != notices.StatusSent {
				return false
			}
		}
		return true
	})
	for _, n := range last {
		if attempts > 0 && n.Attempts != attempts {
			t.Errorf("notice %s: sent after %d attempts, want %d", n.ID, n.Attempts, attempts)
		}
	}
}

// A worker stopped in the middle of sending (before the SMTP server took
// the messages) and a new one started: every notice goes out exactly once.
func TestNotices_WorkerStoppedMidBatch(t *testing.T) {
	sink := newMailSink(t)
	w := newNoticeWorld(t, sink, "first@example.org")
	sink.Delay = 150 * time.Millisecond
	const n = 20
	var ids []uuid.UUID
	w.tx(t, func(ctx context.Context) error {
		db, _ := tenants.DB(ctx)
		for i := 0; i < n; i++ {
			var p struct{ ID uuid.UUID }
			if err := db.Raw(`INSERT INTO patrons (tenant_id, id, card_number, last_name, email, home_branch_id, category, expires_on)
  VALUES (app.current_tenant_id(), gen_random_uuid(), ?, 'Batch', ?, ?, 'adult', '2099-12-31') RETURNING id`,
				fmt.Sprintf("MB%d", i), fmt.Sprintf("mb%d@example.org", i), w.branch).Scan(&p).Error; err != nil {
				return err
			}
			nt, err := w.nots.Queue(ctx, notices.Draft{PatronID: p.ID, Kind: notices.KindHoldAvailable, DedupeKey: "mb",
				To: fmt.Sprintf("mb%d@example.org", i), Data: notices.Data{Library: "L", Hold: &notices.HoldData{Title: "T"}}})
			if err != nil {
				return err
			}
			ids = append(ids, nt.ID)
		}
		return nil
	})
	// The world's worker has started sending; stop it abruptly (its
	// deliveries in flight are cut off mid-conversation and go back to the
	// queue), then start another.
	waitFor(t, "the first mails", func() bool { return len(sink.Mails()) >= 2 })
	w.stopWorker()
	ropt := redisOpt(t)
	wk := workers.New(ropt, w.env.Tenants, catalog.NewService(w.env.Tenants), slog.New(slog.DiscardHandler),
		workers.Options{Concurrency: 4, CheckInterval: 50 * time.Millisecond}).SetNotices(w.nots)
	if err := wk.Start(); err != nil {
		t.Fatal(err)
	}
	defer wk.Shutdown()
	waitFor(t, "every notice", func() bool { return len(sink.Mails()) >= n })
	time.Sleep(300 * time.Millisecond) // room for a duplicate to show up
	per := map[string]int{}
	for _, m := range sink.Mails() {
		per[m.To[0]]++
	}
	for i := 0; i < n; i++ {
		if c := per[fmt.Sprintf("mb%d@example.org", i)]; c != 1 {
			t.Errorf("mb%d got %d mails, want 1", i, c)
		}
	}
	allSent(t, w, ids, 0)
}
