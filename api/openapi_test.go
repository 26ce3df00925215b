package api_test

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stacks-ils/stacks/api"
)

// The OpenAPI document and the mounted routes must describe the same API:
// a route missing from the document, or a documented route that does not
// exist, fails here. Permissions must agree too.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi version %q, want 3.1.x", doc.OpenAPI)
	}
	param := regexp.MustCompile(`:([a-zA-Z_]+)`)
	s := newServer(t, api.Config{})
	mounted := map[string]string{}
	for _, r := range s.Routes() {
		mounted[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = r.Perm
	}
	documented := map[string]string{}
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			var op struct {
				Perm string `json:"x-permission"`
			}
			json.Unmarshal(raw, &op)
			documented[strings.ToUpper(method)+" "+path] = op.Perm
		}
	}
	var problems []string
	for k, perm := range mounted {
		dp, ok := documented[k]
		switch {
		case !ok:
			problems = append(problems, "not documented: "+k)
		case dp != perm:
			problems = append(problems, "permission differs for "+k+": code "+perm+", document "+dp)
		}
	}
	for k := range documented {
		if _, ok := mounted[k]; !ok {
			problems = append(problems, "documented but not mounted: "+k)
		}
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		t.Fatal(strings.Join(problems, "\n"))
	}
	r := call(t, s, "GET", "/api/openapi.json", "", nil)
	want(t, r, 200)
}
