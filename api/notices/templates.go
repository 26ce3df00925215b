package notices

import (
	"bytes"
	"context"
	"fmt"
	"html"
	htmltemplate "html/template"
	"strings"
	"text/template"
	"time"

	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/tz"
	"github.com/stacks-ils/stacks/tenants"
)

// Data is what every notice template can use. Dates are already written
// out in the library's time zone.
//
//	.Library            the library's name
//	.Patron.Name        first and last name; also .Patron.FirstName, .LastName, .CardNumber, .ExpiresOn, .Pending (welcome)
//	.Items              loans listed by due_soon, overdue and auto_renewal: .Title .Barcode .Due .CanRenew .Note
//	.Hold               hold notices: .Title .Branch .BranchPhone .PickupBy .Reason
//	.Level              overdue level (1, 2, 3); 0 otherwise
//	.Date               the library's local date of the notice
//	.Balance .Threshold fines: what the patron owes and the limit, e.g. "12.50 USD"
//	.Code               verification: the code that confirms the address
//	.VerifyURL          verification: a link that confirms it in one click
//	.RenewURL           due_soon: a link to the patron's page that renews their loans (when any can be renewed)
type Data struct {
	Library string
	Patron  PatronData
	Items   []ItemData
	Hold    *HoldData
	Level   int
	Date    string
	// fines: what the patron owes and the limit that blocks borrowing.
	Balance, Threshold string
	// verification: the code that confirms a self-registered patron's address.
	Code      string
	VerifyURL string
	// due_soon: the patron's one-click renew page.
	RenewURL string
}

// PatronData is the patron in a notice.
type PatronData struct {
	FirstName, LastName, Name, CardNumber string
	ExpiresOn                             string // card_expiring: the card's expiry date
	Pending                               bool   // welcome: the card waits for the library's approval
}

// ItemData is one loan in a notice.
type ItemData struct {
	Title, Barcode, Due string
	CanRenew            bool
	Note                string // auto_renewal: "renewed" or "not renewed: <reason>"
}

// HoldData is the hold a notice is about.
type HoldData struct {
	Title, Branch, BranchPhone, PickupBy, Reason string
}

