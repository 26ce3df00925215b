// Package opac is what patrons reach without a login: the pages behind the
// links in their mail. "Renew my loans" (a token per mail, stored hashed,
// expiring) and "confirm my address" (the self-registration code). Each
// link opens a page with one button: the change happens on POST, so mail
// scanners that follow links change nothing.
package opac

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/circulation"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/api/patrons"
	"github.com/stacks-ils/stacks/api/tz"
	"github.com/stacks-ils/stacks/tenants"
)

// LinkTTL is how long a renew link in a mail works.
const LinkTTL = 14 * 24 * time.Hour

// Service serves the patron pages and makes their links.
type Service struct {
	pool    *tenants.Pool
	circ    *circulation.Service
	patrons *patrons.Service
	baseURL string
	log     *slog.Logger
	now     func() time.Time
}

// NewService builds the OPAC pages; links start with baseURL (BASE_URL).
func NewService(pool *tenants.Pool, circ *circulation.Service, pat *patrons.Service, baseURL string, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{pool: pool, circ: circ, patrons: pat, baseURL: baseURL, log: log, now: time.Now}
}

// RenewURL makes a renew link for a patron's mail, in the current tenant
// transaction (it implements notices.Links).
func (s *Service) RenewURL(ctx context.Context, patronID uuid.UUID) (string, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return "", err
	}
	tenant, _ := tenants.CurrentTenant(ctx)
	token, hash := tenants.NewPatronLinkToken(tenant)
	if err := db.Exec(`INSERT INTO patron_links (tenant_id, id, patron_id, purpose, token_hash, expires_at) VALUES (?,?,?,'renew',?,?)`,
		tenant, tenants.NewID(), patronID, hash, s.now().Add(LinkTTL)).Error; err != nil {
		return "", fmt.Errorf("renew link: %w", err)
	}
	return s.baseURL + "/opac/renew/" + token, nil
}

// VerifyURL is the link that confirms a self-registered patron's address
// (it implements notices.Links).
func (s *Service) VerifyURL(library, code string) string {
	return s.baseURL + "/opac/verify?" + url.Values{"library": {library}, "code": {code}}.Encode()
}

// Routes are the public patron pages.
func (s *Service) Routes() []httpx.Route {
	return []httpx.Route{
		{Method: "GET", Path: "/opac/renew/:token", Public: true, Summary: "Page: a patron's loans, with a button to renew them (link in due-soon mail)", Handler: s.renewPage},
		{Method: "POST", Path: "/opac/renew/:token", Public: true, Summary: "Renew a patron's loans from a mailed link", Handler: s.renew},
		{Method: "GET", Path: "/opac/verify", Public: true, Summary: "Page: confirm a self-registered patron's email address (link in the verification mail)", Handler: s.verifyPage},
		{Method: "POST", Path: "/opac/verify", Public: true, Summary: "Confirm a self-registered patron's email address", Handler: s.verify},
	}
}

// pageLoan is one loan on the renew page.
type pageLoan struct {
	ID                        uuid.UUID
	Title, Barcode, Due, Note string
}

type pageData struct {
	Title, Library, Patron, Message, Action string
	Loans                                   []pageLoan
	Button                                  string
	Hidden                                  map[string]string
}

