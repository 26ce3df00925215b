package workers_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/quotedprintable"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/acquisitions"
	"github.com/stacks-ils/stacks/api/catalog"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/api/notices/devmail"
	"github.com/stacks-ils/stacks/api/serials"
	"github.com/stacks-ils/stacks/tenants"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
	"github.com/stacks-ils/stacks/workers"
)

// serialsRedis is the serials tests' own Redis database (13), emptied of
// the queues they count.
func serialsRedis(t *testing.T) asynq.RedisClientOpt {
	t.Helper()
	o := redisOpt(t)
	o.DB = 13
	insp := asynq.NewInspector(o)
	defer insp.Close()
	qs, _ := insp.Queues()
	for _, q := range qs {
		if err := insp.DeleteQueue(q, true); err != nil {
			t.Fatalf("clear queue %s: %v", q, err)
		}
	}
	return o
}

// mailText decodes a message's quoted-printable lines so tests can look for
// whole sentences.
func mailText(m devmail.Mail) string {
	b, _ := io.ReadAll(quotedprintable.NewReader(strings.NewReader(m.Data)))
	return string(b)
}

type claimWorld struct {
	env    *tenanttest.Env
	tenant uuid.UUID
	ser    *serials.Service
	client *workers.Client
	insp   *asynq.Inspector
	sink   *devmail.Sink
	now    atomic.Pointer[time.Time]
}

func (w *claimWorld) tx(t *testing.T, fn func(ctx context.Context) error) {
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

// run starts the library's claim run for day through the queue (the path
// of the scheduler and of POST /serials/claims/run) and waits for the task
// to finish and for mails more mails to arrive in total.
func (w *claimWorld) run(t *testing.T, day string, mails int) {
	t.Helper()
	d, _ := time.Parse(time.DateOnly, day)
	at := d.Add(18 * time.Hour) // noon in Chicago
	w.now.Store(&at)
	if err := w.client.EnqueueSerialClaims(context.Background(), w.tenant, day); err != nil {
		t.Fatal(err)
	}
	id := serials.ClaimTaskID(w.tenant, day)
	waitFor(t, "claim run "+day, func() bool {
		info, err := w.insp.GetTaskInfo("maintenance", id)
		return err == nil && info.State == asynq.TaskStateCompleted
	})
	waitFor(t, "the claim mails", func() bool { return len(w.sink.Mails()) >= mails })
	time.Sleep(100 * time.Millisecond) // and no more than that
	if n := len(w.sink.Mails()); n != mails {
		t.Fatalf("after the run of %s: %d mails, want %d", day, n, mails)
	}
}

// status returns issue's status and claims.
func (w *claimWorld) status(t *testing.T, issue uuid.UUID) (string, int) {
	t.Helper()
	var iss *serials.Issue
	w.tx(t, func(ctx context.Context) error {
		var err error
		iss, err = w.ser.GetIssue(ctx, issue)
		return err
	})
	return iss.Status, iss.Claims
}

// newClaimWorld is a library with the services wired as in `stacks serve`
// + `worker`, its mail going to sink, the serials clock at Dec 31, 2026.
func newClaimWorld(t *testing.T, sink *devmail.Sink) (*claimWorld, *catalog.Service, *acquisitions.Service) {
	t.Helper()
	env := tenanttest.Get(t)
	ropt := serialsRedis(t)
	res := env.Signup(t, "claims")
	w := &claimWorld{env: env, tenant: res.Tenant.ID, sink: sink, insp: asynq.NewInspector(ropt)}
	t.Cleanup(func() { w.insp.Close() })
	start := time.Date(2026, 12, 31, 18, 0, 0, 0, time.UTC)
	w.now.Store(&start)
	log := slog.New(slog.DiscardHandler)
	w.client = workers.NewClient(ropt)
	t.Cleanup(func() { w.client.Close() })
	mailer, err := notices.NewSMTP("smtp://"+sink.Addr(), "Stacks Library <library@stacks.test>")
	if err != nil {
		t.Fatal(err)
	}
	nots := notices.NewService(env.Pool, w.client, mailer, log)
	cat := catalog.NewService(env.Tenants)
	acq := acquisitions.NewService(env.Tenants, cat)
	w.ser = serials.NewService(env.Tenants, cat, acq).SetMailer(nots).SetEnqueuer(w.client, log).
		SetClock(func() time.Time { return *w.now.Load() })
	wk := workers.New(ropt, env.Tenants, cat, log, workers.Options{Concurrency: 4, ShutdownTimeout: 20 * time.Millisecond,
		RetryDelay:    func(int, error, *asynq.Task) time.Duration { return 20 * time.Millisecond },
		CheckInterval: 50 * time.Millisecond}).SetNotices(nots).SetSerials(w.ser)
	if err := wk.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wk.Shutdown)

	return w, cat, acq
}

