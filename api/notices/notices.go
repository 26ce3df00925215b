// Package notices is the outbox of messages to patrons and their delivery.
// A module that causes a notice (circulation trapping a hold) writes it with
// Queue inside its own transaction: the notice exists exactly when its
// cause committed, and its unique key (patron, kind, level, dedupe key)
// turns every re-run into a no-op. After the commit a task per notice asks
// the workers to Deliver it by email; the outcome (sent with the SMTP
// message id, failed with the reason, undeliverable without an address) is
// recorded on the row, and staff see the history and can resend.
//
// The one window for a duplicate email: the SMTP server accepted the
// message and the process died before the single UPDATE that marks it sent.
package notices

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/ratelimit"
	"github.com/stacks-ils/stacks/tenants"
)

// Notice kinds delivered today.
const (
	KindHoldAvailable = "hold_available"
	KindHoldExpired   = "hold_expired"
	KindAutoRenewal   = "auto_renewal"
	KindVerification  = "verification"
	KindWelcome       = "welcome"
)

// Statuses.
const (
	StatusPending       = "pending"
	StatusSent          = "sent"
	StatusFailed        = "failed"
	StatusUndeliverable = "undeliverable"
)

// Notice is one message to one patron.
type Notice struct {
	TenantID  uuid.UUID       `json:"-" gorm:"primaryKey"`
	ID        uuid.UUID       `json:"id" gorm:"primaryKey"`
	PatronID  *uuid.UUID      `json:"patron_id,omitempty"` // nil: library mail (QueueMail)
	Kind      string          `json:"kind"`
	Level     int             `json:"level"`
	DedupeKey string          `json:"-"`
	Status    string          `json:"status"`
	Channel   string          `json:"channel"`
	To        string          `json:"to" gorm:"column:to_address"`
	Subject   string          `json:"subject"`
	BodyText  string          `json:"body_text"`
	BodyHTML  string          `json:"body_html"`
	Details   json.RawMessage `json:"details" gorm:"type:jsonb"`
	Attempts  int             `json:"attempts"`
	Error     string          `json:"error"`
	MessageID string          `json:"message_id"`
	CreatedAt time.Time       `json:"created_at"`
	SentAt    *time.Time      `json:"sent_at"`
}

// ErrNoMailer is Deliver's answer when no SMTP server is configured.
var ErrNoMailer = errors.New("notices: no SMTP server is configured (SMTP_URL); the notice stays pending")

// Enqueuer hands work to the workers: a committed notice to deliver, a
// library's daily run of one kind for its local date.
type Enqueuer interface {
	EnqueueNotice(ctx context.Context, tenantID, noticeID uuid.UUID) error
	EnqueueDaily(ctx context.Context, tenantID uuid.UUID, kind, date string) error
}

// Links makes the links patron mail carries (the OPAC's pages).
type Links interface {
	// RenewURL makes, in the current tenant transaction, a link to the
	// page that renews the patron's loans.
	RenewURL(ctx context.Context, patronID uuid.UUID) (string, error)
	// VerifyURL is the link that confirms a self-registered address.
	VerifyURL(library, code string) string
}

// SetLinks connects the OPAC's links (nil: mail carries none).
func (s *Service) SetLinks(l Links) *Service { s.links = l; return s }

// Service is the notices module.
type Service struct {
	links   Links
	pool    *tenants.Pool
	enqueue Enqueuer
	mailer  Mailer
	log     *slog.Logger
	now     func() time.Time
	limit   *rateLimit
}

// rateLimit caps each library's sends, so a morning of 10,000 notices
// trickles out instead of tripping the mail provider's limits.
type rateLimit struct {
	counter *ratelimit.Counter
	n       int
	window  time.Duration
}

// SetRateLimit allows each library n sends per window (n <= 0: no limit).
func (s *Service) SetRateLimit(c *ratelimit.Counter, n int, window time.Duration) *Service {
	if c != nil && n > 0 {
		s.limit = &rateLimit{counter: c, n: n, window: window}
	}
	return s
}

// RateLimited is Deliver's answer when the library has used its sends for
// now: deliver again after RetryIn. It is not a failed attempt.
type RateLimited struct{ RetryIn time.Duration }

func (e *RateLimited) Error() string {
	return fmt.Sprintf("notices: this library's sending limit is reached; retry in %s", e.RetryIn.Round(time.Millisecond))
}

// NewService builds the notices service. enq may be nil (notices then wait
// in the outbox until a worker sweeps them).
func NewService(pool *tenants.Pool, enq Enqueuer, m Mailer, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{pool: pool, enqueue: enq, mailer: m, log: log, now: time.Now}
}

// Draft is a notice to queue: who, what, and the data its template
// renders (with the library's own template for the kind, if it has one).
type Draft struct {
	PatronID  uuid.UUID
	Kind      string
	Level     int
	DedupeKey string
	Channel   string // the patron's notice channel: email, sms, print, none
	To        string // the address; empty means undeliverable
	Data      Data
	Details   map[string]any
}