// Template is a kind's subject, text and HTML, built in or the library's
// own. An empty BodyHTML sends the text as simple HTML.
type Template struct {
	Kind      string     `json:"kind"`
	Subject   string     `json:"subject"`
	BodyText  string     `json:"body_text"`
	BodyHTML  string     `json:"body_html"`
	Custom    bool       `json:"custom"` // the library's own (false: the built-in text)
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// rendered is a notice's subject, text and HTML.
type rendered struct{ Subject, Text, HTML string }

// builtins are the texts every library starts with (English).
var builtins = map[string]Template{
	KindHoldAvailable: {Subject: `{{.Library}}: {{.Hold.Title}} is waiting for you`, BodyText: `Dear {{.Patron.Name}},

The item you asked for is waiting for you:

  {{.Hold.Title}}

Pick it up at {{.Hold.Branch}} by {{.Hold.PickupBy}}. After that it goes to the next reader.
{{if .Hold.BranchPhone}}
Questions? Call {{.Hold.BranchPhone}}.
{{end}}
{{.Library}}
`},
	KindHoldExpiring: {Subject: `{{.Library}}: last day to pick up {{.Hold.Title}}`, BodyText: `Dear {{.Patron.Name}},

{{.Hold.Title}} is still waiting for you at {{.Hold.Branch}}. Tomorrow, {{.Hold.PickupBy}}, is the last day to pick it up;
after that it goes to the next reader.

{{.Library}}
`},
	KindHoldExpired: {Subject: `{{.Library}}: your hold on {{.Hold.Title}} has ended`, BodyText: `Dear {{.Patron.Name}},

Your hold on

  {{.Hold.Title}}

has ended: {{.Hold.Reason}}. If you still want it, place a new hold.

{{.Library}}
`},
	KindDueSoon: {Subject: `{{.Library}}: {{len .Items}} item(s) due soon`, BodyText: `Dear {{.Patron.Name}},

These items are due soon:
{{range .Items}}
  - {{.Title}} ({{.Barcode}}), due {{.Due}}{{if .CanRenew}} - you can renew it{{else}} - it cannot be renewed{{end}}{{end}}

{{if .RenewURL}}Renew them online: {{.RenewURL}}
or at any branch{{else}}Renew them at any branch{{end}}, or bring them back by their due date.

{{.Library}}
`},
	KindWelcome: {Subject: `Welcome to {{.Library}}`, BodyText: `Dear {{.Patron.Name}},

Welcome to {{.Library}}! Your library card number is {{.Patron.CardNumber}}{{if .Patron.ExpiresOn}}, valid until {{.Patron.ExpiresOn}}{{end}}.
{{if .Patron.Pending}}
The library will activate your card shortly; we will be glad to see you then.
{{else}}
Bring it to any of our branches to borrow, or use its number to reserve titles.
{{end}}
{{.Library}}
`},
	KindVerification: {Subject: `{{.Library}}: confirm your email address`, BodyText: `Dear {{.Patron.Name}},

Thank you for registering with {{.Library}}. Your card number is {{.Patron.CardNumber}}.

To confirm this email address, {{if .VerifyURL}}open this link:

  {{.VerifyURL}}

or {{end}}enter this code where you registered:

  {{.Code}}

If you did not register, ignore this message.

{{.Library}}
`},
	KindFines: {Subject: `{{.Library}}: you owe {{.Balance}}`, BodyText: `Dear {{.Patron.Name}},

You owe the library {{.Balance}}, which is at or over the limit of {{.Threshold}}: you cannot borrow until you pay
part of it. You can pay at any branch.

{{.Library}}
`},
	KindCardExpiring: {Subject: `{{.Library}}: your library card expires on {{.Patron.ExpiresOn}}`, BodyText: `Dear {{.Patron.Name}},

Your library card {{.Patron.CardNumber}} expires on {{.Patron.ExpiresOn}}. Renew it at any branch to keep borrowing.

{{.Library}}
`},
	KindAutoRenewal: {Subject: `{{.Library}}: your loans were renewed`, BodyText: `Dear {{.Patron.Name}},

We renewed your loans that were due:
{{range .Items}}
  - {{.Title}} ({{.Barcode}}): {{.Note}}, due {{.Due}}{{end}}

{{.Library}}
`},
	KindOverdue: {Subject: `{{.Library}}: {{len .Items}} item(s) overdue (notice {{.Level}})`, BodyText: `Dear {{.Patron.Name}},

These items are overdue{{if ge .Level 3}} (final notice){{end}}:
{{range .Items}}
  - {{.Title}} ({{.Barcode}}), due {{.Due}}{{end}}

Please return them as soon as you can{{if ge .Level 2}}; fines may apply{{end}}.

{{.Library}}
`},
}

// sample is the data templates are checked with when saved.
var sample = Data{Library: "Springfield Public Library", Date: "2026-11-27", Level: 2,
	Patron:  PatronData{FirstName: "Ada", LastName: "Byron", Name: "Ada Byron", CardNumber: "21000001", ExpiresOn: "2026-12-27"},
	Items:   []ItemData{{Title: "Middlemarch", Barcode: "39000000001", Due: "Fri 27 Nov 2026", CanRenew: true, Note: "renewed"}},
	Hold:    &HoldData{Title: "Middlemarch", Branch: "Main branch", BranchPhone: "555-0100", PickupBy: "Friday 4 December 2026", Reason: "not picked up in time"},
	Balance: "12.50 USD", Threshold: "10.00 USD", Code: "example-code"}

// renderWith renders a template with d: subject and text with
// text/template, the HTML with html/template (which escapes the data), or,
// without an HTML template, the text as paragraphs.
func renderWith(t Template, d Data) (rendered, error) {
	var out rendered
	subj, err := template.New("subject").Option("missingkey=error").Parse(t.Subject)
	if err != nil {
		return out, fmt.Errorf("subject: %w", err)
	}
	body, err := template.New("body_text").Option("missingkey=error").Parse(t.BodyText)
	if err != nil {
		return out, fmt.Errorf("body_text: %w", err)
	}
	var sb, bb, hb bytes.Buffer
	if err := subj.Execute(&sb, d); err != nil {
		return out, fmt.Errorf("subject: %w", err)
	}
	if err := body.Execute(&bb, d); err != nil {
		return out, fmt.Errorf("body_text: %w", err)
	}
	out.Subject, out.Text = strings.Join(strings.Fields(sb.String()), " "), bb.String()
	if strings.TrimSpace(t.BodyHTML) == "" {
		out.HTML = textToHTML(out.Text)
		return out, nil
	}
	h, err := htmltemplate.New("body_html").Option("missingkey=error").Parse(t.BodyHTML)
	if err != nil {
		return out, fmt.Errorf("body_html: %w", err)
	}
	if err := h.Execute(&hb, d); err != nil {
		return out, fmt.Errorf("body_html: %w", err)
	}
	out.HTML = hb.String()
	return out, nil
}

// textToHTML writes a plain-text notice as a minimal HTML document:
// paragraphs, line breaks, everything escaped.
func textToHTML(text string) string {
	var b strings.Builder
	b.WriteString("<!doctype html><html><body style=\"font-family:sans-serif\">")
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		lines := strings.Split(para, "\n")
		for i := range lines {
			lines[i] = html.EscapeString(strings.TrimRight(lines[i], " "))
		}
		b.WriteString("<p>" + strings.Join(lines, "<br>") + "</p>")
	}
	b.WriteString("</body></html>")
	return b.String()
}

