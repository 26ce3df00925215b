package workers_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/notices"
)

// A mail to library staff (no patron) goes through the outbox with its
// attachment, once: queueing it again with the same key adds nothing, and
// a bad address is the caller's 422.
func TestLibraryMail_WithAttachmentSentOnce(t *testing.T) {
	sink := newMailSink(t)
	w := newNoticeWorld(t, sink, "")
	csv := []byte("title,checkouts\n\"Dvořák, a life\",3\n")
	m := notices.Mail{Kind: "report", DedupeKey: "sched-1:2026-11", To: "director@library.example",
		Subject: "Monthly circulation", Text: "Your report is attached.",
		Attachments: []notices.Attachment{{Filename: "circulation.csv", ContentType: "text/csv", Data: csv}}}
	for i := 0; i < 2; i++ {
		w.tx(t, func(ctx context.Context) error {
			n, err := w.nots.QueueMail(ctx, m)
			if (i == 0) != (n != nil) {
				t.Errorf("queue %d: notice %v", i, n)
			}
			return err
		})
	}
	w.tx(t, func(ctx context.Context) error {
		_, err := w.nots.QueueMail(ctx, notices.Mail{Kind: "report", DedupeKey: "x", To: "not an address", Subject: "s"})
		if errs.KindOf(err) != errs.Invalid {
			t.Errorf("bad address: %v, want invalid", err)
		}
		return nil
	})
	waitFor(t, "the mail to be sent", func() bool { return w.notice(t).Status == notices.StatusSent })
	mails := sink.Mails()
	if len(mails) != 1 {
		t.Fatalf("%d mails, want 1", len(mails))
	}
	d := mails[0].Data
	if mails[0].To[0] != "director@library.example" || !strings.Contains(d, "Monthly circulation") ||
		!strings.Contains(d, `filename="circulation.csv"`) || !strings.Contains(d, base64.StdEncoding.EncodeToString(csv)[:40]) {
		t.Fatalf("mail:\n%s", d)
	}
	if n := w.notice(t); n.PatronID != nil || n.Kind != "report" {
		t.Fatalf("notice: %+v", n)
	}
}
