package marc

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestMARC8File converts the 1,515 MARC-8 lines of pymarc's test file and
// compares them with their UTF-8 forms. Every line whose MARC-8 uses only
// the LoC character sets must agree. The one other line (1515) uses
// pymarc's private 0x7F20xx codes for Unicode punctuation, which are not
// EACC: it must be reported, not mistranslated.
func TestMARC8File(t *testing.T) {
	m8, err := os.ReadFile(td + "pymarc/test_marc8.txt")
	if err != nil {
		t.Fatal(err)
	}
	u8, err := os.ReadFile(td + "pymarc/test_utf8.txt")
	if err != nil {
		t.Fatal(err)
	}
	ml := bytes.Split(bytes.TrimSuffix(m8, []byte("\n")), []byte("\n"))
	ul := bytes.Split(bytes.TrimSuffix(u8, []byte("\n")), []byte("\n"))
	if len(ml) != 1515 || len(ul) != 1515 {
		t.Fatalf("%d and %d lines", len(ml), len(ul))
	}
	supported, agree := 0, 0
	for i := range ml {
		got, err := DecodeMARC8(ml[i])
		if err != nil {
			if i+1 != 1515 {
				t.Errorf("line %d: %v", i+1, err)
			}
			if !strings.Contains(got, "\uFFFD") {
				t.Errorf("line %d: error without U+FFFD: %q", i+1, got)
			}
			continue
		}
		supported++
		if got == string(ul[i]) {
			agree++
		} else {
			t.Errorf("line %d:\n got %q\nwant %q", i+1, got, ul[i])
		}
	}
	t.Logf("MARC-8 → UTF-8: %d of %d lines in supported sets agree (%d lines in all)", agree, supported, len(ml))
	if supported != 1514 || agree != supported {
		t.Errorf("%d supported, %d agree", supported, agree)
	}
}

func TestDecodeMARC8(t *testing.T) {
	for _, tc := range []struct {
		name, in, want, err string
	}{
		{"ASCII", "Plain text.", "Plain text.", ""},
		// Combining marks come first in MARC-8 (0xE2 acute, 0xE8 umlaut,
		// 0xE9 caron) and are composed (NFC).
		{"Dvořák", "Dvo\xe9r\xe2ak", "Dvořák", ""},
		{"Gödel", "G\xe8odel", "Gödel", ""},
		{"two marks", "\xf2\xe3a", "ậ", ""}, // dot below + circumflex on a
		{"mark without base", "\xe2", "\u0301", ""},
		{"ANSEL spacing", "\xa1\xa2\xa5\xb5\xb9\xc3\xc7\xc8", "ŁØÆæ£©ß€", ""},
		{"double diacritic halves", "\xebt\xecs", "t\ufe20s\ufe21", ""},
		{"non-sort and joiners", "\x88The \x89cat\x8d\x8e", "\u0098The \u009ccat\u200d\u200c", ""},
		{"subscript", "H\x1bb2\x1bsO", "H₂O", ""},
		{"superscript", "E = mc\x1bp2\x1bs", "E = mc²", ""},
		{"Greek symbols", "\x1bgabc\x1bs", "αβγ", ""},
		{"Greek", "\x1b(SabgD\x1b(B", "αβϛΓ", ""},
		{"Cyrillic", "\x1b(NMIR\x1b(B", "мир", ""},
		{"Cyrillic in G1", "\x1b)N\xcd\xc9\xd2", "мир", ""},
		{"Hebrew", "\x1b(2xefpno\x1b(B", "רוזנמן", ""},
		{"Arabic", "\x1b(3HIJ\x1b(B", "بةت", ""},
		{"EACC", "\x1b$1\x21\x30\x21\x1b(B", "一", ""},
		{"EACC ideographic space", "\x1b$1\x21\x23\x20\x1b(B", "\u3000", ""},
		{"numeric character reference", "&#x41;&#x263a; &amp; &#xD800;", "A☺ &amp; &#xD800;", ""},
		// Problems: the text keeps U+FFFD where the problem was.
		{"unsupported set", "a\x1b(Zbc\x1b(Bd", "a\uFFFD\uFFFDd", "marc: MARC-8 byte 1: unsupported MARC-8 character set ESC ( Z"},
		{"unsupported multibyte set", "\x1b$2ab", "\uFFFD\uFFFD", "marc: MARC-8 byte 0: unsupported MARC-8 character set ESC $ 2"},
		{"bad escape", "x\x1btz", "x\uFFFDtz", `marc: MARC-8 byte 1: invalid MARC-8 escape sequence "\x1btz"`},
		{"truncated escape", "x\x1b(", "x\uFFFD(", `marc: MARC-8 byte 1: invalid MARC-8 escape sequence "\x1b("`},
		{"byte not in ANSEL", "a\xafb", "a\uFFFDb", "marc: MARC-8 byte 1: byte 0xAF is not in the MARC-8 Extended Latin (ANSEL) set"},
		{"C1 byte", "a\x80b", "a\uFFFDb", "marc: MARC-8 byte 1: byte 0x80 is not a MARC-8 character"},
		{"control character", "a\x01b", "a\uFFFDb", "marc: MARC-8 byte 1: control character 0x01 in data"},
		{"EACC not in table", "\x1b$1\x7b\x36\x39", "\uFFFD", "marc: MARC-8 byte 3: EACC character 0x7B3639 is not in the table"},
		{"EACC truncated", "\x1b$1\x21\x30", "\uFFFD", "marc: MARC-8 byte 3: EACC character truncated: 21 30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeMARC8([]byte(tc.in))
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			es := ""
			if err != nil {
				es = err.Error()
			}
			if es != tc.err {
				t.Errorf("error %q, want %q", es, tc.err)
			}
		})
	}
}

// TestMARC8State: escapes hold across the subfields of a field and reset
// at the next field.
func TestMARC8State(t *testing.T) {
	raw := "00000nam  2200000   4500" +
		"245001900000" + "246000800019" + "\x1e" +
		"10\x1fa\x1b(NMIR\x1fbMIR\x1b(B\x1e" +
		"1 \x1faMIR\x1e" + "\x1d"
	b := []byte(raw)
	putNum(b[0:5], len(b))
	putNum(b[12:17], 24+24+1)
	r, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.First("245").Join("ab", "|"); got != "мир|мир" {
		t.Errorf("245 = %q", got)
	}
	if got := r.First("246").Sub('a'); got != "MIR" {
		t.Errorf("246 = %q", got)
	}
	if r.Leader[9] != 'a' {
		t.Errorf("leader/09 %q", r.Leader[9])
	}
}
