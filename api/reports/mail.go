package reports

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/notices"
	"github.com/stacks-ils/stacks/tenants"
)

// LinkTTL is how long a mailed download link works.
const LinkTTL = 7 * 24 * time.Hour

// DefaultAttachBytes: files up to this size go with the mail; bigger ones
// as a signed, expiring link (mail servers commonly refuse 10-25 MB).
const DefaultAttachBytes = 5 << 20

// SetNotices connects the outbox that mails scheduled reports to their
// recipients and failures to the schedule's owner.
func (s *Service) SetNotices(n *notices.Service) *Service {
	s.notices = n
	return s
}

// SetLinks sets the public base URL and the secret that signs download
// links; without a secret, mails of large files point to the run's page in
// the API (staff log in) instead of a link.
func (s *Service) SetLinks(baseURL string, secret []byte) *Service {
	s.baseURL, s.secret = strings.TrimRight(baseURL, "/"), secret
	return s
}

// SetAttachLimit sets the largest file mailed as an attachment.
func (s *Service) SetAttachLimit(n int) *Service {
	s.attachBytes = n
	return s
}

// signLink returns a token naming tenant and run until expires: the three
// in 40 bytes, then an HMAC-SHA256 over them, base64url.
func (s *Service) signLink(tenant, run uuid.UUID, expires time.Time) string {
	payload := make([]byte, 40)
	copy(payload, tenant[:])
	copy(payload[16:], run[:])
	binary.BigEndian.PutUint64(payload[32:], uint64(expires.Unix()))
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(payload)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// verifyLink checks a token's signature and expiry.
func (s *Service) verifyLink(token string, now time.Time) (tenant, run uuid.UUID, ok bool) {
	p, sig, found := strings.Cut(token, ".")
	if !found || len(s.secret) == 0 {
		return uuid.Nil, uuid.Nil, false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || len(payload) != 40 {
		return uuid.Nil, uuid.Nil, false
	}
	h := hmac.New(sha256.New, s.secret)
	h.Write(payload)
	if !hmac.Equal(mac, h.Sum(nil)) {
		return uuid.Nil, uuid.Nil, false
	}
	if now.Unix() > int64(binary.BigEndian.Uint64(payload[32:])) {
		return uuid.Nil, uuid.Nil, false
	}
	copy(tenant[:], payload[:16])
	copy(run[:], payload[16:32])
	return tenant, run, true
}

// handleLink serves a mailed link: no login, the token is the key.
func (s *Service) handleLink(c *fiber.Ctx) error {
	tenant, run, ok := s.verifyLink(c.Params("token"), s.now())
	if !ok {
		return errs.E(errs.NotFound, "link_invalid", "this download link is not valid or has expired; the report is in Stacks under report runs")
	}
	var f *RunFile
	if err := s.pool.Tx(c.UserContext(), tenant, func(ctx context.Context, _ *gorm.DB) error {
		var err error
		f, err = s.File(ctx, run)
		return err
	}); err != nil {
		return err
	}
	return sendFile(c, f)
}

// mailRun queues the run's file to each recipient in the build's
// transaction: attached when small, else as a signed link. The dedupe key
// is the run's id, so a retried build mails nobody twice.
func (s *Service) mailRun(ctx context.Context, sc *Schedule, run *Run, pr *prepared, file []byte, ctype string) error {
	if s.notices == nil || len(sc.Recipients) == 0 {
		return nil
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	title := pr.report.Title
	if pr.params.hasRange {
		title += fmt.Sprintf(", %s to %s", date(pr.params.From), date(pr.params.To))
	}
	name := sc.Name
	if name == "" {
		name = pr.report.Title
	}
	text := fmt.Sprintf("%s\n\nThe scheduled report %q (%s, %s) is ready: %d rows.\n", title, name, sc.Frequency, run.Period, run.RowCount)
	var atts []notices.Attachment
	limit := s.attachBytes
	if limit == 0 {
		limit = DefaultAttachBytes
	}
	switch {
	case len(file) <= limit:
		atts = []notices.Attachment{{Filename: pr.filename(run.Format), ContentType: ctype, Data: file}}
		text += "It is attached.\n"
	case len(s.secret) > 0:
		exp := s.now().Add(LinkTTL)
		text += fmt.Sprintf("It is %d MB, too large to attach. Download it (the link works until %s):\n%s/api/v1/report-files/%s\n",
			len(file)>>20, exp.UTC().Format("2 Jan 2006 15:04 MST"), s.baseURL, s.signLink(tenant, run.ID, exp))
	default:
		text += fmt.Sprintf("It is %d MB, too large to attach. Log in to Stacks and download it: %s/api/v1/report-runs/%s/file\n",
			len(file)>>20, s.baseURL, run.ID)
	}
	for _, to := range sc.Recipients {
		if _, err := s.notices.QueueMail(ctx, notices.Mail{Kind: "report", DedupeKey: run.ID.String(), To: to, Subject: title,
			Text: text, Attachments: atts, Details: map[string]any{"run_id": run.ID, "schedule_id": sc.ID, "report": sc.Report}}); err != nil {
			return fmt.Errorf("mail report to %s: %w", to, err)
		}
	}
	return nil
}

// mailFailure tells the schedule's owner that a run failed for good.
func (s *Service) mailFailure(ctx context.Context, runID uuid.UUID, msg string) error {
	if s.notices == nil {
		return nil
	}
	db, err := tenants.DB(ctx)
	if err != nil {
		return err
	}
	var rows []struct {
		Email, Name, Report, Period string
	}
	if err := db.Raw(`SELECT u.email, s.name, r.report, r.period FROM report_runs r JOIN report_schedules s ON s.id = r.schedule_id
JOIN staff_users u ON u.id = s.owner_id WHERE r.id = ?`, runID).Scan(&rows).Error; err != nil || len(rows) == 0 {
		return err
	}
	r := rows[0]
	_, err = s.notices.QueueMail(ctx, notices.Mail{Kind: "report_failed", DedupeKey: runID.String(), To: r.Email,
		Subject: "Scheduled report failed: " + r.Report + " " + r.Period,
		Text: fmt.Sprintf("The scheduled report %q (%s, period %s) could not be built after its retries:\n\n%s\n\n"+
			"GET /api/v1/report-runs/%s shows the run; POST /api/v1/report-schedules/{id}/run tries again.\n", r.Name, r.Report, r.Period, msg, runID),
		Details: map[string]any{"run_id": runID}})
	return err
}
