package api_test

import (
	"strings"
	"testing"

	"github.com/stacks-ils/stacks/api"
	"github.com/stacks-ils/stacks/tenants"
)

func TestSignup_Validation(t *testing.T) {
	s := newServer(t, api.Config{})
	taken := signup(t, s, "taken", "library")
	good := func(mod func(m map[string]any)) map[string]any {
		m := map[string]any{"library_name": "Springfield Public Library", "slug": uniqueSlug("spring"),
			"admin_email": "head@springfield.example.org", "admin_password": "Seymour Skinner 1990",
			"kind": "library", "timezone": "America/Chicago", "country": "us"}
		if mod != nil {
			mod(m)
		}
		return m
	}
	cases := []struct {
		name   string
		mod    func(m map[string]any)
		status int
		code   string
	}{
		{"ok", nil, 201, ""},
		{"consortium", func(m map[string]any) { m["kind"] = "consortium" }, 201, ""},
		{"slug taken", func(m map[string]any) { m["slug"] = taken.Slug }, 409, "slug_taken"},
		{"slug too short", func(m map[string]any) { m["slug"] = "ab" }, 422, "invalid_slug"},
		{"slug too long", func(m map[string]any) { m["slug"] = strings.Repeat("a", 41) }, 422, "invalid_slug"},
		{"slug uppercase", func(m map[string]any) { m["slug"] = "Spring" }, 422, "invalid_slug"},
		{"slug leading hyphen", func(m map[string]any) { m["slug"] = "-spring" }, 422, "invalid_slug"},
		{"slug reserved", func(m map[string]any) { m["slug"] = "admin" }, 422, "slug_reserved"},
		{"short password", func(m map[string]any) { m["admin_password"] = "abc123456" }, 422, "weak_password"},
		{"common password", func(m map[string]any) { m["admin_password"] = "Password123" }, 422, "weak_password"},
		{"password with email name", func(m map[string]any) { m["admin_password"] = "head-of-the-library" }, 422, "weak_password"},
		{"malformed email", func(m map[string]any) { m["admin_email"] = "head at springfield" }, 422, "invalid_email"},
		{"email without domain dot", func(m map[string]any) { m["admin_email"] = "head@localhost" }, 422, "invalid_email"},
		{"bad kind", func(m map[string]any) { m["kind"] = "museum" }, 422, "invalid_kind"},
		{"bad timezone", func(m map[string]any) { m["timezone"] = "Mars/Olympus" }, 422, "invalid_timezone"},
		{"bad country", func(m map[string]any) { m["country"] = "XX" }, 422, "invalid_country"},
		{"missing name", func(m map[string]any) { m["library_name"] = " " }, 422, "invalid_name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, s, "POST", "/api/v1/signup", "", good(tc.mod))
			want(t, r, tc.status, tc.code)
			if tc.status == 201 {
				ten := r.Body["tenant"].(map[string]any)
				if ten["id"] == "" || r.Body["token"] == "" || r.Body["user"].(map[string]any)["roles"].([]any)[0].(map[string]any)["role"] != "owner" {
					t.Fatalf("incomplete signup result: %s", r.Raw)
				}
				if strings.Contains(string(r.Raw), "password") {
					t.Fatalf("signup response leaks a password field: %s", r.Raw)
				}
			}
		})
	}
}

// A failed signup writes nothing: the slug stays free.
func TestSignup_FailureLeavesNoTrace(t *testing.T) {
	s := newServer(t, api.Config{})
	slug := uniqueSlug("atomic")
	body := map[string]any{"library_name": "Atomic", "slug": slug, "admin_email": "a@atomic.example.org",
		"admin_password": "short", "kind": "library", "timezone": "UTC", "country": "GB"}
	want(t, call(t, s, "POST", "/api/v1/signup", "", body), 422)
	body["admin_password"] = "a much better password"
	want(t, call(t, s, "POST", "/api/v1/signup", "", body), 201)
}

func TestSignup_RateLimitedPerIP(t *testing.T) {
	s := newServerWith(t, api.Config{}, tenants.Options{SignupsPerIPPerHour: 2})
	for i := 0; i < 3; i++ {
		r := call(t, s, "POST", "/api/v1/signup", "", map[string]any{"library_name": "R", "slug": uniqueSlug("rate"),
			"admin_email": "r@rate.example.org", "admin_password": "rate limited pw", "kind": "library", "timezone": "UTC", "country": "GB"})
		if i < 2 {
			want(t, r, 201)
		} else {
			want(t, r, 429, "rate_limited")
		}
	}
}

func login(t *testing.T, s *api.Server, slug, email, pw string) resp {
	t.Helper()
	return call(t, s, "POST", "/api/v1/auth/login", "", map[string]any{"tenant": slug, "email": email, "password": pw})
}

