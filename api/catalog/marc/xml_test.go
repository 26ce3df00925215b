package marc

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestXMLSchema writes every record of the clean test files (and the
// records lenient mode repairs in the broken ones) as one MARCXML
// collection, and single records with MarshalXML, and validates them
// against MARC21slim.xsd with xmllint when it is installed.
func TestXMLSchema(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not installed (apt-get install libxml2-utils)")
	}
	var all []*Record
	for _, path := range recordFiles(t) {
		opt := optionsFor(path)
		opt.Lenient = true
		for _, rec := range readFile(t, path, opt).recs {
			if rec.Leader[6] == ' ' {
				continue // the schema wants a type of record
			}
			all = append(all, rec)
		}
	}
	dir := t.TempDir()
	coll := filepath.Join(dir, "collection.xml")
	if err := os.WriteFile(coll, writeAll(t, MARCXML, all), 0o644); err != nil {
		t.Fatal(err)
	}
	one, err := MarshalXML(all[0])
	if err != nil {
		t.Fatal(err)
	}
	single := filepath.Join(dir, "record.xml")
	if err := os.WriteFile(single, one, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.xml")
	var buf bytes.Buffer
	if err := NewXMLWriter(&buf).Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	schema := "../../../testdata/schemas/MARC21slim.xsd"
	out, err := exec.Command(xmllint, "--noout", "--nonet", "--schema", schema, coll, single, empty).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "collection.xml validates") {
		t.Fatalf("xmllint: %s", out)
	}
	t.Logf("%d records validate", len(all))
}

func TestXMLReaderShapes(t *testing.T) {
	const rec1 = `<leader>00000nam a2200000   4500</leader><controlfield tag="001">1</controlfield>` +
		`<datafield tag="245" ind1="1" ind2="0"><subfield code="a">One</subfield></datafield>`
	for _, tc := range []struct {
		name, in string
		n        int
	}{
		{"collection, default namespace", `<collection xmlns="http://www.loc.gov/MARC21/slim"><record>` + rec1 + `</record><record>` + rec1 + `</record></collection>`, 2},
		{"prefix", `<?xml version="1.0"?><marc:collection xmlns:marc="http://www.loc.gov/MARC21/slim"><marc:record>` +
			strings.NewReplacer("<leader", "<marc:leader", "</leader", "</marc:leader", "<controlfield", "<marc:controlfield", "</controlfield", "</marc:controlfield",
				"<datafield", "<marc:datafield", "</datafield", "</marc:datafield", "<subfield", "<marc:subfield", "</subfield", "</marc:subfield").Replace(rec1) +
			`</marc:record></marc:collection>`, 1},
		{"no namespace", `<collection><record>` + rec1 + `</record></collection>`, 1},
		{"record root", `<record xmlns="http://www.loc.gov/MARC21/slim">` + rec1 + `</record>`, 1},
		{"OAI-PMH wrapper", `<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords><record><header><identifier>x</identifier></header>` +
			`<metadata><record xmlns="http://www.loc.gov/MARC21/slim">` + rec1 + `</record></metadata></record></ListRecords></OAI-PMH>`, 1},
		{"foreign elements are skipped", `<record xmlns="http://www.loc.gov/MARC21/slim" xmlns:x="urn:x"><x:note>hi</x:note>` + rec1 + `</record>`, 1},
		{"empty collection", `<collection xmlns="http://www.loc.gov/MARC21/slim"/>`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := readAllFrom(t, MARCXML, []byte(tc.in), ReadOptions{})
			if len(res.errs) > 0 || len(res.recs) != tc.n {
				t.Fatalf("%d records, errors %v", len(res.recs), res.errs)
			}
			for _, r := range res.recs {
				if r.Control("001") != "1" || r.First("245").Sub('a') != "One" || r.First("245").Ind1 != '1' {
					t.Errorf("got %+v", r)
				}
			}
		})
	}
}

