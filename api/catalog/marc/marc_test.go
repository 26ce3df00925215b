package marc

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// td is the repository's test data, relative to this package.
const td = "../../../testdata/marc/"

// warner is what every reader of the package offers besides Read.
type warner interface {
	RecordReader
	Warnings() []ParseError
}

func formatOf(path string) Format {
	switch filepath.Ext(path) {
	case ".xml":
		return MARCXML
	case ".json":
		return JSON
	}
	return ISO2709
}

func newReader(f Format, r io.Reader, opt ReadOptions) warner {
	switch f {
	case MARCXML:
		return NewXMLReader(r, opt)
	case JSON:
		return NewJSONReader(r, opt)
	}
	return NewReader(r, opt)
}

// readResult is everything a reader gave for one input.
type readResult struct {
	recs     []*Record
	errs     []*ParseError
	warnings []ParseError
}

func readAllFrom(t testing.TB, f Format, data []byte, opt ReadOptions) readResult {
	t.Helper()
	var res readResult
	r := newReader(f, bytes.NewReader(data), opt)
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatal("reader does not stop")
		}
		rec, err := r.Read()
		if err == io.EOF {
			return res
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Read: %v (not a *ParseError)", err)
			}
			res.errs = append(res.errs, pe)
			continue
		}
		res.warnings = append(res.warnings, r.Warnings()...)
		res.recs = append(res.recs, rec)
	}
}

func readFile(t testing.TB, path string, opt ReadOptions) readResult {
	t.Helper()
	data, err := os.ReadFile(td + path)
	if err != nil {
		t.Fatal(err)
	}
	return readAllFrom(t, formatOf(path), data, opt)
}

// optionsFor gives the options a file needs besides Lenient.
func optionsFor(path string) ReadOptions {
	switch {
	case strings.HasSuffix(path, "1251.dat"):
		return ReadOptions{Encoding: charmap.Windows1251}
	case strings.Contains(path, "cp866"):
		return ReadOptions{Encoding: charmap.CodePage866}
	case strings.HasSuffix(path, "testunimarc.dat"):
		// UNIMARC: the character set is in 100$a, not in leader/09.
		return ReadOptions{Encoding: unicode.UTF8}
	case strings.HasSuffix(path, "marc8_accented_chars.marc"):
		return ReadOptions{IgnoreLeader09: true}
	}
	return ReadOptions{}
}

// broken lists the test files with deliberate errors: a strict reader
// rejects at least one of their records.
var broken = map[string]bool{
	"pymarc/bad_eacc_encoding.dat":            true,
	"pymarc/bad_indicator.dat":                true,
	"pymarc/bad_marc8_escape.dat":             true,
	"pymarc/bad_records.mrc":                  true,
	"pymarc/bad_subfield_code.dat":            true,
	"pymarc/bad_tag.xml":                      true,
	"pymarc/regression45.dat":                 true,
	"pymarc/test.json":                        true,
	"pymarc/utf8_invalid.mrc":                 true,
	"pymarc/utf8_without_leader_flag.dat":     true,
	"ruby-marc/bad_eacc_encoding.marc8.marc":  true,
	"ruby-marc/cp866_multirecord.marc":        true,
	"ruby-marc/cp866_unimarc.marc":            true,
	"ruby-marc/marc_with_bad_utf8.utf8.marc":  true,
	"ruby-marc/messed_up_leader.xml":          true,
	"ruby-marc/no-leading-zero.xml":           true,
	"ruby-marc/non-numeric.dat":               true,
	"ruby-marc/non-numeric.xml":               true,
	"ruby-marc/three-records-second-bad.xml":  true,
	"ruby-marc/utf8_with_bad_bytes.marc":      true,
	"loc/ConvSpec-001-007/dup-properties.xml": true,
	"loc/ConvSpec-880/marc.xml":               true,
}