func TestLogin_SameAnswerForUnknownEmailAndWrongPassword(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "login", "library")
	ok := login(t, s, lib.Slug, strings.ToUpper(lib.OwnerEmail), lib.OwnerPassword)
	want(t, ok, 200)
	if ok.Body["token"] == "" || ok.Body["expires_at"] == "" {
		t.Fatalf("login result: %s", ok.Raw)
	}
	wrongPw := login(t, s, lib.Slug, lib.OwnerEmail, "not the password")
	noUser := login(t, s, lib.Slug, "nobody@"+lib.Slug+".example.org", "not the password")
	noTenant := login(t, s, "no-such-library-x", lib.OwnerEmail, lib.OwnerPassword)
	for _, r := range []resp{wrongPw, noUser, noTenant} {
		want(t, r, 401, "invalid_credentials")
		if string(r.Raw) != string(wrongPw.Raw) {
			t.Fatalf("answers differ: %s vs %s", r.Raw, wrongPw.Raw)
		}
	}
}

func TestLogin_LocksOutAfterRepeatedFailures(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "lockout", "library")
	for i := 0; i < 5; i++ {
		want(t, login(t, s, lib.Slug, lib.OwnerEmail, "guess number "+string(rune('a'+i))), 401)
	}
	// Now even the right password is refused until the window passes.
	r := login(t, s, lib.Slug, lib.OwnerEmail, lib.OwnerPassword)
	want(t, r, 429, "login_locked")
	if !strings.Contains(r.Body["error"].(map[string]any)["message"].(string), "minutes") {
		t.Fatalf("message should say when to retry: %s", r.Raw)
	}
}

func TestLogout_RevokesTheToken(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "logout", "library")
	want(t, call(t, s, "GET", "/api/v1/me", lib.Token, nil), 200)
	want(t, call(t, s, "POST", "/api/v1/auth/logout", lib.Token, nil), 204)
	want(t, call(t, s, "GET", "/api/v1/me", lib.Token, nil), 401, "invalid_token")
}

func TestLogin_TokenOfOneTenantIsUselessForAnother(t *testing.T) {
	s := newServer(t, api.Config{})
	a := signup(t, s, "tok-a", "library")
	b := signup(t, s, "tok-b", "library")
	// Same email and password in both libraries: credentials of A do not log into B's account.
	want(t, login(t, s, b.Slug, a.OwnerEmail, a.OwnerPassword), 401)
	// A's token rewritten to name tenant B: the hash lookup runs in B's rows and finds nothing.
	bHex := strings.ReplaceAll(b.TenantID, "-", "")
	parts := strings.SplitN(a.Token, "_", 3)
	forged := parts[0] + "_" + bHex + "_" + parts[2]
	want(t, call(t, s, "GET", "/api/v1/me", forged, nil), 401, "invalid_token")
	me := call(t, s, "GET", "/api/v1/me", a.Token, nil)
	want(t, me, 200)
	if me.Body["tenant"].(map[string]any)["id"] != a.TenantID {
		t.Fatalf("me shows tenant %v, want %s", me.Body["tenant"], a.TenantID)
	}
}

func TestMe_ListsPermissions(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "me", "library")
	_, tok := addStaff(t, s, lib, "desk@me.example.org", tenants.RoleCirculation, lib.MainID)
	me := call(t, s, "GET", "/api/v1/me", tok, nil)
	want(t, me, 200)
	perms := strings.Join(func() []string {
		var out []string
		for _, p := range me.Body["permissions"].([]any) {
			out = append(out, p.(string))
		}
		return out
	}(), ",")
	if !strings.Contains(perms, "circulation.circulate") || strings.Contains(perms, "staff.manage") {
		t.Fatalf("circulation clerk permissions: %s", perms)
	}
}

func TestTenantSettings(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "settings", "library")
	_, desk := addStaff(t, s, lib, "desk@settings.example.org", tenants.RoleCirculation, lib.MainID)
	g := call(t, s, "GET", "/api/v1/tenant", desk, nil)
	want(t, g, 200)
	if g.Body["slug"] != lib.Slug || g.Body["timezone"] != "America/Chicago" {
		t.Fatalf("tenant: %s", g.Raw)
	}
	want(t, call(t, s, "PATCH", "/api/v1/tenant", desk, map[string]any{"name": "x"}), 403)
	cases := []struct {
		body   map[string]any
		status int
		code   string
	}{
		{map[string]any{"timezone": "Mars/Base"}, 422, "invalid_timezone"},
		{map[string]any{"country": "ZZ"}, 422, "invalid_country"},
		{map[string]any{"name": " "}, 422, "invalid_name"},
		{map[string]any{"slug": "new"}, 400, "unknown_field"},
	}
	for _, c := range cases {
		want(t, call(t, s, "PATCH", "/api/v1/tenant", lib.Token, c.body), c.status, c.code)
	}
	r := call(t, s, "PATCH", "/api/v1/tenant", lib.Token, map[string]any{"name": "Springfield Libraries", "timezone": "Europe/Paris", "country": "fr"})
	want(t, r, 200)
	if r.Body["name"] != "Springfield Libraries" || r.Body["timezone"] != "Europe/Paris" || r.Body["country"] != "FR" {
		t.Fatalf("updated tenant: %s", r.Raw)
	}
	// Branches without their own zone follow the library's.
	b := call(t, s, "GET", "/api/v1/branches/"+lib.MainID, lib.Token, nil)
	if b.Body["effective_timezone"] != "Europe/Paris" {
		t.Fatalf("branch zone after the library's changed: %s", b.Raw)
	}
}