var page = template.Must(template.New("opac").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}} - {{.Library}}</title></head>
<body><h1>{{.Library}}</h1><h2>{{.Title}}</h2>
{{if .Patron}}<p>Hello {{.Patron}},</p>{{end}}
{{if .Message}}<p>{{.Message}}</p>{{end}}
{{if .Loans}}<table><thead><tr><th>Title</th><th>Barcode</th><th>Due</th><th></th></tr></thead><tbody>
{{range .Loans}}<tr><td>{{.Title}}</td><td>{{.Barcode}}</td><td>{{.Due}}</td><td>{{.Note}}</td></tr>
{{end}}</tbody></table>{{end}}
{{if .Button}}<form method="post" action="{{.Action}}">{{range $k, $v := .Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
<button type="submit">{{.Button}}</button></form>{{end}}
</body></html>
`))

func render(c *fiber.Ctx, status int, d pageData) error {
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return page.Execute(c.Response().BodyWriter(), d)
}

// linkTx opens the transaction of the library a renew token names and
// finds the link's patron; an unknown, mangled or expired token is a 404
// page.
func (s *Service) linkTx(c *fiber.Ctx, fn func(ctx context.Context, patronID uuid.UUID, lib *tenants.Tenant) error) error {
	token := c.Params("token")
	tenant, hash, ok := tenants.PatronLinkToken(token)
	gone := pageData{Title: "Link not valid", Library: "Library", Message: "This link is not valid or has expired. " +
		"Renew at the library's desk, or by phone."}
	if !ok {
		return render(c, fiber.StatusNotFound, gone)
	}
	lib, err := s.pool.TenantByID(c.UserContext(), tenant)
	if err != nil {
		return err
	}
	if lib == nil || lib.Status != "active" {
		return render(c, fiber.StatusNotFound, gone)
	}
	var found bool
	err = s.pool.Tx(c.UserContext(), tenant, func(ctx context.Context, db *gorm.DB) error {
		var link struct{ PatronID uuid.UUID }
		r := db.Raw(`SELECT patron_id FROM patron_links WHERE token_hash = ? AND purpose = 'renew' AND expires_at > ?`, hash, s.now()).Scan(&link)
		if r.Error != nil || r.RowsAffected == 0 {
			return r.Error
		}
		found = true
		sys, err := tenants.SystemPrincipal(ctx)
		if err != nil {
			return err
		}
		return fn(tenants.WithPrincipal(ctx, sys), link.PatronID, lib)
	})
	if err == nil && !found {
		gone.Library = lib.Name
		return render(c, fiber.StatusNotFound, gone)
	}
	return err
}

func (s *Service) renewPage(c *fiber.Ctx) error {
	return s.linkTx(c, func(ctx context.Context, patronID uuid.UUID, lib *tenants.Tenant) error {
		p, err := s.patrons.Get(ctx, patronID)
		if err != nil {
			return err
		}
		loans, err := s.loans(ctx, patronID, lib)
		if err != nil {
			return err
		}
		d := pageData{Title: "Renew your loans", Library: lib.Name, Patron: p.FirstName, Loans: loans,
			Action: "/opac/renew/" + c.Params("token")}
		if len(loans) == 0 {
			d.Message = "You have nothing on loan."
		} else {
			d.Message, d.Button = "These are on loan to you. Renew them all in one click; any that cannot be renewed will say why.", "Renew all"
		}
		return render(c, fiber.StatusOK, d)
	})
}

func (s *Service) renew(c *fiber.Ctx) error {
	return s.linkTx(c, func(ctx context.Context, patronID uuid.UUID, lib *tenants.Tenant) error {
		p, err := s.patrons.Get(ctx, patronID)
		if err != nil {
			return err
		}
		res, err := s.circ.RenewAll(ctx, patronID, circulation.RenewInput{})
		if err != nil {
			return err
		}
		db, _ := tenants.DB(ctx)
		_, hash, _ := tenants.PatronLinkToken(c.Params("token"))
		if err := db.Exec(`UPDATE patron_links SET used_at = ? WHERE token_hash = ?`, s.now(), hash).Error; err != nil {
			return fmt.Errorf("mark link used: %w", err)
		}
		loans, err := s.loans(ctx, patronID, lib)
		if err != nil {
			return err
		}
		notes := map[uuid.UUID]string{}
		for _, r := range res.Results {
			if r.Error != nil {
				notes[r.LoanID] = "not renewed: " + r.Error.Message
			} else {
				notes[r.LoanID] = "renewed"
			}
		}
		for i := range loans {
			loans[i].Note = notes[loans[i].ID]
		}
		return render(c, fiber.StatusOK, pageData{Title: "Renewals", Library: lib.Name, Patron: p.FirstName, Loans: loans,
			Message: fmt.Sprintf("%d renewed, %d not renewed.", res.Renewed, res.Refused)})
	})
}

// loans lists the patron's current loans with due dates in the library's
// time zone.
func (s *Service) loans(ctx context.Context, patronID uuid.UUID, lib *tenants.Tenant) ([]pageLoan, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return nil, err
	}
	loc := tz.OrUTC(lib.Timezone)
	var rows []struct {
		ID             uuid.UUID
		Title, Barcode string
		DueAt          time.Time
	}
	// Read-only joins across circulation and the catalogue.
	if err := db.Raw(`SELECT l.id, b.title, i.barcode, l.due_at FROM loans l JOIN items i ON i.id = l.item_id
JOIN bibs b ON b.id = l.bib_id WHERE l.patron_id = ? AND l.status = 'active' ORDER BY l.due_at, b.title_sort`, patronID).
		Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("patron's loans: %w", err)
	}
	out := make([]pageLoan, len(rows))
	for i, r := range rows {
		out[i] = pageLoan{ID: r.ID, Title: r.Title, Barcode: r.Barcode, Due: r.DueAt.In(loc).Format("Mon 2 Jan 2006")}
	}
	return out, nil
}

func (s *Service) verifyPage(c *fiber.Ctx) error {
	lib, code := c.Query("library"), c.Query("code")
	if lib == "" || code == "" {
		return render(c, fiber.StatusNotFound, pageData{Title: "Link not valid", Library: "Library",
			Message: "This link is incomplete. Copy the whole link from the email, or enter the code where you registered."})
	}
	return render(c, fiber.StatusOK, pageData{Title: "Confirm your email address", Library: libraryName(c, s.pool, lib),
		Message: "Confirm this email address for your library card.", Button: "Confirm", Action: "/opac/verify",
		Hidden: map[string]string{"library": lib, "code": code}})
}

func (s *Service) verify(c *fiber.Ctx) error {
	lib := c.FormValue("library")
	v, err := s.patrons.VerifyEmail(c.UserContext(), patrons.VerifyInput{Library: lib, Token: c.FormValue("code")})
	name := libraryName(c, s.pool, lib)
	if e := errs.As(err); e != nil && e.Kind != errs.Internal {
		return render(c, httpx.Status(e.Kind), pageData{Title: "Not confirmed", Library: name, Message: e.Message + "."})
	}
	if err != nil {
		return err
	}
	msg := "Thank you: your email address is confirmed and your card is active."
	if v.Status != patrons.StatusActive {
		msg = "Thank you: your email address is confirmed. The library will activate your card shortly."
	}
	return render(c, fiber.StatusOK, pageData{Title: "Email address confirmed", Library: name, Message: msg})
}

// libraryName is the library's name for a page, or a neutral word.
func libraryName(c *fiber.Ctx, pool *tenants.Pool, slug string) string {
	if t, err := pool.TenantBySlug(c.UserContext(), slug); err == nil && t != nil {
		return t.Name
	}
	return "Library"
}

// PurgeExpired deletes the library's renew links that expired (the nightly
// job runs it in the tenant transaction).
func (s *Service) PurgeExpired(ctx context.Context) (int64, error) {
	db, err := tenants.DB(ctx)
	if err != nil {
		return 0, err
	}
	r := db.Exec("DELETE FROM patron_links WHERE expires_at < ?", s.now())
	if r.Error != nil {
		return 0, fmt.Errorf("purge expired links: %w", r.Error)
	}
	return r.RowsAffected, nil
}