// recordFiles lists every ISO 2709, MARCXML and JSON file under td.
func recordFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(td, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(p) {
		case ".dat", ".mrc", ".marc", ".xml", ".json":
			files = append(files, filepath.ToSlash(strings.TrimPrefix(p, td)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 90 {
		t.Fatalf("only %d test files under %s", len(files), td)
	}
	return files
}

// canon returns a copy of rec for comparison: leader positions 0-4 and
// 12-16 (computed by the writers) blanked and, with controlFirst, control
// fields before data fields (the MARCXML schema's order).
func canon(rec *Record, controlFirst bool) Record {
	c := Record{Leader: rec.Leader, Fields: slices.Clone(rec.Fields)}
	if len(c.Leader) == 24 {
		c.Leader = "     " + c.Leader[5:12] + "     " + c.Leader[17:]
	}
	if controlFirst {
		slices.SortStableFunc(c.Fields, func(a, b Field) int {
			switch {
			case a.IsControl() && !b.IsControl():
				return -1
			case !a.IsControl() && b.IsControl():
				return 1
			}
			return 0
		})
	}
	return c
}

func sameRecords(t *testing.T, what string, got, want []*Record, controlFirst bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := canon(got[i], controlFirst), canon(want[i], controlFirst)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: record %d differs\n got %+v\nwant %+v", what, i+1, g, w)
		}
	}
}

func writeAll(t *testing.T, f Format, recs []*Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch f {
	case ISO2709:
		w := NewWriter(&buf)
		for _, r := range recs {
			if err = w.Write(r); err != nil {
				break
			}
		}
	case MARCXML:
		w := NewXMLWriter(&buf)
		for _, r := range recs {
			if err = w.Write(r); err != nil {
				break
			}
		}
		if err == nil {
			err = w.Close()
		}
	case JSON:
		w := NewJSONWriter(&buf)
		for _, r := range recs {
			if err = w.Write(r); err != nil {
				break
			}
		}
		if err == nil {
			err = w.Close()
		}
	}
	if err != nil {
		t.Fatalf("write %v: %v", f, err)
	}
	return buf.Bytes()
}

// TestRoundTrip reads every test file, writes its records in the three
// formats and reads them back: the records must come back equal. Clean
// files must read the same in strict and lenient mode, without warnings;
// the records that lenient mode repairs in the broken files must be
// writable too.
func TestRoundTrip(t *testing.T) {
	total := 0
	for _, path := range recordFiles(t) {
		t.Run(path, func(t *testing.T) {
			opt := optionsFor(path)
			opt.Lenient = true
			lenient := readFile(t, path, opt)
			if len(lenient.errs) > 0 && !broken[path] {
				t.Fatalf("lenient read: %v", lenient.errs[0])
			}
			if !broken[path] {
				opt.Lenient = false
				strict := readFile(t, path, opt)
				if len(strict.errs) > 0 {
					t.Fatalf("strict read of a clean file: %v", strict.errs[0])
				}
				if len(lenient.warnings) > 0 {
					t.Errorf("warnings for a clean file: %v", &lenient.warnings[0])
				}
				sameRecords(t, "strict vs lenient", strict.recs, lenient.recs, false)
			}
			if len(lenient.recs) == 0 && path != "pymarc/test.json" {
				t.Fatal("no records")
			}
			total += len(lenient.recs)
			for _, f := range []Format{ISO2709, MARCXML, JSON} {
				out := writeAll(t, f, lenient.recs)
				back := readAllFrom(t, f, out, ReadOptions{})
				if len(back.errs) > 0 {
					t.Fatalf("%v: reading back: %v", f, back.errs[0])
				}
				sameRecords(t, f.String(), back.recs, lenient.recs, f == MARCXML)
			}
		})
	}
	t.Logf("%d records round-tripped", total)
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Format
		err  error
	}{
		{"00755cam  22002414a 4500", ISO2709, nil},
		{"\n\n  00755cam", ISO2709, nil},
		{"<?xml version='1.0'?><collection/>", MARCXML, nil},
		{"\ufeff  <record/>", MARCXML, nil},
		{`{"leader":"x"}`, JSON, nil},
		{" [ ]", JSON, nil},
		{"", 0, io.EOF},
		{"   \n", 0, ErrUnknownFormat},
		{"0075x", 0, ErrUnknownFormat},
		{"hello", 0, ErrUnknownFormat},
	} {
		got, err := Detect(newBufReader(tc.in))
		if tc.in == "hello" {
			// White space longer than the buffer: not a known format.
			if f, err := Detect(newBufReader(strings.Repeat(" ", 5000) + "<x/>")); err != ErrUnknownFormat {
				t.Errorf("long white space: %v, %v", f, err)
			}
		}
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("Detect(%q) = %v, %v; want %v, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	// The detected reader reads what Detect only peeked at.
	for _, path := range []string{"pymarc/one.dat", "ruby-marc/one.xml", "pymarc/one.json"} {
		data, _ := os.ReadFile(td + path)
		br := newBufReader(string(data))
		f, err := Detect(br)
		if err != nil || f != formatOf(path) {
			t.Fatalf("%s: Detect = %v, %v", path, f, err)
		}
		rec, err := NewFormatReader(br, f, ReadOptions{}).Read()
		if err != nil || len(rec.Fields) == 0 {
			t.Fatalf("%s: %v", path, err)
		}
	}
}

func newBufReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
