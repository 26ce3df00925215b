package api_test

import (
	"testing"

	"github.com/stacks-ils/stacks/api"
)

func TestBranches_ConsortiumTree(t *testing.T) {
	s := newServer(t, api.Config{})
	c := signup(t, s, "tree", "consortium")
	north := addBranch(t, s, c.Token, map[string]any{"name": "North Library", "code": "north", "timezone": "America/Denver"})
	if north["kind"] != "library" || north["code"] != "NORTH" || north["effective_timezone"] != "America/Denver" {
		t.Fatalf("member library: %v", north)
	}
	nid := north["id"].(string)
	ne := addBranch(t, s, c.Token, map[string]any{"name": "North East", "code": "N-EAST", "parent_id": nid,
		"opening_hours": map[string]any{"mon": []map[string]string{{"opens": "09:00", "closes": "12:00"}, {"opens": "13:00", "closes": "17:00"}}}})
	if ne["kind"] != "branch" || ne["effective_timezone"] != "America/Denver" {
		t.Fatalf("branch under member inherits the member's zone: %v", ne)
	}
	neid := ne["id"].(string)

	cases := []struct {
		name   string
		method string
		path   string
		body   map[string]any
		status int
		code   string
	}{
		{"code taken", "POST", "/api/v1/branches", map[string]any{"name": "Dup", "code": "NORTH"}, 422, "code_taken"},
		{"branch cannot contain units", "POST", "/api/v1/branches", map[string]any{"name": "X", "code": "X1", "parent_id": neid}, 422, "invalid_parent"},
		{"library under library", "POST", "/api/v1/branches", map[string]any{"name": "X", "code": "X2", "parent_id": nid, "kind": "library"}, 422, "invalid_kind"},
		{"bad code", "POST", "/api/v1/branches", map[string]any{"name": "X", "code": "no spaces"}, 422, "invalid_code"},
		{"bad timezone", "POST", "/api/v1/branches", map[string]any{"name": "X", "code": "X3", "timezone": "Nowhere/Land"}, 422, "invalid_timezone"},
		{"hours overlap", "POST", "/api/v1/branches", map[string]any{"name": "X", "code": "X4",
			"opening_hours": map[string]any{"tue": []map[string]string{{"opens": "09:00", "closes": "14:00"}, {"opens": "13:00", "closes": "17:00"}}}}, 422, "invalid_opening_hours"},
		{"hours backwards", "POST", "/api/v1/branches", map[string]any{"name": "X", "code": "X5",
			"opening_hours": map[string]any{"wed": []map[string]string{{"opens": "17:00", "closes": "09:00"}}}}, 422, "invalid_opening_hours"},
		{"unknown day", "POST", "/api/v1/branches", map[string]any{"name": "X", "code": "X6",
			"opening_hours": map[string]any{"funday": []map[string]string{}}}, 422, "invalid_opening_hours"},
		{"move under own child", "PATCH", "/api/v1/branches/" + nid, map[string]any{"parent_id": neid}, 422, "invalid_parent"},
		{"move root", "PATCH", "/api/v1/branches/" + c.RootID, map[string]any{"parent_id": nid}, 422, "invalid_parent"},
		{"delete root", "DELETE", "/api/v1/branches/" + c.RootID, nil, 409, "root_branch"},
		{"delete unit with children", "DELETE", "/api/v1/branches/" + nid, nil, 409, "branch_in_use"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != nil {
				body = tc.body
			}
			want(t, call(t, s, tc.method, tc.path, c.Token, body), tc.status, tc.code)
		})
	}

	// Move North East to the consortium's main branch's level; its zone follows the new ancestors.
	moved := call(t, s, "PATCH", "/api/v1/branches/"+neid, c.Token, map[string]any{"parent_id": c.RootID})
	want(t, moved, 200)
	if moved.Body["effective_timezone"] != "America/Chicago" || len(moved.Body["path"].([]any)) != 2 {
		t.Fatalf("moved branch: %s", moved.Raw)
	}
	// Clearing an override falls back to the tenant's zone.
	cleared := call(t, s, "PATCH", "/api/v1/branches/"+nid, c.Token, map[string]any{"timezone": ""})
	want(t, cleared, 200)
	if cleared.Body["timezone"] != nil || cleared.Body["effective_timezone"] != "America/Chicago" {
		t.Fatalf("cleared zone: %s", cleared.Raw)
	}
	// Now North is empty and can go.
	want(t, call(t, s, "DELETE", "/api/v1/branches/"+nid, c.Token, nil), 204)
	want(t, call(t, s, "GET", "/api/v1/branches/"+nid, c.Token, nil), 404)
}

func TestBranches_InUseByStaffOrKeysIsConflict(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "inuse", "library")
	b := addBranch(t, s, lib.Token, map[string]any{"name": "West", "code": "WEST"})["id"].(string)
	staffID, _ := addStaff(t, s, lib, "w@inuse.example.org", "circulation", b)
	want(t, call(t, s, "DELETE", "/api/v1/branches/"+b, lib.Token, nil), 409, "branch_in_use")
	want(t, call(t, s, "PATCH", "/api/v1/staff/"+staffID, lib.Token,
		map[string]any{"roles": []map[string]any{{"role": "circulation", "branch_id": lib.MainID}}}), 200)
	k := call(t, s, "POST", "/api/v1/api-keys", lib.Token, map[string]any{"name": "kiosk", "role": "readonly", "branch_id": b})
	want(t, k, 201)
	want(t, call(t, s, "DELETE", "/api/v1/branches/"+b, lib.Token, nil), 409, "branch_in_use")
}

// A role granted at an org unit covers its subtree and nothing else.
func TestBranches_PermissionsFollowTheSubtree(t *testing.T) {
	s := newServer(t, api.Config{})
	c := signup(t, s, "subtree", "consortium")
	north := addBranch(t, s, c.Token, map[string]any{"name": "North", "code": "NORTH"})["id"].(string)
	south := addBranch(t, s, c.Token, map[string]any{"name": "South", "code": "SOUTH"})["id"].(string)
	_, northAdmin := addStaff(t, s, c, "admin@north.example.org", "admin", north)
	want(t, call(t, s, "POST", "/api/v1/branches", northAdmin, map[string]any{"name": "N1", "code": "N1", "parent_id": north}), 201)
	want(t, call(t, s, "POST", "/api/v1/branches", northAdmin, map[string]any{"name": "S1", "code": "S1", "parent_id": south}), 403)
	want(t, call(t, s, "PATCH", "/api/v1/branches/"+south, northAdmin, map[string]any{"name": "mine"}), 403)
	want(t, call(t, s, "GET", "/api/v1/branches/"+south, northAdmin, nil), 200) // the directory is shared
}

func TestBranches_KeysetPagination(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "pages", "library")
	for _, code := range []string{"P1", "P2", "P3", "P4", "P5"} {
		addBranch(t, s, lib.Token, map[string]any{"name": code, "code": code})
	}
	seen := map[string]bool{}
	url, pages := "/api/v1/branches?limit=3", 0
	for {
		r := call(t, s, "GET", url, lib.Token, nil)
		want(t, r, 200)
		pages++
		for _, it := range r.Body["items"].([]any) {
			id := it.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("id %s on two pages", id)
			}
			seen[id] = true
		}
		next, ok := r.Body["next_cursor"].(string)
		if !ok {
			break
		}
		url = "/api/v1/branches?limit=3&cursor=" + next
	}
	if len(seen) != 7 || pages != 3 {
		t.Fatalf("saw %d branches on %d pages, want 7 on 3", len(seen), pages)
	}
}
