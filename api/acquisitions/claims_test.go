package acquisitions

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/tenants"
)

// Late lines are claimed once per claim interval: one outbox mail per
// vendor per day listing its lines; a vendor without email is reported;
// the same day again adds nothing.
func TestClaims_OneMailPerVendorPerDay(t *testing.T) {
	l := newLib(t)
	l.svc.SetNotices(notices.NewService(l.env.Pool, nil, nil, slog.New(slog.DiscardHandler)))
	chicago, _ := time.LoadLocation("America/Chicago")
	l.svc.SetClock(func() time.Time { return time.Date(2026, 10, 1, 12, 0, 0, 0, chicago) })
	vendor, funds := l.budget(t, 1000000)
	bib := l.bib(t, "Late arrivals")
	var lineDone, lineLate string
	l.tx(t, func(ctx context.Context) error {
		if _, err := l.svc.UpdateVendor(ctx, vendor, VendorInput{ClaimIntervalDays: ptr(7), Name: ptr("Books Inc")}); err != nil {
			return err
		}
		v2, err := l.svc.CreateVendor(ctx, VendorInput{Code: ptr("NOMAIL"), Name: ptr("Phone only"), Currency: ptr("USD")})
		if err != nil {
			return err
		}
		sh := FundShare{funds[0], 10000}
		for _, in := range []POInput{
			{VendorID: vendor, Lines: []LineInput{l.line(bib, 1, 1000, sh), l.line(bib, 2, 1000, sh)}},
			{VendorID: vendor, Lines: []LineInput{l.line(bib, 1, 500, sh)}},
			{VendorID: v2.ID, Lines: []LineInput{l.line(bib, 1, 700, sh)}},
		} {
			po, err := l.svc.CreatePurchaseOrder(ctx, in)
			if err != nil {
				return err
			}
			if _, err := l.svc.OpenPurchaseOrder(ctx, po.ID); err != nil {
				return err
			}
			if lineDone == "" {
				lineDone, lineLate = po.Lines[0].ID.String(), po.Lines[1].ID.String()
				if _, err := l.svc.Receive(ctx, po.Lines[0].ID, ReceiveInput{Quantity: ptr(1)}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	run := func(day string) *ClaimRun {
		t.Helper()
		var r *ClaimRun
		l.tx(t, func(ctx context.Context) error {
			var err error
			r, err = l.svc.RunClaims(ctx, ClaimInput{AsOf: day})
			return err
		})
		return r
	}
	// Ordered 2026-10-01, lead time 30 days: expected by 2026-10-31, late from 11-01.
	if r := run("2026-10-31"); r.Lines != 0 {
		t.Fatalf("claimed before the lead time ran out: %+v", r)
	}
	var late []LateLine
	l.tx(t, func(ctx context.Context) error {
		var err error
		late, err = l.svc.LateLines(ctx, "2026-11-01")
		return err
	})
	if len(late) != 3 || late[0].DaysLate != 1 || late[0].ExpectedOn != "2026-10-31" || late[0].OrderedOn != "2026-10-01" {
		t.Fatalf("late lines: %+v", late)
	}
	for _, x := range late {
		if x.ID.String() == lineDone {
			t.Fatal("a received line is listed late")
		}
	}
	r := run("2026-11-01")
	if r.Lines != 3 || r.Vendors != 2 || len(r.Mails) != 1 || len(r.WithoutEmail) != 1 || r.WithoutEmail[0] != "NOMAIL" {
		t.Fatalf("first run: %+v", r)
	}
	if r := run("2026-11-01"); r.Lines != 0 || len(r.Mails) != 0 {
		t.Fatalf("same day again: %+v", r)
	}
	// V1 claims every 7 days, NOMAIL every 30 (the default): nothing is due on 11-05.
	if r := run("2026-11-05"); r.Lines != 0 {
		t.Fatalf("before the interval: %+v", r)
	}
	r2 := run("2026-11-08")
	if r2.Lines != 2 || len(r2.Mails) != 1 {
		t.Fatalf("after the interval: %+v", r2)
	}
	// The outbox: two mails to V1 (one per claim day), each listing its two lines.
	var mails []struct {
		ToAddress, Subject, BodyText, DedupeKey, Kind string
	}
	l.tx(t, func(ctx context.Context) error {
		db, _ := tenants.DB(ctx)
		return db.Raw(`SELECT to_address, subject, body_text, dedupe_key, kind FROM notices ORDER BY created_at, id`).Scan(&mails).Error
	})
	if len(mails) != 2 {
		t.Fatalf("%d mails, want 2", len(mails))
	}
	for _, m := range mails {
		if m.Kind != "order_claim" || m.ToAddress != "v@vendor.example" || !strings.Contains(m.Subject, "2 late order line(s)") ||
			strings.Count(m.BodyText, "Late arrivals") != 2 || !strings.Contains(m.BodyText, "PO000001, line 2") ||
			!strings.Contains(m.BodyText, "PO000002, line 1") || !strings.Contains(m.BodyText, "expected by 2026-10-31") {
			t.Fatalf("mail: %+v", m)
		}
	}
	if !strings.Contains(mails[1].BodyText, "claim 2") {
		t.Fatalf("second claim not counted: %s", mails[1].BodyText)
	}
	var line *POLine
	l.tx(t, func(ctx context.Context) error {
		var err error
		for _, x := range late {
			if x.ID.String() == lineLate {
				line, err = l.svc.GetLine(ctx, x.ID)
			}
		}
		return err
	})
	if line.ClaimCount != 2 || *line.LastClaimedOn != "2026-11-08" {
		t.Fatalf("line claims: %d %v", line.ClaimCount, *line.LastClaimedOn)
	}
}
