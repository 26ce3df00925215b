package api_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stacks-ils/stacks/api"
	"github.com/stacks-ils/stacks/api/catalog/marc"
)

func createBib(t *testing.T, s *api.Server, token string, form map[string]any) map[string]any {
	t.Helper()
	r := call(t, s, "POST", "/api/v1/bibs?duplicates=add", token, form)
	want(t, r, 201)
	return r.Body
}

func TestBibs_JSONFormBuildsMARC(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "bibs", "library")
	r := call(t, s, "POST", "/api/v1/bibs", lib.Token, map[string]any{
		"title": "The Hobbit", "subtitle": "or, There and back again", "authors": []string{"Tolkien, J. R. R.", "Anderson, Douglas A."},
		"isbns": []string{"0-261-10221-4", "978-0-261-10221-X"}, "publisher": "HarperCollins", "year": 1995,
		"subjects": []string{"Middle Earth (Imaginary place) -- Fiction"}, "language": "eng", "format": "book", "call_number": "823.912 TOL"})
	want(t, r, 201)
	b := r.Body
	if b["title"] != "The Hobbit or, There and back again" || b["year"] != float64(1995) || b["format"] != "book" || b["language"] != "eng" {
		t.Fatalf("bib: %s", r.Raw)
	}
	if isbns := b["isbns"].([]any); len(isbns) != 1 || isbns[0] != "9780261102217" {
		t.Fatalf("isbns %v, want the valid one as ISBN-13", isbns)
	}
	warnings := fmt.Sprint(b["warnings"])
	if !strings.Contains(warnings, "978-0-261-10221-X") || !strings.Contains(warnings, "$z") {
		t.Fatalf("the invalid ISBN should be kept in $z with a warning: %v", warnings)
	}
	// The stored MARC: 245 with non-filing 4 for "The ", 100 main entry, 020 $z for the bad ISBN.
	m := call(t, s, "GET", "/api/v1/bibs/"+b["id"].(string), lib.Token, nil)
	want(t, m, 200)
	raw := string(m.Raw)
	for _, frag := range []string{`"245":{"ind1":"1","ind2":"4"`, `{"z":"978-0-261-10221-X"}`, `"100":{"ind1":"1"`, `{"a":"0261102214"}`} {
		if !strings.Contains(raw, frag) {
			t.Errorf("stored MARC lacks %s: %s", frag, raw)
		}
	}
}

func TestBibs_FormValidation(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "bibval", "library")
	cases := []struct {
		name string
		form map[string]any
		code string
	}{
		{"no title", map[string]any{"authors": []string{"X"}}, "required"},
		{"bad format", map[string]any{"title": "T", "format": "scroll"}, "invalid_format"},
		{"bad language", map[string]any{"title": "T", "language": "english"}, "invalid_language"},
		{"bad year", map[string]any{"title": "T", "year": 99999}, "invalid_year"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want(t, call(t, s, "POST", "/api/v1/bibs", lib.Token, tc.form), 422, tc.code)
		})
	}
	want(t, call(t, s, "POST", "/api/v1/bibs", lib.Token, map[string]any{"title": "T", "colour": "red"}), 400, "unknown_field")
	want(t, call(t, s, "GET", "/api/v1/bibs", lib.Token, nil), 200)
}

func TestBibs_DuplicateDetection(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "dups", "library")
	orig := createBib(t, s, lib.Token, map[string]any{"title": "Gödel, Escher, Bach", "authors": []string{"Hofstadter, Douglas R."},
		"isbns": []string{"0465026567"}, "year": 1979})
	id := orig["id"].(string)
	cases := []struct {
		name string
		form map[string]any
		on   string
	}{
		{"same ISBN in the other form", map[string]any{"title": "GEB", "isbns": []string{"978-0-465-02656-2"}}, "isbn"},
		{"same title, author, year", map[string]any{"title": "Godel, Escher, Bach!", "authors": []string{"Hofstadter, D."}, "year": 1979}, "title_author_year"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, s, "POST", "/api/v1/bibs", lib.Token, tc.form)
			want(t, r, 409, "duplicate")
			d := r.Body["error"].(map[string]any)["details"].(map[string]any)["duplicates"].([]any)[0].(map[string]any)
			if d["id"] != id || d["on"] != tc.on {
				t.Fatalf("duplicate %v, want %s on %s", d, id, tc.on)
			}
		})
	}
	// skip returns the existing record; add creates a second.
	sk := call(t, s, "POST", "/api/v1/bibs?duplicates=skip", lib.Token, map[string]any{"title": "GEB", "isbns": []string{"0465026567"}})
	want(t, sk, 200)
	if sk.Body["id"] != id {
		t.Fatalf("skip returned %v", sk.Body["id"])
	}
	want(t, call(t, s, "POST", "/api/v1/bibs?duplicates=add", lib.Token, map[string]any{"title": "GEB", "isbns": []string{"0465026567"}}), 201)
	// overlay replaces the record and keeps its items.
	want(t, call(t, s, "POST", "/api/v1/items", lib.Token, map[string]any{"bib_id": id, "barcode": "OV1", "branch_id": lib.MainID}), 201)
	ov := call(t, s, "POST", "/api/v1/bibs?duplicates=overlay", lib.Token, map[string]any{"title": "Gödel, Escher, Bach: an eternal golden braid",
		"authors": []string{"Hofstadter, Douglas R."}, "isbns": []string{"0465026567"}, "year": 1979})
	want(t, ov, 201)
	if ov.Body["id"] != id || !strings.Contains(ov.Body["title"].(string), "golden braid") {
		t.Fatalf("overlay: %s", ov.Raw)
	}
	items := call(t, s, "GET", "/api/v1/items?bib_id="+id, lib.Token, nil)
	want(t, items, 200)
	if len(items.Body["items"].([]any)) != 1 {
		t.Fatalf("overlay lost the items: %s", items.Raw)
	}
}

