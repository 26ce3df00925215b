package api_test

import (
	"io"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stacks-ils/stacks/api"
)

// page fetches an OPAC page (HTML) through the real app.
func page(t *testing.T, s *api.Server, method, path string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := s.App.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("%s %s: content type %q", method, path, ct)
	}
	return res.StatusCode, string(b)
}

var renewLinkRe = regexp.MustCompile(`/opac/renew/(pl_[0-9a-f]{32}_[A-Za-z0-9_-]{43})`)

// The due-soon digest carries a link to the patron's renew page: opening
// it changes nothing (mail scanners follow links), its button renews what
// the rules allow and says why not for the rest; a mangled or another
// library's token is a 404 page.
func TestOPAC_RenewLinkInDueSoonMail(t *testing.T) {
	s := newServer(t, api.Config{})
	d := newDesk(t, s, "opac")
	other := newDesk(t, s, "opac-b")
	main := d.lib.MainID
	d.rule(map[string]any{"item_type": "dvd", "loan_days": 7, "renewals": 0})
	p := d.patron(main, map[string]any{"first_name": "Renée"})
	book, dvd := d.item(main, "book"), d.item(main, "dvd")
	for _, it := range []map[string]any{book, dvd} {
		want(t, d.checkout(d.lib.Token, p, it, main, map[string]any{"at": time.Now().Add(-time.Hour).Format(time.RFC3339)}), 201)
	}
	// A run dated 3 days before the book's due date (21-day loans), a date
	// in the library's time zone: the UTC date is a day ahead of Chicago's
	// every evening.
	chicago, _ := time.LoadLocation("America/Chicago")
	due := time.Now().Add(-time.Hour).In(chicago).AddDate(0, 0, 21-3)
	r := call(t, s, "POST", "/api/v1/notices/run", d.lib.Token, map[string]any{"kind": "due_soon", "date": due.Format(time.DateOnly)})
	want(t, r, 202)
	nr := call(t, s, "GET", "/api/v1/notices?kind=due_soon&patron_id="+p["id"].(string), d.lib.Token, nil)
	items := nr.Body["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("due-soon notices: %s", nr.Raw)
	}
	text := items[0].(map[string]any)["body_text"].(string)
	m := renewLinkRe.FindStringSubmatch(text)
	if m == nil || !strings.Contains(text, "Renew them online: ") {
		t.Fatalf("no renew link in:\n%s", text)
	}
	link := "/opac/renew/" + m[1]

	status, html := page(t, s, "GET", link, nil)
	if status != 200 || !strings.Contains(html, "Hello Renée") || !strings.Contains(html, "Circulation title 2") ||
		!strings.Contains(html, `<form method="post" action="`+link+`">`) {
		t.Fatalf("renew page: %d\n%s", status, html)
	}
	loans := call(t, s, "GET", "/api/v1/patrons/"+p["id"].(string)+"/loans", d.lib.Token, nil)
	if strings.Count(string(loans.Raw), `"renewals_used":0`) != 2 {
		t.Fatalf("opening the page renewed something: %s", loans.Raw)
	}

	status, html = page(t, s, "POST", link, url.Values{})
	if status != 200 || !strings.Contains(html, "1 renewed, 1 not renewed.") || !strings.Contains(html, "not renewed: ") {
		t.Fatalf("renew: %d\n%s", status, html)
	}
	loans = call(t, s, "GET", "/api/v1/patrons/"+p["id"].(string)+"/loans", d.lib.Token, nil)
	if strings.Count(string(loans.Raw), `"renewals_used":1`) != 1 {
		t.Fatalf("after renewing: %s", loans.Raw)
	}

	// Mangled, and another library's id on this token: nothing found.
	bad := []string{"/opac/renew/nonsense", "/opac/renew/" + strings.Replace(m[1], m[1][3:35], strings.ReplaceAll(other.lib.TenantID, "-", ""), 1),
		link[:len(link)-2] + "xx"}
	for _, b := range bad {
		if status, html := page(t, s, "GET", b, nil); status != 404 || !strings.Contains(html, "not valid") {
			t.Errorf("%s: %d", b, status)
		}
	}
	// Expired links stop working.
	d.sql("UPDATE patron_links SET expires_at = now() - interval '1 second'")
	if status, _ := page(t, s, "POST", link, url.Values{}); status != 404 {
		t.Fatalf("expired link: %d", status)
	}
}

// The verification mail's link opens a page whose button confirms the
// address; the code works once.
func TestOPAC_VerifyLink(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "opacv", "library")
	setSelfRegistration(t, lib.TenantID, "email_verification")
	r := call(t, s, "POST", "/api/v1/opac/register", "", map[string]any{"library": lib.Slug, "first_name": "Vera", "last_name": "Fied",
		"email": "vera@example.org", "pin": "2468"})
	want(t, r, 201)
	nr := call(t, s, "GET", "/api/v1/notices?kind=verification", lib.Token, nil)
	text := nr.Body["items"].([]any)[0].(map[string]any)["body_text"].(string)
	i := strings.Index(text, "/opac/verify?")
	if i < 0 {
		t.Fatalf("no verify link in:\n%s", text)
	}
	link := strings.Fields(text[i:])[0]
	u, _ := url.Parse(link)
	status, html := page(t, s, "GET", link, nil)
	if status != 200 || !strings.Contains(html, `name="code" value="`+u.Query().Get("code")+`"`) {
		t.Fatalf("verify page: %d\n%s", status, html)
	}
	form := url.Values{"library": {lib.Slug}, "code": {u.Query().Get("code")}}
	if status, html := page(t, s, "POST", "/opac/verify", form); status != 200 || !strings.Contains(html, "confirmed") {
		t.Fatalf("confirm: %d\n%s", status, html)
	}
	g := call(t, s, "GET", "/api/v1/patrons/"+r.Body["patron_id"].(string), lib.Token, nil)
	if g.Body["status"] != "active" {
		t.Fatalf("patron after confirming: %s", g.Raw)
	}
	if status, html := page(t, s, "POST", "/opac/verify", form); status != 422 || !strings.Contains(html, "not valid") {
		t.Fatalf("second use: %d\n%s", status, html)
	}
}
