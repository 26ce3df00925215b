package marc

import (
	_ "embed"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

//go:generate go run gen_marc8.go

// MARC-8 (the MARC 21 character encoding before Unicode) is an ISO 2022
// style encoding: bytes 0x21-0x7E are read in the set designated as G0
// (Basic Latin at the start of each field), bytes 0xA1-0xFE in the set
// designated as G1 (ANSEL, Extended Latin), and escape sequences change
// the designations. Combining diacritics PRECEDE their base character in
// MARC-8 and follow it in Unicode; the decoder moves them and returns NFC.
//
// Supported sets: Basic Latin, ANSEL, Basic and Extended Cyrillic, Basic
// and Extended Arabic, Basic Hebrew, Basic Greek, the subscript,
// superscript and Greek symbol sets (ESC b, ESC p, ESC g), and East Asian
// EACC (CJK, ESC $ 1). Tables: marc8_tables.go and marc8_eacc.bin, made
// by gen_marc8.go from the YAZ converter (LoC code tables). MARC-8 data
// may also carry characters outside its repertoire as hexadecimal numeric
// character references (&#xXXXX;, the LoC lossless convention): they are
// decoded too.

type m8Set struct {
	name  string
	chars [94]rune // index: byte&0x7F - 0x21; 0 = not in the set
	comb  [2]uint64
}

func (s *m8Set) isComb(i int) bool { return s.comb[i>>6]&(1<<(i&63)) != 0 }

type m8Kind uint8

const (
	m8Single  m8Kind = iota // one of the tables
	m8EACC                  // three bytes per character
	m8Unknown               // designated but not supported: U+FFFD
)

type m8Des struct {
	kind m8Kind
	set  *m8Set
	name string // for messages about unsupported sets
}

var (
	m8DesASCII = m8Des{set: &m8ASCII}
	m8DesANSEL = m8Des{set: &m8ANSEL}
)

//go:embed marc8_eacc.bin
var eaccBin []byte

var (
	eaccOnce  sync.Once
	eaccCodes []uint32
	eaccRunes []rune
)

func eaccLookup(code uint32) rune {
	eaccOnce.Do(func() {
		var k uint32
		var v int64
		for b := eaccBin; len(b) > 0; {
			d, n := binary.Uvarint(b)
			b = b[n:]
			dv, m := binary.Varint(b)
			b = b[m:]
			k += uint32(d)
			v += dv
			eaccCodes = append(eaccCodes, k)
			eaccRunes = append(eaccRunes, rune(v))
		}
	})
	if i, ok := slices.BinarySearch(eaccCodes, code); ok {
		return eaccRunes[i]
	}
	return 0
}

// marc8Decoder holds the designations; they carry over from one subfield
// to the next within a field, and reset at the start of each field.
type marc8Decoder struct {
	g0, g1 m8Des
	comb   []rune // combining marks waiting for their base character
}

// plain reports whether ASCII bytes other than ESC and '&' decode to
// themselves in the current state.
func (d *marc8Decoder) plain() bool { return d.g0.set == &m8ASCII && len(d.comb) == 0 }

func (d *marc8Decoder) reset() {
	d.g0, d.g1 = m8DesASCII, m8DesANSEL
	d.comb = d.comb[:0]
}

func singleSet(f byte) *m8Set {
	switch f {
	case 'B':
		return &m8ASCII
	case 'E':
		return &m8ANSEL
	case '2':
		return &m8Hebrew
	case 'N':
		return &m8Cyrillic
	case 'Q':
		return &m8CyrillicExt
	case '3':
		return &m8Arabic
	case '4':
		return &m8ArabicExt
	case 'S':
		return &m8Greek
	case 'b':
		return &m8Subscript
	case 'p':
		return &m8Superscript
	case 'g':
		return &m8GreekSymbols
	}
	return nil
}

// escape parses the escape sequence at src[0] (ESC). It returns its length,
// or 0 when it is malformed; msg is set for a set that is not supported.
func (d *marc8Decoder) escape(src []byte) (n int, msg string) {
	if len(src) < 2 {
		return 0, ""
	}
	switch src[1] {
	case 'g', 'b', 'p': // technique 2: special sets into G0
		d.g0 = m8Des{set: singleSet(src[1])}
		return 2, ""
	case 's':
		d.g0 = m8DesASCII
		return 2, ""
	case '(', ',', ')', '-':
		g1 := src[1] == ')' || src[1] == '-'
		i := 2
		if i < len(src) && src[i] == '!' { // ESC ( ! E: ANSEL
			i++
		}
		if i >= len(src) || src[i] < 0x30 || src[i] > 0x7E {
			return 0, ""
		}
		des := m8Des{set: singleSet(src[i])}
		if des.set == nil {
			des = m8Des{kind: m8Unknown, name: fmt.Sprintf("ESC %s", printable(src[1:i+1]))}
			msg = fmt.Sprintf("unsupported MARC-8 character set %s", des.name)
		}
		if g1 {
			d.g1 = des
		} else {
			d.g0 = des
		}
		return i + 1, msg
	case '$':
		i := 2
		g1 := false
		if i < len(src) && (src[i] == '(' || src[i] == ',' || src[i] == ')' || src[i] == '-') {
			g1 = src[i] == ')' || src[i] == '-'
			i++
		}
		if i >= len(src) || src[i] < 0x30 || src[i] > 0x7E {
			return 0, ""
		}
		des := m8Des{kind: m8EACC}
		if src[i] != '1' {
			des = m8Des{kind: m8Unknown, name: fmt.Sprintf("ESC %s", printable(src[1:i+1]))}
			msg = fmt.Sprintf("unsupported MARC-8 character set %s", des.name)
		}
		if g1 {
			d.g1 = des
		} else {
			d.g0 = des
		}
		return i + 1, msg
	}
	return 0, ""
}

func printable(b []byte) string {
	s := make([]byte, 0, 2*len(b))
	for i, c := range b {
		if i > 0 {
			s = append(s, ' ')
		}
		s = append(s, c)
	}
	return string(s)
}

func (d *marc8Decoder) base(dst []byte, r rune) []byte {
	dst = utf8.AppendRune(dst, r)
	for _, c := range d.comb {
		dst = utf8.AppendRune(dst, c)
	}
	d.comb = d.comb[:0]
	return dst
}

// ncr decodes a hexadecimal numeric character reference "&#xHHHH;" at the
// start of src, for a character XML can carry.
func ncr(src []byte) (rune, int) {
	if len(src) < 5 || src[1] != '#' || (src[2] != 'x' && src[2] != 'X') {
		return 0, 0
	}
	var r rune
	for i := 3; i < len(src) && i < 3+7; i++ {
		c := src[i]
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		case c == ';' && i > 3:
			if r < 0x20 || r > utf8.MaxRune || (r >= 0xD800 && r <= 0xDFFF) || r == 0xFFFE || r == 0xFFFF {
				return 0, 0
			}
			return r, i + 1
		default:
			return 0, 0
		}
	}
	return 0, 0
}