// Queue writes the notice in the current tenant transaction and, once it
// commits, asks the workers to deliver it. A notice with the same key
// already queued is left as it is (nil, nil).
func (s *Service) Queue(ctx context.Context, d Draft) (*Notice, error) {
	b, err := s.batch(ctx, d.Kind)
	if err != nil {
		return nil, err
	}
	return b.queue(ctx, d)
}

// kindBatch is what queueing notices of one kind needs, loaded once: the
// settings and the library's template (a daily run queues thousands).
type kindBatch struct {
	s       *Service
	enabled bool
	tpl     *Template
}

func (s *Service) batch(ctx context.Context, kind string) (*kindBatch, error) {
	st, err := s.GetSettings(ctx)
	if err != nil {
		return nil, err
	}
	tpl, err := s.GetTemplate(ctx, kind)
	if err != nil {
		return nil, err
	}
	return &kindBatch{s: s, enabled: slices.Contains(st.EnabledKinds, kind), tpl: tpl}, nil
}

func (b *kindBatch) queue(ctx context.Context, d Draft) (*Notice, error) {
	s := b.s
	if !b.enabled {
		return nil, nil // the library switched this kind off
	}
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	if slices.Contains(OptionalKinds, d.Kind) {
		var out []string
		if err := db.Raw("SELECT kind FROM notice_opt_outs WHERE patron_id = ? AND kind = ?", d.PatronID, d.Kind).Scan(&out).Error; err != nil {
			return nil, fmt.Errorf("notice preferences: %w", err)
		}
		if len(out) > 0 {
			return nil, nil // the patron turned this kind off
		}
	}
	r, err := s.renderTemplate(b.tpl, d.Data)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	details, _ := json.Marshal(d.Details)
	if d.Details == nil {
		details = []byte("{}")
	}
	n := &Notice{TenantID: tenant, ID: tenants.NewID(), PatronID: &d.PatronID, Kind: d.Kind, Level: d.Level,
		DedupeKey: d.DedupeKey, Status: StatusPending, Channel: d.Channel, To: strings.TrimSpace(d.To),
		Subject: r.Subject, BodyText: r.Text, BodyHTML: r.HTML, Details: details, CreatedAt: s.now()}
	if n.Channel == "" {
		n.Channel = "email"
	}
	// Only email is delivered today; no address, or another channel, is
	// recorded as undeliverable and listed for staff (print) — never dropped.
	if n.Channel != "email" || n.To == "" {
		n.Status = StatusUndeliverable
		n.Error = "no email address, or the patron asked for " + n.Channel
	}
	res := db.Exec(`INSERT INTO notices (tenant_id, id, patron_id, kind, level, dedupe_key, status, channel, to_address,
  subject, body_text, body_html, details, error, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT (tenant_id, patron_id, kind, level, dedupe_key) DO NOTHING`,
		n.TenantID, n.ID, n.PatronID, n.Kind, n.Level, n.DedupeKey, n.Status, n.Channel, n.To, n.Subject, n.BodyText,
		n.BodyHTML, string(details), n.Error, n.CreatedAt)
	if res.Error != nil {
		return nil, fmt.Errorf("queue notice: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, nil
	}
	if n.Status == StatusPending {
		s.afterCommit(ctx, tenant, n.ID)
	}
	return n, nil
}

func (s *Service) afterCommit(ctx context.Context, tenant, id uuid.UUID) {
	if s.enqueue == nil {
		return
	}
	tenants.AfterCommit(ctx, func(ctx context.Context) {
		if err := s.enqueue.EnqueueNotice(ctx, tenant, id); err != nil {
			// The row stays pending; resend (or a sweep) delivers it.
			s.log.Error("enqueue notice", "tenant_id", tenant, "notice_id", id, "error", err)
		}
	})
}

// Get returns one notice.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (*Notice, error) {
	return tenants.Find[Notice](ctx, "no notice with this id", "id = ?", id)
}

// Filter narrows List.
type Filter struct {
	PatronID *uuid.UUID
	Kind     string
	Status   string
	After    uuid.UUID
	Limit    int
}

// List lists notices in id (creation) order, Limit+1 rows at most.
func (s *Service) List(ctx context.Context, f Filter) ([]Notice, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	q := db.Where("id > ?", f.After)
	if f.PatronID != nil {
		q = q.Where("patron_id = ?", *f.PatronID)
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", f.Kind)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	var out []Notice
	if err := q.Order("id").Limit(f.Limit + 1).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list notices: %w", err)
	}
	return out, nil
}