// The claim cycle of issue 9: expected → late → claimed → claimed again
// after the interval → missing after the last claim, with one mail per
// vendor per run received by a real SMTP server, nothing twice on re-runs,
// damaged issues claimed once for a replacement, an issue received after
// its claim claimed no more, and late issues without a vendor left late.
func TestSerialsClaimCycle(t *testing.T) {
	sink := newMailSink(t)
	w, cat, acq := newClaimWorld(t, sink)
	// Two vendors, four subscriptions (one without a vendor).
	first := map[string]uuid.UUID{} // subscription title -> its first issue
	issueAt := func(ctx context.Context, sub uuid.UUID, label string) uuid.UUID {
		l, _, err := w.ser.ListIssues(ctx, sub, serials.IssueFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, iss := range l {
			if iss.Label == label {
				return iss.ID
			}
		}
		t.Fatalf("no issue %s", label)
		return uuid.Nil
	}
	var weekly uuid.UUID
	var damaged, weekly3, weekly4 uuid.UUID
	w.tx(t, func(ctx context.Context) error {
		str := func(s string) *string { return &s }
		acct := json.RawMessage(`["LIB-778"]`)
		alpha, err := acq.CreateVendor(ctx, acquisitions.VendorInput{Code: str("ALPHA"), Name: str("Alpha Subscriptions"),
			Email: str("claims@alpha.example"), Currency: str("USD"), AccountNumbers: &acct})
		if err != nil {
			return err
		}
		beta, err := acq.CreateVendor(ctx, acquisitions.VendorInput{Code: str("BETA"), Name: str("Beta Periodicals"),
			Email: str("service@beta.example"), Currency: str("USD")})
		if err != nil {
			return err
		}
		ten, two := 10, 2
		if _, err := w.ser.UpdateSettings(ctx, serials.SettingsInput{ClaimIntervalDays: &ten, MaxClaims: &two}); err != nil {
			return err
		}
		var row struct{ ID uuid.UUID }
		if err := db(ctx).Raw(`SELECT id FROM branches WHERE kind = 'branch' LIMIT 1`).Scan(&row).Error; err != nil {
			return err
		}
		branch := row.ID
		for _, s := range []struct {
			title, pattern, firstOn string
			enum                    []int
			grace                   int
			vendor                  *uuid.UUID
		}{
			{"Alpha Monthly", "monthly-journal", "2027-01-05", []int{5, 1}, 10, &alpha.ID},
			{"Alpha Weekly", "weekly-magazine", "2027-01-07", []int{20, 1}, 7, &alpha.ID},
			{"Beta Quarterly", "quarterly", "2027-01-10", []int{3, 1}, 5, &beta.ID},
			{"Orphan Annual", "annual", "2027-01-02", []int{1}, 3, nil},
			// Entered on Dec 31 from a first issue in June: a backfile, never claimed.
			{"Backfile Monthly", "monthly-journal", "2026-06-05", []int{1, 1}, 10, &alpha.ID},
		} {
			rec, err := catalog.BibForm{Title: s.title, Format: catalog.FormatSerial}.Build(time.Now())
			if err != nil {
				return err
			}
			saved, err := cat.SaveRecord(ctx, rec, catalog.DupSkip)
			if err != nil {
				return err
			}
			bib := saved.Bib
			starts, ends := "2027-01-01", "2027-12-31"
			if s.title == "Backfile Monthly" {
				starts, ends = "2026-06-01", "2026-12-31"
			}
			in := serials.SubscriptionInput{BibID: &bib.ID, BranchID: &branch, StartsOn: &starts, EndsOn: &ends,
				PatternID: str(s.pattern), FirstIssue: &serials.FirstIssueInput{ExpectedOn: s.firstOn, Enumeration: s.enum}, GraceDays: &s.grace}
			if s.vendor != nil {
				in.VendorID.Set, in.VendorID.V = true, *s.vendor
			}
			sub, err := w.ser.Create(ctx, in)
			if err != nil {
				return err
			}
			l, _, err := w.ser.ListIssues(ctx, sub.ID, serials.IssueFilter{Limit: 1})
			if err != nil {
				return err
			}
			first[s.title] = l[0].ID
			if s.title == "Alpha Weekly" {
				weekly = sub.ID
			}
		}
		damaged = issueAt(ctx, weekly, "v.20 no.2 (Jan. 14, 2027)")
		weekly3 = issueAt(ctx, weekly, "v.20 no.3 (Jan. 21, 2027)")
		weekly4 = issueAt(ctx, weekly, "v.20 no.4 (Jan. 28, 2027)")
		return nil
	})

	// Jan 12: only the annual without a vendor is past its grace: late, unclaimed.
	w.run(t, "2027-01-12", 0)
	for title, want := range map[string]string{"Alpha Monthly": "expected", "Orphan Annual": "late"} {
		if st, _ := w.status(t, first[title]); st != want {
			t.Fatalf("%s on Jan 12: %s, want %s", title, st, want)
		}
	}

	// The Jan 14 weekly came with water damage.
	w.tx(t, func(ctx context.Context) error {
		_, err := w.ser.MarkDamaged(ctx, damaged, serials.NoteInput{Note: "water damage"})
		return err
	})
	// Jan 16: three issues are late; Alpha gets one mail for its two late
	// issues and the damaged one, Beta one mail.
	w.run(t, "2027-01-16", 2)
	byTo := map[string]string{}
	for _, m := range sink.Mails() {
		byTo[m.To[0]] = mailText(m)
	}
	a, b := byTo["claims@alpha.example"], byTo["service@beta.example"]
	for _, want := range []string{"Claim for 3 serial issues from Library", "our account number with you: LIB-778",
		"Alpha Monthly: v.5 no.1 (Jan. 2027), expected 2027-01-05, claim 1",
		"Alpha Weekly: v.20 no.1 (Jan. 7, 2027), expected 2027-01-07, claim 1",
		"Alpha Weekly: v.20 no.2 (Jan. 14, 2027), received damaged (water damage): replacement requested, claim 1"} {
		if !strings.Contains(a, want) {
			t.Fatalf("Alpha's claim lacks %q:\n%s", want, a)
		}
	}
	if !strings.Contains(b, "Beta Quarterly: v.3 no.1 (Winter 2027), expected 2027-01-10, claim 1") || strings.Contains(b, "Alpha") || strings.Contains(a, "Beta") {
		t.Fatalf("Beta's claim:\n%s", b)
	}
	for title, want := range map[string]string{"Alpha Monthly": "claimed", "Alpha Weekly": "claimed", "Beta Quarterly": "claimed", "Orphan Annual": "late"} {
		if st, _ := w.status(t, first[title]); st != want {
			t.Fatalf("%s on Jan 16: %s, want %s", title, st, want)
		}
	}
	if st, n := w.status(t, damaged); st != "damaged" || n != 1 {
		t.Fatalf("damaged issue: %s with %d claims", st, n)
	}
	// Running Jan 16 again, in the service directly: nothing to claim, no mail.
	w.tx(t, func(ctx context.Context) error {
		r, err := w.ser.RunClaims(ctx, "2027-01-16")
		if err == nil && (r.Claimed != 0 || r.ClaimMails != 0 || r.Late != 0) {
			t.Errorf("re-run claimed again: %+v", r)
		}
		return err
	})
	// The same day's task again: the task id is taken, it does not run twice.
	if err := w.client.EnqueueSerialClaims(context.Background(), w.tenant, "2027-01-16"); err != nil {
		t.Fatal(err)
	}

	// Beta's issue arrives after its claim.
	w.tx(t, func(ctx context.Context) error {
		_, err := w.ser.Receive(ctx, first["Beta Quarterly"], serials.ReceiveInput{})
		return err
	})
	// Jan 22: the claims are 6 days old, the interval is 10: nothing.
	w.run(t, "2027-01-22", 2)
	// Jan 26: Alpha's two late issues are claimed again; the damaged one
	// (claimed once) and Beta's received one are not.
	w.run(t, "2027-01-26", 3)
	last := mailText(sink.Mails()[2])
	if sink.Mails()[2].To[0] != "claims@alpha.example" || !strings.Contains(last, "Claim for 2 serial issues") ||
		!strings.Contains(last, "v.5 no.1 (Jan. 2027), expected 2027-01-05, claim 2") || !strings.Contains(last, "v.20 no.1 (Jan. 7, 2027), expected 2027-01-07, claim 2") {
		t.Fatalf("second claim:\n%s", last)
	}
	// Feb 5: two claims and another interval without the issues: missing.
	// Two more weeklies are late: claimed in one mail.
	w.run(t, "2027-02-05", 4)
	last = mailText(sink.Mails()[3])
	if !strings.Contains(last, "v.20 no.3 (Jan. 21, 2027), expected 2027-01-21, claim 1") || !strings.Contains(last, "v.20 no.4 (Jan. 28, 2027), expected 2027-01-28, claim 1") ||
		strings.Contains(last, "v.5 no.1") {
		t.Fatalf("third Alpha claim:\n%s", last)
	}
	for _, c := range []struct {
		issue  uuid.UUID
		status string
		claims int
	}{
		{first["Alpha Monthly"], "missing", 2}, {first["Alpha Weekly"], "missing", 2}, {damaged, "damaged", 1},
		{first["Beta Quarterly"], "received", 1}, {first["Orphan Annual"], "late", 0}, {weekly3, "claimed", 1}, {weekly4, "claimed", 1},
		{first["Backfile Monthly"], "expected", 0},
	} {
		if st, n := w.status(t, c.issue); st != c.status || n != c.claims {
			t.Errorf("issue %s: %s with %d claims, want %s with %d", c.issue, st, n, c.status, c.claims)
		}
	}
	var claims int64
	w.tx(t, func(ctx context.Context) error {
		return db(ctx).Raw(`SELECT count(*) FROM serial_claims`).Scan(&claims).Error
	})
	if claims != 8 {
		t.Fatalf("%d claims recorded, want 8 (4 + 2 + 2)", claims)
	}
	// Every mail was sent exactly once and is in the outbox as sent.
	var sent int64
	w.tx(t, func(ctx context.Context) error {
		return db(ctx).Raw(`SELECT count(*) FROM notices WHERE kind = 'serial_claim' AND status = 'sent'`).Scan(&sent).Error
	})
	if sent != 4 {
		t.Fatalf("%d claim notices sent, want 4", sent)
	}
}

func db(ctx context.Context) *gorm.DB {
	d, err := tenants.DB(ctx)
	if err != nil {
		panic(err)
	}
	return d
}

// subscribe creates a subscription to a new serial record named title.
func (w *claimWorld) subscribe(t *testing.T, ctx context.Context, cat *catalog.Service, in serials.SubscriptionInput, title string) *serials.Subscription {
	t.Helper()
	rec, err := catalog.BibForm{Title: title, Format: catalog.FormatSerial}.Build(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	saved, err := cat.SaveRecord(ctx, rec, catalog.DupSkip)
	if err != nil {
		t.Fatal(err)
	}
	var row struct{ ID uuid.UUID }
	if err := db(ctx).Raw(`SELECT id FROM branches WHERE kind = 'branch' LIMIT 1`).Scan(&row).Error; err != nil {
		t.Fatal(err)
	}
	in.BibID, in.BranchID = &saved.Bib.ID, &row.ID
	sub, err := w.ser.Create(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// Subscriptions entering their renewal window reach the serials staff as
// one digest per run (only those newly due), expire after their end, and
// renew into a new period.
func TestSerialsRenewalDigest(t *testing.T) {
	sink := newMailSink(t)
	w, cat, _ := newClaimWorld(t, sink)
	str := func(s string) *string { return &s }
	subs := map[string]*serials.Subscription{}
	w.tx(t, func(ctx context.Context) error {
		thirty := 30
		if _, err := w.ser.UpdateSettings(ctx, serials.SettingsInput{RenewalNoticeDays: &thirty, StaffEmail: str("serials@library.example")}); err != nil {
			return err
		}
		for _, s := range []struct{ title, pattern, first, ends, renewal string }{
			{"Over Quarterly", "quarterly", "2027-01-10", "2027-01-20", ""},
			{"Soon Weekly", "weekly-magazine", "2027-01-07", "2027-03-31", "2027-02-10"},
			{"Later Monthly", "monthly-journal", "2027-01-05", "2027-12-31", "2027-06-01"},
		} {
			in := serials.SubscriptionInput{StartsOn: str("2027-01-01"), EndsOn: str(s.ends), PatternID: str(s.pattern),
				FirstIssue: &serials.FirstIssueInput{ExpectedOn: s.first, Enumeration: []int{1, 1}}}
			if s.renewal != "" {
				in.RenewalOn.Set, in.RenewalOn.V = true, s.renewal
			}
			subs[s.title] = w.subscribe(t, ctx, cat, in, s.title)
		}
		return nil
	})
	status := func(title string) string {
		var sub *serials.Subscription
		w.tx(t, func(ctx context.Context) error {
			var err error
			sub, err = w.ser.Get(ctx, subs[title].ID)
			return err
		})
		return sub.Status
	}
	// Jan 5: the quarterly ends within 30 days (no renewal date: its end counts).
	w.run(t, "2027-01-05", 1)
	m := sink.Mails()[0]
	txt := mailText(m)
	if m.To[0] != "serials@library.example" || !strings.Contains(txt, "1 subscription(s) of Library") ||
		!strings.Contains(txt, "- Over Quarterly: renew by 2027-01-20 (ends 2027-01-20)") || strings.Contains(txt, "Weekly") {
		t.Fatalf("first digest to %v:\n%s", m.To, txt)
	}
	// Jan 15: the weekly's renewal date is within 30 days; the quarterly was
	// already announced.
	w.run(t, "2027-01-15", 2)
	txt = mailText(sink.Mails()[1])
	if !strings.Contains(txt, "- Soon Weekly: renew by 2027-02-10 (ends 2027-03-31)") || strings.Contains(txt, "Quarterly") {
		t.Fatalf("second digest:\n%s", txt)
	}
	// Jan 21: the quarterly ended; nothing new to announce.
	w.run(t, "2027-01-21", 2)
	for title, want := range map[string]string{"Over Quarterly": "expired", "Soon Weekly": "expiring", "Later Monthly": "active"} {
		if got := status(title); got != want {
			t.Errorf("%s: %s, want %s", title, got, want)
		}
	}
	var list []serials.RenewalView
	w.tx(t, func(ctx context.Context) error {
		var err error
		list, err = w.ser.Renewals(ctx, 0)
		return err
	})
	if len(list) != 1 || list[0].Title != "Soon Weekly" || list[0].DaysLeft != 20 {
		t.Fatalf("renewal list on Jan 21: %+v", list)
	}
	w.tx(t, func(ctx context.Context) error {
		sub, err := w.ser.Renew(ctx, subs["Soon Weekly"].ID, serials.RenewInput{})
		if err == nil && (sub.Status != "active" || sub.StartsOn != "2027-04-01" || sub.EndsOn != "2028-03-31" || *sub.RenewalOn != "2028-02-10") {
			t.Errorf("renewed: %+v", sub)
		}
		return err
	})
	if got := status("Soon Weekly"); got != "active" {
		t.Fatalf("after renewal: %s", got)
	}
}
