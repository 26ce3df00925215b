package notices

import (
	"bytes"
	"context"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/wneessen/go-mail"
)

// Message is one email.
type Message struct {
	TenantID uuid.UUID
	FromName string // the library's sender name, shown with MAIL_FROM
	ReplyTo  string // where patrons' replies go (the library, not Stacks)
	To       string
	Subject  string
	Text     string
	HTML     string // optional alternative
	// Attachments go after the text (a scheduled report's file).
	Attachments []Attachment
}

// Mailer sends email and returns the message id.
type Mailer interface {
	Send(ctx context.Context, m Message) (messageID string, err error)
}

// SMTP sends through an SMTP server.
type SMTP struct {
	host string
	opts []mail.Option
	from string
}

// NewSMTP configures the mailer from SMTP_URL and MAIL_FROM:
// smtp://user:pass@host:587 (STARTTLS when the server offers it; add
// ?tls=required to insist), smtps://user:pass@host:465 (implicit TLS).
func NewSMTP(rawURL, from string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") {
		return nil, fmt.Errorf("SMTP_URL must be smtp://[user:pass@]host[:port] or smtps://...: %q", rawURL)
	}
	if from == "" {
		return nil, fmt.Errorf("MAIL_FROM is required with SMTP_URL")
	}
	opts := []mail.Option{mail.WithTimeout(20 * time.Second)}
	port := 587
	switch {
	case u.Scheme == "smtps":
		port = 465
		opts = append(opts, mail.WithSSL())
	case u.Query().Get("tls") == "required":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("SMTP_URL port %q: %w", p, err)
		}
	}
	opts = append(opts, mail.WithPort(port))
	if u.User != nil {
		pw, _ := u.User.Password()
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(u.User.Username()), mail.WithPassword(pw))
	}
	return &SMTP{host: u.Hostname(), opts: opts, from: from}, nil
}

// Send delivers one message and returns its Message-ID.
func (s *SMTP) Send(ctx context.Context, m Message) (string, error) {
	msg := mail.NewMsg()
	from := s.from
	if m.FromName != "" {
		// MAIL_FROM's address with the library's name.
		a, err := netmail.ParseAddress(s.from)
		if err != nil {
			return "", fmt.Errorf("MAIL_FROM %q: %w", s.from, err)
		}
		from = (&netmail.Address{Name: m.FromName, Address: a.Address}).String()
	}
	if err := msg.From(from); err != nil {
		return "", fmt.Errorf("from %q: %w", from, err)
	}
	if m.ReplyTo != "" {
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return "", fmt.Errorf("reply-to %q: %w", m.ReplyTo, err)
		}
	}
	if err := msg.To(m.To); err != nil {
		return "", fmt.Errorf("to %q: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	for _, a := range m.Attachments {
		if err := msg.AttachReader(a.Filename, bytes.NewReader(a.Data), mail.WithFileContentType(mail.ContentType(a.ContentType))); err != nil {
			return "", fmt.Errorf("attach %q: %w", a.Filename, err)
		}
	}
	// The connection closes when the send's ctx ends (go-mail's own dial
	// context only covers dialing).
	c, err := mail.NewClient(s.host, append(slices.Clip(s.opts), mail.WithDialContextFunc(
		func(dctx context.Context, network, addr string) (net.Conn, error) {
			return dialCancellable(ctx, dctx, network, addr)
		}))...)
	if err != nil {
		return "", fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return "", err
	}
	return msg.GetMessageID(), nil
}

// dialCancellable dials (within dctx) a connection that closes when ctx
// ends: a delivery cut off (worker shutdown, task timeout) stops talking to
// the server at once instead of finishing the message behind the queue's
// back.
func dialCancellable(ctx, dctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(dctx, network, addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	return &cancelConn{Conn: c, stop: stop}, nil
}

type cancelConn struct {
	net.Conn
	stop func() bool
}

func (c *cancelConn) Close() error {
	c.stop()
	return c.Conn.Close()
}
