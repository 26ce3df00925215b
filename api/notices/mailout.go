package notices

import (
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"strings"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/tenants"
)

// Attachment is a file sent with a library mail.
type Attachment struct {
	Filename    string
	ContentType string
	Data        []byte
}

// Mail is a message to the library's staff or to one of its vendors, not to
// a patron: billing reminders, scheduled reports, order and serials claims.
// It goes through the same outbox, delivery, retries and history as patron
// notices, with the text its module wrote (no library template).
type Mail struct {
	Kind string // what it is about, e.g. "billing_trial_ending", "report", "order_claim"
	// DedupeKey, with Kind and To, makes the mail unique: queueing it again
	// (a re-run, a retry, a second scheduler) adds nothing.
	DedupeKey   string
	To          string
	Subject     string
	Text        string
	HTML        string // optional alternative
	Attachments []Attachment
	Details     map[string]any
}

// MaxAttachmentBytes bounds what a mail carries; bigger files go as a link.
const MaxAttachmentBytes = 10 << 20

// QueueMail writes a library mail in the current tenant transaction and,
// once it commits, asks the workers to deliver it. A mail with the same
// kind, dedupe key and address already queued is left as it is (nil, nil).
// An address that does not parse is the caller's bad input (422).
func (s *Service) QueueMail(ctx context.Context, m Mail) (*Notice, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	to := strings.TrimSpace(m.To)
	if a, err := mail.ParseAddress(to); err != nil || a.Address != to {
		return nil, errs.Field("to", "invalid_email", fmt.Sprintf("%q is not an email address (name@example.org).", m.To))
	}
	if m.Kind == "" || m.DedupeKey == "" || m.Subject == "" {
		return nil, fmt.Errorf("notices: library mail needs a kind, a dedupe key and a subject")
	}
	size := 0
	for _, a := range m.Attachments {
		size += len(a.Data)
		if a.Filename == "" {
			return nil, fmt.Errorf("notices: an attachment needs a file name")
		}
	}
	if size > MaxAttachmentBytes {
		return nil, fmt.Errorf("notices: attachments of %d bytes are over the %d-byte limit; send a link", size, MaxAttachmentBytes)
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	details := []byte("{}")
	if m.Details != nil {
		if details, err = json.Marshal(m.Details); err != nil {
			return nil, fmt.Errorf("mail details: %w", err)
		}
	}
	n := &Notice{TenantID: tenant, ID: tenants.NewID(), Kind: m.Kind, DedupeKey: m.DedupeKey, Status: StatusPending,
		Channel: "email", To: to, Subject: m.Subject, BodyText: m.Text, BodyHTML: m.HTML, Details: details, CreatedAt: s.now()}
	res := db.Exec(`INSERT INTO notices (tenant_id, id, patron_id, kind, level, dedupe_key, status, channel, to_address,
  subject, body_text, body_html, details, created_at) VALUES (?,?,NULL,?,0,?,?,?,?,?,?,?,?,?)
ON CONFLICT (tenant_id, kind, dedupe_key, to_address) WHERE patron_id IS NULL DO NOTHING`,
		n.TenantID, n.ID, n.Kind, n.DedupeKey, n.Status, n.Channel, n.To, n.Subject, n.BodyText, n.BodyHTML, string(details), n.CreatedAt)
	if res.Error != nil {
		return nil, fmt.Errorf("queue mail: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, nil
	}
	for i, a := range m.Attachments {
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		if err := db.Exec(`INSERT INTO notice_attachments (tenant_id, notice_id, position, filename, content_type, data)
VALUES (?,?,?,?,?,?)`, tenant, n.ID, i, a.Filename, ct, a.Data).Error; err != nil {
			return nil, fmt.Errorf("queue mail attachment: %w", err)
		}
	}
	s.afterCommit(ctx, tenant, n.ID)
	return n, nil
}

// attachments loads a notice's files in order.
func attachments(ctx context.Context, id uuid.UUID) ([]Attachment, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Filename, ContentType string
		Data                  []byte
	}
	if err := db.Raw("SELECT filename, content_type, data FROM notice_attachments WHERE notice_id = ? ORDER BY position", id).
		Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("notice attachments: %w", err)
	}
	out := make([]Attachment, len(rows))
	for i, r := range rows {
		out[i] = Attachment(r)
	}
	return out, nil
}