// Resend puts a failed or sent notice back to pending and queues its
// delivery again (with a new message id). An undeliverable notice needs an
// address first.
func (s *Service) Resend(ctx context.Context, id uuid.UUID) (*Notice, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	n, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	switch n.Status {
	case StatusPending:
		// Still waiting (no mail server configured then, or its task was
		// lost): queue its delivery again; a delivery already queued wins.
		tenant, _ := tenants.CurrentTenant(ctx)
		s.afterCommit(ctx, tenant, id)
		return n, nil
	case StatusUndeliverable:
		return nil, errs.E(errs.Conflict, "notice_undeliverable", "The patron had no email address; print this notice or add an address and queue a new one.")
	}
	if err := db.Exec(`UPDATE notices SET status = 'pending', attempts = 0, error = '' WHERE id = ?`, id).Error; err != nil {
		return nil, fmt.Errorf("resend notice: %w", err)
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	s.afterCommit(ctx, tenant, id)
	return s.Get(ctx, id)
}

// Busy is Deliver's answer when another delivery of the notice is in
// progress (it holds the claim): try again after RetryIn. It is not a
// failed attempt.
type Busy struct{ RetryIn time.Duration }

func (e *Busy) Error() string {
	return fmt.Sprintf("notices: the notice is being sent by another delivery; retry in %s", e.RetryIn.Round(time.Millisecond))
}

// claimFor bounds a delivery: SMTP gives up after 20 s; a delivery that
// died without releasing its claim frees the notice after this.
const claimFor = 2 * time.Minute

// Deliver sends one pending notice and records the outcome. It claims the
// notice in one statement (so two deliveries never send it at once), sends
// outside any transaction on a connection that closes when ctx ends, and
// marks it sent in a single UPDATE. A delivery cut off before the SMTP
// server accepted the message leaves it pending for the retry, which sends
// it once; only a crash between acceptance and that UPDATE can send it
// twice. final says this is the last attempt: a failure then marks the
// notice failed.
func (s *Service) Deliver(ctx context.Context, tenantID, id uuid.UUID, final bool) error {
	if s.mailer == nil {
		// Not an attempt: the notice stays pending for a resend once
		// SMTP_URL is set.
		return ErrNoMailer
	}
	var n *Notice
	var st *Settings
	var busy *Busy
	var files []Attachment
	err := s.pool.Tx(ctx, tenantID, func(ctx context.Context, tx *gorm.DB) error {
		var err error
		if n, err = s.Get(ctx, id); err != nil || n.Status != StatusPending {
			return err
		}
		var claimed []struct{ ClaimedUntil *time.Time }
		if err := tx.Raw(`UPDATE notices SET claimed_until = ? WHERE id = ? AND status = 'pending'
  AND (claimed_until IS NULL OR claimed_until < ?) RETURNING claimed_until`, s.now().Add(claimFor), id, s.now()).
			Scan(&claimed).Error; err != nil {
			return fmt.Errorf("claim notice: %w", err)
		}
		if len(claimed) == 0 {
			var until time.Time
			if err := tx.Raw("SELECT COALESCE(claimed_until, now()) FROM notices WHERE id = ?", id).Row().Scan(&until); err != nil {
				return fmt.Errorf("notice claim: %w", err)
			}
			busy = &Busy{RetryIn: max(until.Sub(s.now()), time.Second)}
			return nil
		}
		if st, err = s.GetSettings(ctx); err != nil {
			return err
		}
		files, err = attachments(ctx, id)
		return err
	})
	switch {
	case err != nil:
		return err
	case n.Status != StatusPending:
		return nil // sent, failed or undeliverable already: nothing to do
	case busy != nil:
		return busy
	}
	if s.limit != nil {
		ok, retryIn, err := s.limit.counter.Allow(ctx, "notices:"+tenantID.String(), s.limit.n, s.limit.window)
		if err == nil && !ok {
			err = &RateLimited{RetryIn: max(retryIn, 10*time.Millisecond)}
		}
		if err != nil {
			return errors.Join(err, s.release(ctx, tenantID, id))
		}
	}
	msgID, sendErr := s.mailer.Send(ctx, Message{To: n.To, Subject: n.Subject, Text: n.BodyText, HTML: n.BodyHTML, TenantID: tenantID,
		FromName: st.SenderName, ReplyTo: st.ReplyTo, Attachments: files})
	// Record the outcome even when ctx has ended: the claim must go.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err = s.pool.Tx(rctx, tenantID, func(ctx context.Context, tx *gorm.DB) error {
		if sendErr == nil {
			return tx.Exec(`UPDATE notices SET status = 'sent', message_id = ?, sent_at = ?, attempts = attempts + 1, error = '',
  claimed_until = NULL WHERE id = ? AND status = 'pending'`, msgID, s.now(), id).Error
		}
		status := StatusPending
		if final {
			status = StatusFailed
		}
		return tx.Exec(`UPDATE notices SET status = ?, attempts = attempts + 1, error = ?, claimed_until = NULL
  WHERE id = ? AND status = 'pending'`, status, sendErr.Error(), id).Error
	})
	if err != nil {
		return fmt.Errorf("record notice %s: %w", id, err)
	}
	if sendErr != nil {
		// The task fails so the queue retries it with backoff; the
		// recorded error stays visible meanwhile.
		return fmt.Errorf("send notice %s: %w", id, sendErr)
	}
	return nil
}

// release gives up a claim without an attempt (rate limited).
func (s *Service) release(ctx context.Context, tenantID, id uuid.UUID) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return s.pool.Tx(rctx, tenantID, func(ctx context.Context, tx *gorm.DB) error {
		return tx.Exec("UPDATE notices SET claimed_until = NULL WHERE id = ?", id).Error
	})
}
