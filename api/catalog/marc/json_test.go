package marc

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONShapes(t *testing.T) {
	const one = `{"leader":"00000nam a2200000   4500","fields":[{"001":"1"},{"245":{"ind1":"1","ind2":"0","subfields":[{"a":"One"},{"c":"Me"}]}}]}`
	for _, tc := range []struct {
		name, in string
		n        int
	}{
		{"object", one, 1},
		{"array", "[" + one + "," + one + "]", 2},
		{"objects one after another", one + "\n" + one + "\n" + one, 3},
		{"empty array", " [ ] ", 0},
		{"byte order mark", "\ufeff" + one, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := readAllFrom(t, JSON, []byte(tc.in), ReadOptions{})
			if len(res.errs) > 0 || len(res.recs) != tc.n {
				t.Fatalf("%d records, errors %v", len(res.recs), res.errs)
			}
			for _, r := range res.recs {
				if r.Control("001") != "1" || r.First("245").Join("ac", " ") != "One Me" {
					t.Errorf("got %+v", r)
				}
			}
		})
	}
}

func TestJSONErrors(t *testing.T) {
	const good = `{"leader":"00000nam a2200000   4500","fields":[{"001":"ok"}]}`
	for _, tc := range []struct {
		name, in string
		n        int
		err      string
	}{
		{"wrong shape, then a good record", `[{"leader":1,"fields":[]},` + good + `]`, 1,
			"record 1 at byte 1: not a MARC-in-JSON record: leader: JSON number where string is expected"},
		{"field with two tags", `[{"fields":[{"001":"a","002":"b"},{"003":"c"}]},` + good + `]`, 1,
			"record 1 at byte 1: field 1 has 2 keys, not one tag"},
		{"bad indicator", `[{"fields":[{"245":{"ind1":"11","ind2":" ","subfields":[{"a":"x"}]}}]},` + good + `]`, 1,
			`record 1 at byte 1: field 245: ind1 "11" is not one character`},
		{"syntax error ends the input", `[` + good + `,{"fields":[}` + good + `]`, 1,
			"record 2 at byte 73: JSON syntax error: invalid character '}' looking for beginning of value"},
		{"not JSON", `<xml/>`, 0, "record 1 at byte 0: input is not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := readAllFrom(t, JSON, []byte(tc.in), ReadOptions{})
			if len(res.recs) != tc.n || len(res.errs) != 1 || res.errs[0].Error() != tc.err {
				t.Fatalf("%d records, errors %v; want %d, %s", len(res.recs), res.errs, tc.n, tc.err)
			}
		})
	}
}

func TestJSONMarshal(t *testing.T) {
	r := rec("Quote \" backslash \\ tab \t nl \n \u2028 é")
	b, err := EncodeJSON(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"leader":"00000nam a2200000 i 4500","fields":[{"001":"id-Quote \" backslash \\ tab \t nl \n \u2028 é"},` +
		`{"245":{"ind1":"1","ind2":"0","subfields":[{"a":"Quote \" backslash \\ tab \t nl \n \u2028 é"},{"c":"Anon."}]}}]}`
	if string(b) != want {
		t.Fatalf("EncodeJSON =\n%s\nwant\n%s", b, want)
	}
	if !json.Valid(b) {
		t.Fatal("invalid JSON")
	}
	back, err := DecodeJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, "DecodeJSON", []*Record{back}, []*Record{r}, false)

	// encoding/json uses the same format through Marshaler/Unmarshaler.
	type doc struct {
		Records []*Record `json:"records"`
	}
	b, err = json.Marshal(doc{Records: []*Record{r, r}})
	if err != nil {
		t.Fatal(err)
	}
	var d doc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	sameRecords(t, "json.Unmarshal", d.Records, []*Record{r, r}, false)
	var bad Record
	if err := json.Unmarshal([]byte(`{"fields":[{"245":"not a data field"}]}`), &bad); err == nil || !strings.Contains(err.Error(), "data field given as a string") {
		t.Errorf("Unmarshal: %v", err)
	}
	if _, err := DecodeJSON([]byte(`{"fields":`)); err == nil {
		t.Error("DecodeJSON accepted broken JSON")
	}

	var buf bytes.Buffer
	w := NewJSONWriter(&buf)
	if err := w.Close(); err != nil || buf.String() != "[]\n" {
		t.Errorf("empty array %q, %v", buf.String(), err)
	}
	if err := w.Write(r); err == nil {
		t.Error("Write after Close")
	}
}
