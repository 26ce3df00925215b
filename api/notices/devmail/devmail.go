// Package devmail is a small SMTP server that keeps the mail it receives in
// memory and shows it on a web page: `stacks dev` runs it when no SMTP_URL
// is set, so notices can be seen without a mail provider, and the tests
// deliver to it to assert on real SMTP traffic.
package devmail

import (
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Mail is one received message.
type Mail struct {
	At   time.Time
	From string
	To   []string
	Data string // the whole message: headers and body
}

// Sink is the server and what it received (the last Keep messages).
type Sink struct {
	mu     sync.Mutex
	mails  []Mail
	refuse map[string]bool
	srv    *smtp.Server
	addr   string
	// Keep bounds the messages kept; older ones are dropped.
	Keep int
	// Delay holds each recipient command this long before answering (tests
	// that stop a worker in the middle of sending).
	Delay time.Duration
}

// Listen starts an SMTP server on addr ("127.0.0.1:0" for any port).
func Listen(addr string) (*Sink, error) {
	s := &Sink{refuse: map[string]bool{}, Keep: 500}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{sink: s}, nil }))
	s.srv.Domain = "stacks.localhost"
	s.srv.AllowInsecureAuth = true
	// Clients that hang up mid-conversation are expected (tests cut
	// deliveries off); the page is what matters, not the log.
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	go s.srv.Serve(ln)
	return s, nil
}

// Addr is the server's address, host:port.
func (s *Sink) Addr() string { return s.addr }

// Close stops the server.
func (s *Sink) Close() error { return s.srv.Close() }

// Mails returns the messages received, oldest first.
func (s *Sink) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Refuse makes the server answer 450 (try later) for this recipient, or
// accept it again: how tests play a mail provider that is having trouble.
func (s *Sink) Refuse(rcpt string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse[rcpt] = on
}

type session struct {
	sink *Sink
	msg  Mail
}

func (s *session) Reset()        { s.msg = Mail{} }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.msg.From = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.sink.Delay > 0 {
		time.Sleep(s.sink.Delay)
	}
	s.sink.mu.Lock()
	defer s.sink.mu.Unlock()
	if s.sink.refuse[to] {
		return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy, try later"}
	}
	s.msg.To = append(s.msg.To, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data, s.msg.At = string(b), time.Now()
	s.sink.mu.Lock()
	defer s.sink.mu.Unlock()
	s.sink.mails = append(s.sink.mails, s.msg)
	if s.sink.Keep > 0 && len(s.sink.mails) > s.sink.Keep {
		s.sink.mails = s.sink.mails[len(s.sink.mails)-s.sink.Keep:]
	}
	return nil
}

var page = template.Must(template.New("mail").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Stacks dev mail ({{len .}})</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em} pre{background:#f4f4f4;padding:1em;white-space:pre-wrap}
h2{font-size:1em;margin-top:2em}</style></head><body>
<h1>Mail sent by Stacks ({{len .}}), newest first</h1>
{{range .}}<h2>{{.At.Format "2006-01-02 15:04:05"}} to {{range .To}}{{.}} {{end}}</h2><pre>{{.Data}}</pre>
{{else}}<p>No mail yet. Notices appear here when Stacks sends them.</p>{{end}}
</body></html>`))

// Handler serves the received mail as a page, newest first.
func (s *Sink) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mails := s.Mails()
		for i, j := 0, len(mails)-1; i < j; i, j = i+1, j-1 {
			mails[i], mails[j] = mails[j], mails[i]
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page.Execute(w, mails)
	})
}
