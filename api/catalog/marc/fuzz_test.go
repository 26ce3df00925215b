package marc

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

// seedFiles adds the test files of one format (whole, and cut short) to
// the fuzzer's seeds, besides the corpus in testdata/fuzz.
func seedFiles(f *testing.F, format Format) {
	for _, path := range recordFiles(f) {
		if formatOf(path) != format {
			continue
		}
		data, err := os.ReadFile(td + path)
		if err != nil {
			f.Fatal(err)
		}
		if len(data) > 4000 {
			data = data[:4000] // small seeds keep minimising fast
		}
		f.Add(data, false)
		f.Add(data[:len(data)*2/3], true)
	}
}

// fuzzRead reads everything from r and checks that each record it accepts
// can be written in the three formats and read back equal.
func fuzzRead(t *testing.T, r RecordReader, inputLen int) {
	for i := 0; ; i++ {
		if i > inputLen+2 {
			t.Fatalf("%d reads from %d bytes: the reader does not advance", i, inputLen)
		}
		rec, err := r.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if pe.Record < 1 || pe.Offset < 0 || pe.Offset > int64(inputLen) {
				t.Fatalf("bad error position: %v (input %d bytes)", err, inputLen)
			}
			continue
		}
		checkRoundTrip(t, rec)
	}
}

func checkRoundTrip(t *testing.T, rec *Record) {
	if len(rec.Leader) != 24 || rec.Leader[9] != 'a' {
		t.Fatalf("leader %q", rec.Leader)
	}
	b, err := Marshal(rec)
	switch {
	case err != nil && strings.Contains(err.Error(), "the maximum is"):
		// MARC-8 converted to UTF-8 can outgrow ISO 2709.
	case err != nil:
		t.Fatalf("Marshal of a record the reader accepted: %v\n%#v", err, rec)
	default:
		back, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("Unmarshal(Marshal(rec)): %v\n%q", err, b)
		}
		sameRecords(t, "ISO 2709", []*Record{back}, []*Record{rec}, false)
	}
	x, err := MarshalXML(rec)
	if err != nil {
		t.Fatalf("MarshalXML: %v", err)
	}
	xr := NewXMLReader(bytes.NewReader(x), ReadOptions{})
	back, err := xr.Read()
	if err != nil {
		t.Fatalf("reading MarshalXML: %v\n%s", err, x)
	}
	sameRecords(t, "MARCXML", []*Record{back}, []*Record{rec}, true)
	j, err := EncodeJSON(rec)
	if err != nil {
		t.Fatalf("EncodeJSON: %v", err)
	}
	back, err = DecodeJSON(j)
	if err != nil {
		t.Fatalf("DecodeJSON(EncodeJSON(rec)): %v\n%s", err, j)
	}
	sameRecords(t, "JSON", []*Record{back}, []*Record{rec}, false)
}

func FuzzISO2709Reader(f *testing.F) {
	seedFiles(f, ISO2709)
	f.Add([]byte("99999nam a2200025   4500\x1e0123456789"), false)
	f.Add([]byte("00026nam a2200025   4500\x1e\x1d"), true)
	f.Fuzz(func(t *testing.T, data []byte, lenient bool) {
		fuzzRead(t, NewReader(bytes.NewReader(data), ReadOptions{Lenient: lenient}), len(data))
	})
}

func FuzzXMLReader(f *testing.F) {
	seedFiles(f, MARCXML)
	f.Add([]byte(`<record><controlfield tag="001">&#x1;</controlfield></record>`), true)
	f.Fuzz(func(t *testing.T, data []byte, lenient bool) {
		fuzzRead(t, NewXMLReader(bytes.NewReader(data), ReadOptions{Lenient: lenient}), len(data))
	})
}

func FuzzJSONReader(f *testing.F) {
	seedFiles(f, JSON)
	f.Add([]byte(`{"fields":[{"001":"x"}]}{"fields":[{"245":{"subfields":[{"a":"\n"}]}}]}`), true)
	f.Fuzz(func(t *testing.T, data []byte, lenient bool) {
		// The lenient filter changes offsets: check positions in strict mode.
		if lenient {
			fuzzRead(t, NewJSONReader(bytes.NewReader(data), ReadOptions{Lenient: true}), 6*len(data))
			return
		}
		fuzzRead(t, NewJSONReader(bytes.NewReader(data), ReadOptions{}), len(data))
	})
}

func FuzzDecodeMARC8(f *testing.F) {
	m8, _ := os.ReadFile(td + "pymarc/test_marc8.txt")
	for _, l := range bytes.Split(m8, []byte("\n"))[:50] {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeMARC8(data)
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 from %q", data)
		}
		if err == nil && badText(s) >= 0 {
			t.Fatalf("no error, but %q has a character XML cannot carry", s)
		}
	})
}