// decode appends the UTF-8 (NFC) form of the MARC-8 bytes src to dst.
// report is called with the index in src of each problem; the character
// concerned becomes U+FFFD.
func (d *marc8Decoder) decode(dst, src []byte, report func(i int, msg string)) []byte {
	start := len(dst)
	ascii := true
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == 0x1B:
			n, msg := d.escape(src[i:])
			if msg != "" {
				report(i, msg)
			}
			if n == 0 {
				end := min(i+4, len(src))
				report(i, fmt.Sprintf("invalid MARC-8 escape sequence %q", src[i:end]))
				dst = d.base(dst, utf8.RuneError)
				ascii = false
				n = 1
			}
			i += n
			continue
		case c == ' ':
			dst = d.base(dst, ' ')
			i++
			continue
		case c < 0x20 || c == 0x7F:
			if c == '\t' || c == '\n' || c == '\r' || c == 0x7F {
				dst = d.base(dst, rune(c))
			} else {
				report(i, fmt.Sprintf("control character 0x%02X in data", c))
				dst = d.base(dst, utf8.RuneError)
				ascii = false
			}
			i++
			continue
		case c >= 0x80 && c <= 0xA0 || c == 0xFF:
			var r rune
			switch c {
			case 0x88:
				r = 0x98 // non-sort begin
			case 0x89:
				r = 0x9C // non-sort end
			case 0x8D:
				r = 0x200D // zero width joiner
			case 0x8E:
				r = 0x200C // zero width non-joiner
			default:
				report(i, fmt.Sprintf("byte 0x%02X is not a MARC-8 character", c))
				r = utf8.RuneError
			}
			dst = d.base(dst, r)
			ascii = false
			i++
			continue
		}
		des := &d.g0
		if c >= 0x80 {
			des = &d.g1
		}
		switch des.kind {
		case m8EACC:
			if i+3 > len(src) {
				report(i, fmt.Sprintf("EACC character truncated: % X", src[i:]))
				dst = d.base(dst, utf8.RuneError)
				ascii = false
				i = len(src)
				continue
			}
			code := uint32(src[i]&0x7F)<<16 | uint32(src[i+1]&0x7F)<<8 | uint32(src[i+2]&0x7F)
			r := eaccLookup(code)
			if r == 0 {
				report(i, fmt.Sprintf("EACC character 0x%06X is not in the table", code))
				r = utf8.RuneError
			}
			dst = d.base(dst, r)
			ascii = false
			i += 3
			continue
		case m8Unknown:
			// Reported when it was designated.
			dst = d.base(dst, utf8.RuneError)
			ascii = false
			i++
			continue
		}
		if des.set == &m8ASCII && c == '&' {
			if r, n := ncr(src[i:]); n > 0 {
				dst = d.base(dst, r)
				ascii = false
				i += n
				continue
			}
		}
		idx := int(c&0x7F) - 0x21
		r := des.set.chars[idx]
		switch {
		case r == 0:
			report(i, fmt.Sprintf("byte 0x%02X is not in the MARC-8 %s set", c, des.set.name))
			dst = d.base(dst, utf8.RuneError)
			ascii = false
		case des.set.isComb(idx):
			d.comb = append(d.comb, r)
			ascii = false
		default:
			dst = d.base(dst, r)
			if r >= utf8.RuneSelf {
				ascii = false
			}
		}
		i++
	}
	// Marks with no base character left: keep them, after whatever came.
	for _, c := range d.comb {
		dst = utf8.AppendRune(dst, c)
	}
	d.comb = d.comb[:0]
	if ascii {
		return dst
	}
	out := norm.NFC.Bytes(dst[start:])
	return append(dst[:start], out...)
}

// DecodeMARC8 converts one MARC-8 string (a field or subfield value,
// starting with Basic Latin as G0 and ANSEL as G1) to NFC UTF-8. What it
// cannot convert becomes U+FFFD, and the first such problem is returned
// as the error along with the converted text.
func DecodeMARC8(b []byte) (string, error) {
	var d marc8Decoder
	d.reset()
	var first error
	out := d.decode(nil, b, func(i int, msg string) {
		if first == nil {
			first = fmt.Errorf("marc: MARC-8 byte %d: %s", i, msg)
		}
	})
	return string(out), first
}