func TestItems_Lifecycle(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "items", "library")
	bib := createBib(t, s, lib.Token, map[string]any{"title": "Items test", "call_number": "QA76.73.G63 2009"})
	bid := bib["id"].(string)
	r := call(t, s, "POST", "/api/v1/items", lib.Token, map[string]any{"bib_id": bid, "barcode": "39999000001",
		"branch_id": lib.MainID, "location": "Stacks", "item_type": "book", "price": map[string]any{"amount": 1999, "currency": "USD"}})
	want(t, r, 201)
	item := r.Body
	if item["status"] != "available" || item["call_number"] != "QA76.73.G63 2009" || item["price"].(map[string]any)["amount"] != float64(1999) {
		t.Fatalf("item: %s", r.Raw)
	}
	cases := []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"barcode taken", map[string]any{"bib_id": bid, "barcode": "39999000001", "branch_id": lib.MainID}, 409, "barcode_taken"},
		{"bad status", map[string]any{"bib_id": bid, "barcode": "X2", "branch_id": lib.MainID, "status": "borrowed"}, 422, "invalid_status"},
		{"bad price", map[string]any{"bib_id": bid, "barcode": "X3", "branch_id": lib.MainID, "price": map[string]any{"amount": -1, "currency": "USD"}}, 422, "invalid_price"},
		{"float price", map[string]any{"bib_id": bid, "barcode": "X4", "branch_id": lib.MainID, "price": map[string]any{"amount": 19.99, "currency": "USD"}}, 400, "wrong_type"},
		{"no branch", map[string]any{"bib_id": bid, "barcode": "X5"}, 422, "required"},
		{"bad barcode", map[string]any{"bib_id": bid, "barcode": "has space", "branch_id": lib.MainID}, 422, "invalid_barcode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want(t, call(t, s, "POST", "/api/v1/items", lib.Token, tc.body), tc.status, tc.code)
		})
	}
	// Bulk: all or nothing.
	want(t, call(t, s, "POST", "/api/v1/bibs/"+bid+"/items", lib.Token, map[string]any{"items": []map[string]any{
		{"barcode": "B1", "branch_id": lib.MainID}, {"barcode": "39999000001", "branch_id": lib.MainID}}}), 409, "barcode_taken")
	want(t, call(t, s, "GET", "/api/v1/items?barcode=B1", lib.Token, nil), 200)
	if l := call(t, s, "GET", "/api/v1/items?barcode=B1", lib.Token, nil); len(l.Body["items"].([]any)) != 0 {
		t.Fatalf("failed bulk create left B1 behind: %s", l.Raw)
	}
	bulk := call(t, s, "POST", "/api/v1/bibs/"+bid+"/items", lib.Token, map[string]any{"items": []map[string]any{
		{"barcode": "B1", "branch_id": lib.MainID}, {"barcode": "B2", "branch_id": lib.MainID, "status": "in_processing"}}})
	want(t, bulk, 201)
	byBarcode := call(t, s, "GET", "/api/v1/items?barcode=B2", lib.Token, nil)
	want(t, byBarcode, 200)
	if it := byBarcode.Body["items"].([]any); len(it) != 1 || it[0].(map[string]any)["status"] != "in_processing" {
		t.Fatalf("by barcode: %s", byBarcode.Raw)
	}
	// A bib with items cannot be deleted; withdrawing keeps the item.
	want(t, call(t, s, "DELETE", "/api/v1/bibs/"+bid, lib.Token, nil), 409, "bib_has_items")
	w := call(t, s, "PATCH", "/api/v1/items/"+item["id"].(string), lib.Token, map[string]any{"status": "withdrawn"})
	want(t, w, 200)
	if w.Body["status"] != "withdrawn" {
		t.Fatalf("withdraw: %s", w.Raw)
	}
	empty := createBib(t, s, lib.Token, map[string]any{"title": "Deletable"})
	want(t, call(t, s, "DELETE", "/api/v1/bibs/"+empty["id"].(string), lib.Token, nil), 204)
	want(t, call(t, s, "GET", "/api/v1/bibs/"+empty["id"].(string), lib.Token, nil), 404)
}

