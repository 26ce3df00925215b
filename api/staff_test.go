package api_test

import (
	"strings"
	"testing"

	"github.com/stacks-ils/stacks/api"
)

func TestStaff_RolesAndPermissions(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "staff", "library")
	east := addBranch(t, s, lib.Token, map[string]any{"name": "East", "code": "EAST"})["id"].(string)
	_, clerk := addStaff(t, s, lib, "clerk@staff.example.org", "circulation", lib.MainID)
	adminID, admin := addStaff(t, s, lib, "boss@staff.example.org", "admin", east)

	// A clerk may not read or manage staff: 403, not 404.
	want(t, call(t, s, "GET", "/api/v1/staff", clerk, nil), 403, "forbidden")
	want(t, call(t, s, "POST", "/api/v1/staff", clerk, map[string]any{"email": "x@y.example.org"}), 403, "forbidden")

	// An admin at East manages East only.
	want(t, call(t, s, "POST", "/api/v1/staff", admin, map[string]any{"email": "e1@staff.example.org",
		"password": "east clerk pw 1", "roles": []map[string]any{{"role": "circulation", "branch_id": east}}}), 201)
	want(t, call(t, s, "POST", "/api/v1/staff", admin, map[string]any{"email": "m1@staff.example.org",
		"password": "main clerk pw 1", "roles": []map[string]any{{"role": "circulation", "branch_id": lib.MainID}}}), 403)
	// ...and cannot grant a role stronger than their own.
	want(t, call(t, s, "POST", "/api/v1/staff", admin, map[string]any{"email": "o1@staff.example.org",
		"password": "would be owner 1", "roles": []map[string]any{{"role": "owner", "branch_id": east}}}), 403)
	// ...nor touch the owner.
	want(t, call(t, s, "PATCH", "/api/v1/staff/"+lib.OwnerID, admin, map[string]any{"name": "x"}), 403)
	// The owner can change the admin's roles; the list shows the change.
	r := call(t, s, "PATCH", "/api/v1/staff/"+adminID, lib.Token, map[string]any{"name": "Ada Boss",
		"roles": []map[string]any{{"role": "librarian", "branch_id": east}, {"role": "readonly", "branch_id": lib.RootID}}})
	want(t, r, 200)
	if r.Body["name"] != "Ada Boss" || len(r.Body["roles"].([]any)) != 2 {
		t.Fatalf("patched staff: %s", r.Raw)
	}
	// Duplicate email in the same library.
	want(t, call(t, s, "POST", "/api/v1/staff", lib.Token, map[string]any{"email": "CLERK@staff.example.org",
		"password": "another pw 123", "roles": []map[string]any{{"role": "readonly", "branch_id": lib.RootID}}}), 422, "email_taken")
	// Unknown role.
	want(t, call(t, s, "POST", "/api/v1/staff", lib.Token, map[string]any{"email": "q@staff.example.org",
		"password": "another pw 123", "roles": []map[string]any{{"role": "wizard", "branch_id": lib.RootID}}}), 422, "invalid_role")
	l := call(t, s, "GET", "/api/v1/staff?status=active", lib.Token, nil)
	want(t, l, 200)
	if n := len(l.Body["items"].([]any)); n != 4 {
		t.Fatalf("%d active staff, want 4: %s", n, l.Raw)
	}
}

func TestStaff_DeleteDisablesAndEndsSessions(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "staffdel", "library")
	id, tok := addStaff(t, s, lib, "leaver@staffdel.example.org", "librarian", lib.MainID)
	want(t, call(t, s, "GET", "/api/v1/me", tok, nil), 200)
	want(t, call(t, s, "DELETE", "/api/v1/staff/"+id, lib.Token, nil), 204)
	want(t, call(t, s, "GET", "/api/v1/me", tok, nil), 401)
	want(t, login(t, s, lib.Slug, "leaver@staffdel.example.org", "staff password 123"), 401)
	u := call(t, s, "GET", "/api/v1/staff/"+id, lib.Token, nil)
	want(t, u, 200)
	if u.Body["status"] != "disabled" {
		t.Fatalf("deleted staff user: %s", u.Raw)
	}
}

