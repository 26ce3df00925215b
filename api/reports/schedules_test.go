package reports

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/tenants"
)

// as runs fn in the world's tenant transaction as its owner.
func (w *world) as(t *testing.T, fn func(ctx context.Context) error) error {
	t.Helper()
	var owner uuid.UUID
	w.tx(t, func(tx *gorm.DB) { tx.Raw("SELECT id FROM staff_users LIMIT 1").Row().Scan(&owner) })
	return w.env.Pool.Tx(context.Background(), w.tenant, func(ctx context.Context, tx *gorm.DB) error {
		p, err := tenants.PrincipalForUser(ctx, owner)
		if err != nil {
			return err
		}
		return fn(tenants.WithPrincipal(ctx, p))
	})
}

func ptrTo[T any](v T) *T { return &v }

func TestSchedules_Validation(t *testing.T) {
	w := newWorld(t)
	base := func() ScheduleInput {
		return ScheduleInput{Report: ptrTo("circulation_activity"), Frequency: ptrTo("monthly"), Params: ParamMap{"period": "last_month"}}
	}
	cases := []struct {
		name string
		mod  func(*ScheduleInput)
		code string
	}{
		{"unknown report", func(in *ScheduleInput) { in.Report = ptrTo("budget") }, "unknown_report"},
		{"frequency", func(in *ScheduleInput) { in.Frequency = ptrTo("hourly") }, "invalid_frequency"},
		{"bad cron", func(in *ScheduleInput) { in.Frequency = ptrTo("0 7 * * mondays") }, "invalid_frequency"},
		{"cron every minute", func(in *ScheduleInput) { in.Frequency = ptrTo("* 7 * * *") }, "invalid_frequency"},
		{"cron descriptor", func(in *ScheduleInput) { in.Frequency = ptrTo("@every 1h") }, "invalid_frequency"},
		{"hour", func(in *ScheduleInput) { in.Hour = ptrTo(24) }, "invalid_hour"},
		{"format", func(in *ScheduleInput) { in.Format = ptrTo("xlsx") }, "invalid_format"},
		{"list has no chart", func(in *ScheduleInput) { in.Report, in.Format, in.Params = ptrTo("overdues"), ptrTo("svg"), ParamMap{} }, "no_chart"},
		{"bad email", func(in *ScheduleInput) { in.Recipients = &[]string{"head@library.org", "nobody"} }, "invalid_email"},
		{"bad params", func(in *ScheduleInput) { in.Params = ParamMap{"period": "last_century"} }, "bad_query"},
		{"fixed from", func(in *ScheduleInput) { in.Params = ParamMap{"from": "2026-01-01"} }, "fixed_range"},
	}
	for _, c := range cases {
		in := base()
		c.mod(&in)
		err := w.as(t, func(ctx context.Context) error { _, err := w.svc.CreateSchedule(ctx, in); return err })
		if e := errs.As(err); e == nil || e.Code != c.code || e.Kind != errs.Invalid {
			t.Errorf("%s: %v, want 422 %s", c.name, err, c.code)
		}
	}
	// A cron expression is a frequency too (the table's check accepts it).
	err := w.as(t, func(ctx context.Context) error {
		in := base()
		in.Frequency = ptrTo("30 7 * * 1-5")
		sc, err := w.svc.CreateSchedule(ctx, in)
		if err == nil && sc.Frequency != "30 7 * * 1-5" {
			t.Errorf("cron schedule %+v", sc)
		}
		if err == nil {
			err = w.svc.DeleteSchedule(ctx, sc.ID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// A good one, changed, paused, resumed and deleted.
	var id uuid.UUID
	err = w.as(t, func(ctx context.Context) error {
		in := base()
		in.Recipients = &[]string{" Head@Library.org "}
		sc, err := w.svc.CreateSchedule(ctx, in)
		if err != nil {
			return err
		}
		id = sc.ID
		if sc.Hour != 7 || sc.Format != "csv" || sc.Status != "active" || sc.Recipients[0] != "head@library.org" || sc.Params["period"] != "last_month" {
			t.Errorf("created %+v", sc)
		}
		sc, err = w.svc.UpdateSchedule(ctx, id, ScheduleInput{Hour: ptrTo(6), Format: ptrTo("svg")})
		if err != nil || sc.Hour != 6 || sc.Format != "svg" || sc.Frequency != "monthly" {
			t.Errorf("updated %+v %v", sc, err)
		}
		if sc, err = w.svc.setStatus(ctx, id, "paused"); err != nil || sc.Status != "paused" {
			t.Errorf("paused %+v %v", sc, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Paused: never due.
	w.as(t, func(ctx context.Context) error {
		due, err := w.svc.DueSchedules(ctx, time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC))
		if err != nil || len(due) != 0 {
			t.Errorf("paused schedule due: %v %v", due, err)
		}
		return w.svc.DeleteSchedule(ctx, id)
	})
	err = w.as(t, func(ctx context.Context) error { _, err := w.svc.GetSchedule(ctx, id); return err })
	if errs.KindOf(err) != errs.NotFound {
		t.Errorf("deleted schedule: %v", err)
	}
}

func TestPeriodKeys(t *testing.T) {
	loc, _ := time.LoadLocation("America/Chicago")
	at := func(s string) time.Time {
		v, _ := time.ParseInLocation("2006-01-02 15:04", s, loc)
		return v
	}
	cases := []struct {
		freq  string
		hour  int
		local string
		key   string
		due   bool
	}{
		{"daily", 7, "2026-02-18 06:59", "2026-02-18", false},
		{"daily", 7, "2026-02-18 07:00", "2026-02-18", true},
		{"weekly", 7, "2026-02-16 06:00", "2026-W08", false}, // Monday, before the hour
		{"weekly", 7, "2026-02-16 07:15", "2026-W08", true},
		{"weekly", 7, "2026-02-18 01:00", "2026-W08", true}, // later in the week: catches up
		{"weekly", 0, "2027-01-01 00:00", "2026-W53", true}, // ISO week of the old year
		{"monthly", 6, "2026-03-01 05:00", "2026-03", false},
		{"monthly", 6, "2026-03-01 06:00", "2026-03", true},
		{"monthly", 6, "2026-03-17 00:00", "2026-03", true},
		// Cron, local time: weekday mornings at 07:30.
		{"30 7 * * 1-5", 0, "2026-02-16 07:29", "", false}, // Monday before 07:30: Friday's tick is beyond the day's lookback
		{"30 7 * * 1-5", 0, "2026-02-17 07:29", "2026-02-16T07:30", true},
		{"30 7 * * 1-5", 0, "2026-02-17 07:30", "2026-02-17T07:30", true},
		{"0 9,17 * * *", 0, "2026-02-17 16:59", "2026-02-17T09:00", true},
		{"0 9,17 * * *", 0, "2026-02-17 17:00", "2026-02-17T17:00", true},
		{"0 6 1 * *", 0, "2026-03-01 05:59", "", false}, // last tick a month ago: beyond the lookback
		// 02:00 does not exist on the day DST starts: the cron library skips
		// the tick (README: keep cron reports out of 02:00-03:00).
		{"0 2 * * *", 0, "2026-03-08 03:30", "", false},
		{"0 2 * * *", 0, "2026-03-09 02:00", "2026-03-09T02:00", true},
	}
	for _, c := range cases {
		key, due := Period(&Schedule{Frequency: c.freq, Hour: c.hour}, at(c.local))
		if key != c.key || due != c.due {
			t.Errorf("%s %02d:00 at %s: %s %v, want %s %v", c.freq, c.hour, c.local, key, due, c.key, c.due)
		}
	}
}

// A scheduled run is due once per period, builds the report as its owner
// with the period resolved on the run's day, and stores the file.
func TestScheduledRun_BuildsAndStoresOncePerPeriod(t *testing.T) {
	w := newWorld(t)
	// March 2, 2026, 08:00 in Chicago: February is last month.
	w.svc.SetClock(func() time.Time { return time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC) })
	var sid uuid.UUID
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.as(t, func(ctx context.Context) error {
		sc, err := w.svc.CreateSchedule(ctx, ScheduleInput{Name: ptrTo("Monthly by branch"), Report: ptrTo("circulation_activity"),
			Frequency: ptrTo("monthly"), Hour: ptrTo(7), Params: ParamMap{"period": "last_month", "group_by": "branch"}})
		if err != nil {
			return err
		}
		sid = sc.ID
		// Not yet due at 06:00 on the 1st; due at 08:00 on the 2nd.
		if due, _ := w.svc.DueSchedules(ctx, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)); len(due) != 0 {
			t.Errorf("due before the hour: %v", due)
		}
		due, err := w.svc.DueSchedules(ctx, w.svc.now())
		if err != nil || len(due) != 1 || due[0].Period != "2026-03" {
			t.Fatalf("due %v %v", due, err)
		}
		return nil
	}))
	var runID uuid.UUID
	for range 2 { // a retry or a second scheduler: the same run
		must(w.as(t, func(ctx context.Context) error {
			id, done, err := w.svc.StartScheduledRun(ctx, sid, "2026-03")
			if runID != uuid.Nil && (id != runID || !done) {
				t.Errorf("second start: %s done=%v, want %s done", id, done, runID)
			}
			runID = id
			if err != nil || done {
				return err
			}
			return w.svc.BuildRun(ctx, id)
		}))
	}
	must(w.as(t, func(ctx context.Context) error {
		run, err := w.svc.GetRun(ctx, runID)
		if err != nil {
			return err
		}
		if run.Status != "completed" || run.Attempts != 1 || run.RowCount != 3 || run.Filename != "circulation_activity_2026-02-01_2026-02-28.csv" ||
			run.SizeBytes == 0 || run.DurationMs == nil {
			t.Errorf("run %+v", run)
		}
		f, err := w.svc.File(ctx, runID)
		if err != nil {
			return err
		}
		recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(f.Data, []byte("\ufeff")))).ReadAll()
		if err != nil {
			return err
		}
		var got []string
		for _, r := range recs {
			got = append(got, r[1]+":"+r[3]+"/"+r[4]+"/"+r[5])
		}
		if strings.Join(got, " ") != "branch_code:checkouts/renewals/checkins L1A:2/1/0 L1B:1/0/2 L2A:1/0/0" {
			t.Errorf("file %q", got)
		}
		// The period has its run: no longer due.
		if due, _ := w.svc.DueSchedules(ctx, w.svc.now()); len(due) != 0 {
			t.Errorf("due again: %v", due)
		}
		runs, err := w.svc.ListRuns(ctx, &sid, pageAll)
		if err != nil || len(runs) != 1 {
			t.Errorf("runs %v %v", runs, err)
		}
		return nil
	}))
	// Run now: another run, period manual:<id>, built in the request.
	must(w.as(t, func(ctx context.Context) error {
		run, err := w.svc.RunNow(ctx, sid)
		if err != nil {
			return err
		}
		if run.Status != "completed" || run.Period != "manual:"+run.ID.String() {
			t.Errorf("run now %+v", run)
		}
		return nil
	}))
	// A failure is recorded with a message a person can act on.
	must(w.as(t, func(ctx context.Context) error {
		return w.svc.FailRun(ctx, runID, ErrTooLarge, true) // a completed run keeps its status
	}))
	must(w.as(t, func(ctx context.Context) error {
		run, _ := w.svc.GetRun(ctx, runID)
		if run.Status != "completed" {
			t.Errorf("completed run changed to %s", run.Status)
		}
		id, _, err := w.svc.StartScheduledRun(ctx, sid, "2026-04")
		if err != nil {
			return err
		}
		if err := w.svc.FailRun(ctx, id, ErrTooLarge, true); err != nil {
			return err
		}
		run, _ = w.svc.GetRun(ctx, id)
		if run.Status != "failed" || !strings.Contains(run.Error, "narrow it") {
			t.Errorf("failed run %+v", run)
		}
		return nil
	}))
}

var pageAll = httpx.Page{Limit: 500}

// A built run goes to each recipient through the outbox once: attached
// when small, else as a signed link that expires.
func TestScheduledRun_MailsRecipients(t *testing.T) {
	w := newWorld(t)
	w.svc.SetNotices(notices.NewService(w.env.Pool, nil, nil, nil)).SetLinks("https://stacks.example.org/", []byte("link secret"))
	w.svc.SetClock(func() time.Time { return time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC) })
	var sid uuid.UUID
	mails := func() (n, atts int, text string) {
		w.tx(t, func(tx *gorm.DB) {
			tx.Raw("SELECT count(*) FROM notices WHERE kind = 'report'").Row().Scan(&n)
			tx.Raw("SELECT count(*) FROM notice_attachments").Row().Scan(&atts)
			tx.Raw("SELECT body_text FROM notices WHERE kind = 'report' ORDER BY created_at DESC, id DESC LIMIT 1").Row().Scan(&text)
		})
		return
	}
	err := w.as(t, func(ctx context.Context) error {
		sc, err := w.svc.CreateSchedule(ctx, ScheduleInput{Report: ptrTo("fines"), Frequency: ptrTo("monthly"),
			Params: ParamMap{"period": "last_month"}, Recipients: &[]string{"head@library.org", "board@library.org"}})
		if err != nil {
			return err
		}
		sid = sc.ID
		_, err = w.svc.RunNow(ctx, sid)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	n, atts, text := mails()
	if n != 2 || atts != 2 || !strings.Contains(text, "Fines and fees, 2026-02-01 to 2026-02-28") || !strings.Contains(text, "It is attached.") {
		t.Fatalf("%d mails, %d attachments: %q", n, atts, text)
	}
	// Over the attachment limit: a link, no attachment.
	w.svc.SetAttachLimit(10)
	var runID uuid.UUID
	if err := w.as(t, func(ctx context.Context) error {
		run, err := w.svc.RunNow(ctx, sid)
		runID = run.ID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	n, atts, text = mails()
	i := strings.Index(text, "https://stacks.example.org/api/v1/report-files/")
	if n != 4 || atts != 2 || i < 0 {
		t.Fatalf("%d mails, %d attachments: %q", n, atts, text)
	}
	token := strings.Fields(text[i+len("https://stacks.example.org/api/v1/report-files/"):])[0]
	tenant, run, ok := w.svc.verifyLink(token, w.svc.now())
	if !ok || tenant != w.tenant || run != runID {
		t.Errorf("link names %s %s %v", tenant, run, ok)
	}
	if _, _, ok := w.svc.verifyLink(token, w.svc.now().Add(LinkTTL+time.Minute)); ok {
		t.Error("an expired link still works")
	}
	if _, _, ok := w.svc.verifyLink(strings.Replace(token, ".", "x.", 1), w.svc.now()); ok {
		t.Error("a tampered link works")
	}
	other := NewService(w.env.Pool, nil).SetLinks("", []byte("another secret"))
	if _, _, ok := other.verifyLink(token, w.svc.now()); ok {
		t.Error("a link works under another secret")
	}
	// A final failure tells the owner.
	if err := w.as(t, func(ctx context.Context) error {
		id, _, err := w.svc.StartScheduledRun(ctx, sid, "2026-05")
		if err != nil {
			return err
		}
		return w.svc.FailRun(ctx, id, errs.E(errs.Invalid, "x", "params: branch gone"), true)
	}); err != nil {
		t.Fatal(err)
	}
	var failed string
	w.tx(t, func(tx *gorm.DB) {
		tx.Raw("SELECT body_text FROM notices WHERE kind = 'report_failed'").Row().Scan(&failed)
	})
	if !strings.Contains(failed, "params: branch gone") {
		t.Errorf("owner's failure mail: %q", failed)
	}
}

// PDF: the chart on the first page for reports that have one, then the
// rows as a table, RowsPerPDFPage a page, the header repeated.
func TestPDF_Pages(t *testing.T) {
	pageRe := regexp.MustCompile(`/Type /Page\b[^s]`)
	for _, c := range []struct {
		report string
		rows   int
		pages  int
	}{
		{"items_by_status", 3, 2},                       // chart + 1 table page
		{"dead_items", RowsPerPDFPage + 1, 2},           // list: 2 table pages
		{"overdues", 0, 1},                              // header only
		{"circulation_activity", 2 * RowsPerPDFPage, 3}, // chart + 2 full pages
	} {
		r, _ := Lookup(c.report)
		res := &Result{Columns: r.Columns, Params: map[string]any{"from": "2026-01-01", "to": "2026-01-31"}}
		for i := 0; i < c.rows; i++ {
			row := make([]any, len(r.Columns))
			for j, col := range r.Columns {
				switch col.Type {
				case TypeInteger, TypeMoney:
					row[j] = int64(i + j)
				case TypeNumber:
					row[j] = float64(i) / 3
				default:
					row[j] = fmt.Sprintf("%s %d «Dvořák & Gödel» a rather long value that must be cut to its column", col.Name, i)
				}
			}
			res.Rows = append(res.Rows, row)
		}
		doc, err := PDF(r, res)
		if err != nil {
			t.Fatalf("%s: %v", c.report, err)
		}
		if !bytes.HasPrefix(doc, []byte("%PDF-")) {
			t.Fatalf("%s: not a PDF: %q", c.report, doc[:20])
		}
		if n := len(pageRe.FindAll(doc, -1)); n != c.pages {
			t.Errorf("%s with %d rows: %d pages, want %d", c.report, c.rows, n, c.pages)
		}
	}
}