func TestItems_CatalogingIsBranchScoped(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "itemscope", "library")
	east := addBranch(t, s, lib.Token, map[string]any{"name": "East", "code": "EAST"})["id"].(string)
	_, cat := addStaff(t, s, lib, "cat@itemscope.example.org", "cataloger", east)
	_, desk := addStaff(t, s, lib, "desk@itemscope.example.org", "circulation", east)
	bib := createBib(t, s, cat, map[string]any{"title": "Scoped"})
	want(t, call(t, s, "POST", "/api/v1/items", cat, map[string]any{"bib_id": bib["id"], "barcode": "E1", "branch_id": east}), 201)
	want(t, call(t, s, "POST", "/api/v1/items", cat, map[string]any{"bib_id": bib["id"], "barcode": "M1", "branch_id": lib.MainID}), 403)
	want(t, call(t, s, "POST", "/api/v1/bibs", desk, map[string]any{"title": "x"}), 403)
	want(t, call(t, s, "GET", "/api/v1/search?q=scoped", desk, nil), 200)
}

func TestBibs_MARCBodiesAndAcceptNegotiation(t *testing.T) {
	s := newServer(t, api.Config{})
	lib := signup(t, s, "marcbody", "library")
	rec := &marc.Record{Leader: "00000nam a2200000 a 4500", Fields: []marc.Field{
		{Tag: "001", Value: "ocm12345"}, {Tag: "003", Value: "OCoLC"},
		{Tag: "008", Value: "850101s1985    nyu           000 1 cze d"},
		{Tag: "020", Ind1: ' ', Ind2: ' ', Subfields: []marc.Subfield{{Code: 'a', Value: "0-306-40615-3 (pbk.)"}}},
		{Tag: "100", Ind1: '1', Ind2: ' ', Subfields: []marc.Subfield{{Code: 'a', Value: "Dvořák, Antonín,"}, {Code: 'd', Value: "1841-1904."}}},
		{Tag: "245", Ind1: '1', Ind2: '0', Subfields: []marc.Subfield{{Code: 'a', Value: "Symphony no. 9 :"}, {Code: 'b', Value: "From the New World /"}, {Code: 'c', Value: "Antonín Dvořák."}}},
		{Tag: "650", Ind1: ' ', Ind2: '0', Subfields: []marc.Subfield{{Code: 'a', Value: "Symphonies"}, {Code: 'v', Value: "Scores."}}},
	}}
	iso, err := marc.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	xml, _ := marc.MarshalXML(rec)
	js, _ := marc.EncodeJSON(rec)
	ids := map[string]string{}
	for _, c := range []struct {
		ct   string
		body []byte
	}{{"application/marc", iso}, {"application/marcxml+xml", xml}, {"application/marc+json", js}} {
		r := call(t, s, "POST", "/api/v1/bibs?duplicates=add", lib.Token, rawBody{ContentType: c.ct, Data: c.body})
		want(t, r, 201)
		if r.Body["title"] != "Symphony no. 9 From the New World" || r.Body["authors"].([]any)[0] != "Dvořák, Antonín, 1841-1904" ||
			r.Body["language"] != "cze" || r.Body["subjects"].([]any)[0] != "Symphonies -- Scores" {
			t.Fatalf("%s: extracted %s", c.ct, r.Raw)
		}
		// The invalid ISBN moved to $z with a warning; the old 001 kept in 035.
		if !strings.Contains(fmt.Sprint(r.Body["warnings"]), "$z") {
			t.Fatalf("%s: no warning for the bad ISBN: %s", c.ct, r.Raw)
		}
		ids[c.ct] = r.Body["id"].(string)
	}
	id := ids["application/marc"]
	get := func(accept string) resp {
		req := httptest.NewRequest("GET", "/api/v1/bibs/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+lib.Token)
		req.Header.Set("Accept", accept)
		res, err := s.App.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		return resp{Status: res.StatusCode, Raw: raw, Header: res.Header}
	}
	isoOut := get("application/marc")
	back, err := marc.Unmarshal(isoOut.Raw)
	if err != nil || isoOut.Header.Get("Content-Type") != "application/marc" {
		t.Fatalf("ISO 2709 answer: %v %s", err, isoOut.Header.Get("Content-Type"))
	}
	if back.Control("001") != id || back.First("035").Sub('a') != "(OCoLC)ocm12345" || back.First("020").Sub('z') != "0-306-40615-3 (pbk.)" {
		t.Fatalf("stored record: 001 %q 035 %q 020 %+v", back.Control("001"), back.First("035").Sub('a'), back.First("020"))
	}
	xmlOut := get("application/marcxml+xml")
	if !strings.Contains(string(xmlOut.Raw), `<subfield code="a">Dvořák, Antonín,</subfield>`) {
		t.Fatalf("MARCXML answer: %s", xmlOut.Raw)
	}
	if j := get("application/json"); !strings.Contains(string(j.Raw), `"marc":{"leader"`) {
		t.Fatalf("JSON answer: %s", j.Raw)
	}
	want(t, call(t, s, "POST", "/api/v1/bibs", lib.Token, rawBody{ContentType: "application/marc", Data: []byte("00012garbage")}), 422, "invalid_marc")
	want(t, call(t, s, "POST", "/api/v1/bibs", lib.Token, rawBody{ContentType: "text/plain", Data: []byte("x")}), 415)
}