func TestStaff_LastOwnerCannotBeRemoved(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "lastowner", "library")
	want(t, call(t, s, "DELETE", "/api/v1/staff/"+lib.OwnerID, lib.Token, nil), 409, "last_owner")
	want(t, call(t, s, "PATCH", "/api/v1/staff/"+lib.OwnerID, lib.Token, map[string]any{"status": "disabled"}), 409, "last_owner")
	want(t, call(t, s, "PATCH", "/api/v1/staff/"+lib.OwnerID, lib.Token,
		map[string]any{"roles": []map[string]any{{"role": "admin", "branch_id": lib.RootID}}}), 409, "last_owner")
	// Nothing changed: the owner still works.
	me := call(t, s, "GET", "/api/v1/me", lib.Token, nil)
	want(t, me, 200)
	if !strings.Contains(string(me.Raw), `"role":"owner"`) {
		t.Fatalf("owner lost the role: %s", me.Raw)
	}
	// With a second owner, the first may step down.
	second, _ := addStaff(t, s, lib, "heir@lastowner.example.org", "owner", lib.RootID)
	_ = second
	want(t, call(t, s, "PATCH", "/api/v1/staff/"+lib.OwnerID, lib.Token,
		map[string]any{"roles": []map[string]any{{"role": "admin", "branch_id": lib.RootID}}}), 200)
}

func TestStaff_PasswordChangeEndsOtherSessions(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "pwchange", "library")
	other := login(t, s, lib.Slug, lib.OwnerEmail, lib.OwnerPassword).Body["token"].(string)
	want(t, call(t, s, "PATCH", "/api/v1/staff/"+lib.OwnerID, lib.Token, map[string]any{"password": "a brand new secret"}), 200)
	want(t, call(t, s, "GET", "/api/v1/me", lib.Token, nil), 200) // the session that changed it stays
	want(t, call(t, s, "GET", "/api/v1/me", other, nil), 401)
	want(t, login(t, s, lib.Slug, lib.OwnerEmail, "a brand new secret"), 200)
}

func TestAPIKeys_IssueUseRevoke(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "keys", "library")
	r := call(t, s, "POST", "/api/v1/api-keys", lib.Token, map[string]any{"name": "discovery layer", "role": "readonly", "branch_id": lib.RootID})
	want(t, r, 201)
	key, id := r.Body["key"].(string), r.Body["id"].(string)
	if !strings.HasPrefix(key, "sk_") {
		t.Fatalf("key %q", key)
	}
	me := call(t, s, "GET", "/api/v1/me", key, nil)
	want(t, me, 200)
	if me.Body["api_key"].(map[string]any)["name"] != "discovery layer" {
		t.Fatalf("me with key: %s", me.Raw)
	}
	// The key is shown once: lists never carry it.
	l := call(t, s, "GET", "/api/v1/api-keys", lib.Token, nil)
	want(t, l, 200)
	if strings.Contains(string(l.Raw), key) || strings.Contains(string(l.Raw), `"key"`) {
		t.Fatalf("list leaks the key: %s", l.Raw)
	}
	// A readonly key reads but may not manage.
	want(t, call(t, s, "GET", "/api/v1/branches", key, nil), 200)
	want(t, call(t, s, "POST", "/api/v1/branches", key, map[string]any{"name": "k", "code": "K"}), 403)
	want(t, call(t, s, "POST", "/api/v1/api-keys", lib.Token, map[string]any{"name": "x", "role": "owner", "branch_id": lib.RootID}), 422, "invalid_role")
	want(t, call(t, s, "DELETE", "/api/v1/api-keys/"+id, lib.Token, nil), 204)
	want(t, call(t, s, "GET", "/api/v1/me", key, nil), 401)
}