// GetTemplate returns the template a kind renders with in this library.
func (s *Service) GetTemplate(ctx context.Context, kind string) (*Template, error) {
	b, ok := builtins[kind]
	if !ok {
		return nil, errs.NotFoundf("no notice kind %q", kind)
	}
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Subject, BodyText, BodyHTML string
		UpdatedAt                   time.Time
	}
	if err := db.Raw("SELECT subject, body_text, body_html, updated_at FROM notice_templates WHERE kind = ?", kind).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("notice template: %w", err)
	}
	t := b
	t.Kind = kind
	if len(rows) == 1 {
		r := rows[0]
		t.Subject, t.BodyText, t.BodyHTML, t.Custom, t.UpdatedAt = r.Subject, r.BodyText, r.BodyHTML, true, &r.UpdatedAt
	}
	return &t, nil
}

// ListTemplates returns every kind's template.
func (s *Service) ListTemplates(ctx context.Context) ([]Template, error) {
	out := make([]Template, 0, len(Kinds))
	for _, k := range Kinds {
		t, err := s.GetTemplate(ctx, k)
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, nil
}

// TemplateInput is the body of PUT /notices/templates/{kind}.
type TemplateInput struct {
	Subject  string `json:"subject"`
	BodyText string `json:"body_text"`
	BodyHTML string `json:"body_html"` // optional; empty sends the text as simple HTML
}

// SaveTemplate sets the library's own template for a kind, after checking
// that it renders (with sample data): one that does not is refused with the
// template error.
func (s *Service) SaveTemplate(ctx context.Context, kind string, in TemplateInput) (*Template, error) {
	if _, err := s.GetTemplate(ctx, kind); err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.Subject) == "" || strings.TrimSpace(in.BodyText) == "" {
		return nil, errs.Field("subject", "required", "send both subject and body_text")
	}
	if _, err := renderWith(Template{Subject: in.Subject, BodyText: in.BodyText, BodyHTML: in.BodyHTML}, sample); err != nil {
		return nil, errs.E(errs.Invalid, "invalid_template", "the template does not render: "+err.Error()).
			WithDetails(map[string]any{"fields": "see GET /api/v1/notices/templates for what a template can use"})
	}
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	if err := db.Exec(`INSERT INTO notice_templates (tenant_id, kind, subject, body_text, body_html, updated_at) VALUES (?,?,?,?,?,?)
ON CONFLICT (tenant_id, kind) DO UPDATE SET subject = EXCLUDED.subject, body_text = EXCLUDED.body_text,
  body_html = EXCLUDED.body_html, updated_at = EXCLUDED.updated_at`,
		tenant, kind, in.Subject, in.BodyText, in.BodyHTML, s.now()).Error; err != nil {
		return nil, fmt.Errorf("save notice template: %w", err)
	}
	return s.GetTemplate(ctx, kind)
}

// ResetTemplate goes back to the built-in template for a kind.
func (s *Service) ResetTemplate(ctx context.Context, kind string) (*Template, error) {
	if _, err := s.GetTemplate(ctx, kind); err != nil {
		return nil, err
	}
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	if err := db.Exec("DELETE FROM notice_templates WHERE kind = ?", kind).Error; err != nil {
		return nil, fmt.Errorf("reset notice template: %w", err)
	}
	return s.GetTemplate(ctx, kind)
}

// renderTemplate renders d with the library's template t. A library
// template that fails on real data (it rendered on the sample) falls back to
// the built-in one, so a notice is never lost to a template mistake.
func (s *Service) renderTemplate(t *Template, d Data) (rendered, error) {
	out, err := renderWith(*t, d)
	if err != nil && t.Custom {
		s.log.Warn("library notice template failed; using the built-in one", "kind", t.Kind, "error", err)
		out, err = renderWith(builtins[t.Kind], d)
	}
	return out, err
}