func TestXMLReaderErrors(t *testing.T) {
	good := `<record><controlfield tag="001">ok</controlfield></record>`
	for _, tc := range []struct {
		name, in string
		n        int    // records read
		err      string // the error
	}{
		{"syntax error ends the input", `<collection>` + good + `<record><controlfield tag="001">x</controlfeld></record>` + good + `</collection>`, 1,
			"record 2 at byte 117: XML syntax error: element <controlfield> closed by </controlfeld>"},
		{"truncated", `<collection>` + good + `<record><controlfield tag="0`, 1,
			"record 2 at byte 98: XML syntax error: unexpected EOF"},
		{"bad record, then a good one", `<collection><record><datafield tag="245" ind1="1" ind2="0"/></record>` + good + `</collection>`, 1,
			"record 1 at byte 20: field 245: data field has no subfields"},
		{"no fields", `<collection><record><leader>00000nam a2200000   4500</leader></record>` + good + `</collection>`, 1,
			"record 1 at byte 12: record has no fields"},
		{"invalid UTF-8 inside a record", "<collection><record><controlfield tag=\"001\">a\xffb</controlfield></record>" + good + "</collection>", 1,
			"record 1 at byte 45: invalid UTF-8 byte 0xFF"},
		{"encoding", `<?xml version="1.0" encoding="ISO-8859-1"?><collection>` + good + `</collection>`, 0,
			`record 1 at byte 43: xml: opening charset "ISO-8859-1": unsupported XML encoding "ISO-8859-1" (MARCXML is UTF-8)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := readAllFrom(t, MARCXML, []byte(tc.in), ReadOptions{})
			if len(res.recs) != tc.n || len(res.errs) != 1 || res.errs[0].Error() != tc.err {
				t.Fatalf("%d records, errors %v; want %d, %s", len(res.recs), res.errs, tc.n, tc.err)
			}
			if res.errs[0].Offset > int64(len(tc.in)) {
				t.Fatalf("offset %d past the end", res.errs[0].Offset)
			}
		})
	}
	// The offset of a problem after a replaced byte is in the original input.
	in := "<record><controlfield tag=\"001\">\x01</controlfield><datafield tag=\"2\" ind1=\"1\" ind2=\"0\"><subfield code=\"a\">t</subfield></datafield></record>"
	res := readAllFrom(t, MARCXML, []byte(in), ReadOptions{Lenient: true})
	if len(res.recs) != 1 || len(res.warnings) != 2 || len(res.recs[0].Fields) != 1 {
		t.Fatalf("%d records, warnings %v", len(res.recs), res.warnings)
	}
	if w := res.warnings[1]; w.Offset != int64(strings.Index(in, "<datafield")) || w.Msg != `tag "2" is not 3 characters; field dropped` {
		t.Errorf("warning %v", &w)
	}
}

func TestXMLWriter(t *testing.T) {
	r := &Record{Leader: "01234cam a2200289 a 4500"}
	r.Add(Field{Tag: "245", Ind1: '1', Ind2: '0', Subfields: []Subfield{{'a', `Tom & Jerry <"live">`}, {'"', "line 1\r\nline 2\ttab"}}})
	r.Add(Field{Tag: "001", Value: " 12 "})
	got, err := MarshalXML(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>
<record xmlns="http://www.loc.gov/MARC21/slim">
  <leader>01234cam a2200289 a 4500</leader>
  <controlfield tag="001"> 12 </controlfield>
  <datafield tag="245" ind1="1" ind2="0">
    <subfield code="a">Tom &amp; Jerry &lt;"live"&gt;</subfield>
    <subfield code="&quot;">line 1&#xD;
line 2	tab</subfield>
  </datafield>
</record>
`
	if string(got) != want {
		t.Fatalf("MarshalXML =\n%s\nwant\n%s", got, want)
	}
	back := readAllFrom(t, MARCXML, got, ReadOptions{})
	if len(back.errs) > 0 {
		t.Fatal(back.errs[0])
	}
	sameRecords(t, "MarshalXML", back.recs, []*Record{r}, true)

	var buf bytes.Buffer
	w := NewXMLWriter(&buf)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.String() != xmlHeader+`<collection xmlns="http://www.loc.gov/MARC21/slim">`+"\n</collection>\n" {
		t.Errorf("empty collection %q", buf.String())
	}
	if err := w.Write(r); err == nil {
		t.Error("Write after Close")
	}
}