// PreviewInput is the body of POST /notices/templates/{kind}/preview: a
// real patron, and optionally an unsaved subject and text to try.
type PreviewInput struct {
	PatronID uuid.UUID `json:"patron_id"`
	Subject  string    `json:"subject"`
	BodyText string    `json:"body_text"`
	BodyHTML string    `json:"body_html"`
}

// Preview is a rendered notice that was not sent.
type Preview struct {
	Kind     string `json:"kind"`
	To       string `json:"to"`
	Subject  string `json:"subject"`
	BodyText string `json:"body_text"`
	BodyHTML string `json:"body_html"`
}

// PreviewTemplate renders a kind for a real patron without queueing it:
// their current loans for due_soon and overdue, their latest hold for the
// hold kinds (sample values where they have none).
func (s *Service) PreviewTemplate(ctx context.Context, kind string, in PreviewInput) (*Preview, error) {
	t, err := s.GetTemplate(ctx, kind)
	if err != nil {
		return nil, err
	}
	if in.Subject != "" || in.BodyText != "" {
		t.Subject, t.BodyText, t.BodyHTML = in.Subject, in.BodyText, in.BodyHTML
	}
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	var p struct {
		FirstName, LastName, CardNumber, Email, Library, Timezone, ExpiresOn string
	}
	r := db.Raw(`SELECT first_name, last_name, card_number, email, to_char(expires_on, 'YYYY-MM-DD') AS expires_on,
  (SELECT name FROM tenants WHERE id = app.current_tenant_id()) AS library,
  (SELECT timezone FROM tenants WHERE id = app.current_tenant_id()) AS timezone
FROM patrons WHERE id = ?`, in.PatronID).Scan(&p)
	if r.Error != nil {
		return nil, fmt.Errorf("preview patron: %w", r.Error)
	}
	if r.RowsAffected == 0 {
		return nil, errs.Field("patron_id", "patron_not_found", "patron_id names no patron of this library")
	}
	loc := tz.OrUTC(p.Timezone)
	d := Data{Library: p.Library, Date: s.now().In(loc).Format(time.DateOnly), Level: 1,
		Patron: PatronData{FirstName: p.FirstName, LastName: p.LastName, CardNumber: p.CardNumber, ExpiresOn: p.ExpiresOn,
			Name: strings.TrimSpace(p.FirstName + " " + p.LastName)}, Hold: sample.Hold,
		Balance: sample.Balance, Threshold: sample.Threshold}
	var loans []struct {
		Title, Barcode string
		DueAt          time.Time
		RenewalsLeft   int
	}
	if err := db.Raw(`SELECT b.title, i.barcode, l.due_at, greatest(l.renewals_allowed - l.renewals_used, 0) AS renewals_left
FROM loans l JOIN items i ON i.id = l.item_id JOIN bibs b ON b.id = l.bib_id
WHERE l.patron_id = ? AND l.status = 'active' ORDER BY l.due_at LIMIT 50`, in.PatronID).Scan(&loans).Error; err != nil {
		return nil, fmt.Errorf("preview loans: %w", err)
	}
	for _, l := range loans {
		d.Items = append(d.Items, ItemData{Title: l.Title, Barcode: l.Barcode, Due: l.DueAt.In(loc).Format("Mon 2 Jan 2006"),
			CanRenew: l.RenewalsLeft > 0})
	}
	if len(d.Items) == 0 {
		d.Items = sample.Items
	}
	var hold []struct {
		Title, Branch  string
		ShelfExpiresAt *time.Time
	}
	if err := db.Raw(`SELECT b.title, br.name AS branch, h.shelf_expires_at FROM holds h JOIN bibs b ON b.id = h.bib_id
JOIN branches br ON br.id = h.pickup_branch_id WHERE h.patron_id = ? ORDER BY h.requested_at DESC LIMIT 1`, in.PatronID).
		Scan(&hold).Error; err != nil {
		return nil, fmt.Errorf("preview hold: %w", err)
	}
	if len(hold) == 1 {
		h := *sample.Hold
		h.Title, h.Branch = hold[0].Title, hold[0].Branch
		if hold[0].ShelfExpiresAt != nil {
			h.PickupBy = hold[0].ShelfExpiresAt.In(loc).Format("Monday 2 January 2006")
		}
		d.Hold = &h
	}
	out, err := renderWith(*t, d)
	if err != nil {
		return nil, errs.E(errs.Invalid, "invalid_template", "the template does not render: "+err.Error())
	}
	return &Preview{Kind: kind, To: p.Email, Subject: out.Subject, BodyText: out.Text, BodyHTML: out.HTML}, nil
}
