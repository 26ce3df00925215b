package marc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"golang.org/x/text/encoding"
)

// DefaultLeader is used for a record that has no leader (MARCXML and
// MARC-in-JSON allow it) and by the writers for a record whose Leader is "".
// Positions 0-4 and 12-16 are computed by the ISO 2709 writer.
const DefaultLeader = "00000nam a2200000   4500"

// Limits of the ISO 2709 format as used by MARC 21.
const (
	MaxRecordLength = 99999 // five-digit record length
	MaxFieldLength  = 9999  // four-digit length in a directory entry
)

// ParseError describes a problem in one record of an input. Readers return
// it (strict mode) or keep it as a warning (lenient mode).
type ParseError struct {
	Record int    // 1-based number of the record in the input
	Offset int64  // byte offset of the problem in the input
	Tag    string // field tag, when known
	Msg    string
}

func (e *ParseError) Error() string {
	if e.Tag != "" {
		return fmt.Sprintf("record %d at byte %d: field %s: %s", e.Record, e.Offset, e.Tag, e.Msg)
	}
	return fmt.Sprintf("record %d at byte %d: %s", e.Record, e.Offset, e.Msg)
}

// ReadOptions configures the readers.
type ReadOptions struct {
	// Lenient makes a reader repair what it safely can instead of rejecting
	// the record: the repairs are reported by the reader's Warnings method.
	// In strict mode (the default) a record with any problem is returned as
	// a *ParseError and the reader goes on with the next record.
	Lenient bool

	// Encoding, when set, decodes ISO 2709 records whose leader/09 is blank
	// with this legacy character set (e.g. charmap.Windows1251 or
	// charmap.CodePage866 from golang.org/x/text) instead of MARC-8.
	Encoding encoding.Encoding

	// IgnoreLeader09 decodes every ISO 2709 record as if its leader/09 were
	// blank (MARC-8, or Encoding when set), for files that claim UTF-8
	// wrongly.
	IgnoreLeader09 bool
}

// RecordReader is what every reader of this package implements. Read
// returns io.EOF after the last record; a *ParseError is about one record
// and reading can go on.
type RecordReader interface {
	Read() (*Record, error)
}

// Format is a serialisation of MARC records.
type Format int

// The formats this package reads and writes.
const (
	ISO2709 Format = iota + 1 // binary MARC (MARC 21 communications format)
	MARCXML                   // MARC 21 slim XML schema
	JSON                      // MARC-in-JSON
)

func (f Format) String() string {
	switch f {
	case ISO2709:
		return "ISO2709"
	case MARCXML:
		return "MARCXML"
	case JSON:
		return "JSON"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// ErrUnknownFormat is returned by Detect when the input is none of the
// supported formats.
var ErrUnknownFormat = errors.New("marc: unknown input format")

// Detect peeks at the first bytes of r that are not white space (a UTF-8
// byte order mark is skipped too) and tells the format: '<' is MARCXML,
// '{' or '[' is MARC-in-JSON and five digits are ISO 2709. It consumes
// nothing, so r can be handed to NewFormatReader afterwards.
func Detect(r *bufio.Reader) (Format, error) {
	n := 0
	for {
		// Grow the peek window one byte at a time past white space; a
		// window over the buffer size ends the search.
		b, err := r.Peek(n + 1)
		if len(b) < n+1 {
			if errors.Is(err, bufio.ErrBufferFull) {
				return 0, ErrUnknownFormat // white space filling the buffer
			}
			if err == nil || errors.Is(err, io.EOF) {
				if n == 0 {
					return 0, io.EOF
				}
				return 0, ErrUnknownFormat
			}
			return 0, err
		}
		c := b[n]
		if isSpace(c) || c == 0x1A {
			n++
			continue
		}
		if n == 0 && len(b) >= 1 && c == 0xEF {
			if bom, _ := r.Peek(3); len(bom) == 3 && bom[1] == 0xBB && bom[2] == 0xBF {
				n = 3
				continue
			}
		}
		switch {
		case c == '<':
			return MARCXML, nil
		case c == '{' || c == '[':
			return JSON, nil
		case c >= '0' && c <= '9':
			d, _ := r.Peek(n + 5)
			if len(d) == n+5 && allDigits(d[n:]) {
				return ISO2709, nil
			}
		}
		return 0, ErrUnknownFormat
	}
}

// NewFormatReader returns a reader of format f over r.
func NewFormatReader(r io.Reader, f Format, opt ReadOptions) RecordReader {
	switch f {
	case MARCXML:
		return NewXMLReader(r, opt)
	case JSON:
		return NewJSONReader(r, opt)
	default:
		return NewReader(r, opt)
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func atoi(b []byte) int {
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n
}

// ---- validity rules shared by the readers (strict mode) and the writers ----
//
// They follow MARC 21 and the MARCXML schema (MARC21slim.xsd), so that every
// record a strict reader accepts, or a lenient reader repairs, can be written
// in all three formats and read back equal.

// tagProblem says what is wrong with a tag, or "" when it is valid: three
// ASCII letters or digits, not mixing upper and lower case, and not "000".
func tagProblem(tag string) string {
	if len(tag) != 3 {
		return fmt.Sprintf("tag %q is not 3 characters", tag)
	}
	upper, lower := false, false
	for i := 0; i < 3; i++ {
		c := tag[i]
		switch {
		case c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		default:
			return fmt.Sprintf("tag %q has a character that is not a letter or digit", tag)
		}
	}
	if upper && lower {
		return fmt.Sprintf("tag %q mixes upper and lower case", tag)
	}
	if tag == "000" {
		return `tag "000" is not allowed`
	}
	return ""
}

// repairTag left-pads a one- or two-digit tag with zeros ("42" → "042").
func repairTag(tag string) (string, bool) {
	if len(tag) >= 1 && len(tag) < 3 && allDigits([]byte(tag)) {
		t := "00"[:3-len(tag)] + tag
		return t, tagProblem(t) == ""
	}
	return "", false
}

// validInd: digits, lower-case letters and blank (MARC 21, MARCXML schema).
func validInd(c byte) bool { return c == ' ' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') }

// validCode: printable ASCII except blank, '@' and '|' (MARCXML schema).
func validCode(c byte) bool { return c > ' ' && c < 0x7F && c != '@' && c != '|' }

// badText returns the index of the first byte of s that starts invalid
// UTF-8 or a character XML 1.0 cannot carry (C0 controls other than tab,
// newline and carriage return, U+FFFE, U+FFFF), or -1.
func badText[T string | []byte](s T) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if (r == utf8.RuneError && size == 1) || r == 0xFFFE || r == 0xFFFF {
			return i
		}
		i += size
	}
	return -1
}

// fixText replaces what badText finds with U+FFFD (one per bad byte or
// character).
func fixText(s []byte) string {
	out := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				out = append(out, "\uFFFD"...)
			} else {
				out = append(out, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if (r == utf8.RuneError && size == 1) || r == 0xFFFE || r == 0xFFFF {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, s[i:i+size]...)
		}
		i += size
	}
	return string(out)
}

func textMsg[T string | []byte](s T, i int) string {
	c := s[i]
	if c < utf8.RuneSelf {
		return fmt.Sprintf("control character 0x%02X in data", c)
	}
	r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
	if r == utf8.RuneError && size == 1 {
		return fmt.Sprintf("invalid UTF-8 byte 0x%02X", c)
	}
	return fmt.Sprintf("character U+%04X is not allowed", r)
}

// leaderClass is the character class of each leader position: 'D' digit
// or blank, 'a' letter/digit/blank, 'A' letter/digit, or a fixed byte. Positions 0-4 and 12-16 are computed by the ISO writer.
//
// The MARCXML schema wants a letter or digit at 06 (type of record); a
// blank is accepted here because hand-made and legacy records have it.
const leaderClass = "DDDDDaaaaa22DDDDDaaa4500"

// leaderProblems checks and repairs a leader. It returns the (possibly
// repaired) leader and a message for each problem, with the position in
// the leader it concerns. Position 9 is always set to 'a' (the record is
// UTF-8 in memory). With blanksOK, blanks in 10-11 and 20-23 (allowed by
// the MARCXML schema) become "22" and "4500" silently.
func leaderProblems(ld string, blanksOK bool, report func(pos int, msg string)) string {
	if len(ld) != 24 {
		report(0, fmt.Sprintf("leader is %d bytes, not 24", len(ld)))
		// Keep positions 0-9 (status, type, level, control) as far as they
		// are there; the rest is structural or unknowable.
		b := []byte(DefaultLeader)
		copy(b, ld[:min(len(ld), 10)])
		ld = string(b)
	}
	var b []byte
	set := func(i int, c byte) {
		if b == nil {
			b = []byte(ld)
		}
		b[i] = c
	}
	if blanksOK && ld[10:12] == "  " {
		set(10, '2')
		set(11, '2')
	}
	if blanksOK && ld[20:24] == "    " {
		copy20 := "4500"
		for i := 0; i < 4; i++ {
			set(20+i, copy20[i])
		}
	}
	for i := 0; i < 24; i++ {
		c := ld[i]
		if b != nil {
			c = b[i]
		}
		ok := true
		fix := byte(' ')
		switch k := leaderClass[i]; k {
		case 'D':
			ok = c == ' ' || (c >= '0' && c <= '9')
			fix = '0'
		case 'a':
			ok = c == ' ' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		case 'A':
			ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
			fix = 'a'
		default:
			ok = c == k
			fix = k
		}
		if i == 9 {
			continue // checked by the ISO reader; always 'a' in memory
		}
		if !ok {
			switch {
			case i >= 10 && i <= 11:
				report(10, fmt.Sprintf("leader/10-11 is %q, not \"22\"", ld[10:12]))
				set(10, '2')
				set(11, '2')
				i = 11
			case i >= 20:
				report(20, fmt.Sprintf("leader/20-23 is %q, not \"4500\"", ld[20:24]))
				for j := 20; j < 24; j++ {
					set(j, "4500"[j-20])
				}
				i = 23
			default:
				report(i, fmt.Sprintf("leader/%02d has invalid character %q", i, c))
				set(i, fix)
			}
		}
	}
	if ld[9] != 'a' {
		set(9, 'a')
	}
	if b != nil {
		return string(b)
	}
	return ld
}

// checkRecord validates a record built by the XML or JSON reader (the ISO
// reader checks while it parses). report gets the index of the field
// concerned (-1 for the record or its leader). The record is repaired in
// place as lenient mode wants it: invalid text gets U+FFFD, bad indicators
// become blank, bad subfield codes become '?', one- and two-digit tags get
// leading zeros, and empty data fields and fields with an unrepairable tag
// are dropped. A record without a leader gets DefaultLeader.
func checkRecord(rec *Record, hadLeader bool, report func(field int, tag, msg, fix string)) {
	if !hadLeader {
		rec.Leader = DefaultLeader
	} else {
		rec.Leader = leaderProblems(rec.Leader, true, func(_ int, msg string) { report(-1, "", msg, "repaired") })
	}
	out := rec.Fields[:0]
	for i, f := range rec.Fields {
		if p := tagProblem(f.Tag); p != "" {
			t, ok := repairTag(f.Tag)
			if ok && IsControl(t) != (len(f.Subfields) == 0) {
				ok = false // "2" with subfields is no control field 002
			}
			if !ok {
				report(i, f.Tag, p, "field dropped")
				continue
			}
			report(i, f.Tag, p, "using "+t)
			f.Tag = t
		}
		if IsControl(f.Tag) {
			if len(f.Subfields) > 0 {
				report(i, f.Tag, "control field has subfields", "dropped them")
				f.Subfields = nil
			}
			f.Ind1, f.Ind2 = 0, 0
			if j := badText(f.Value); j >= 0 {
				report(i, f.Tag, textMsg(f.Value, j), "replaced with U+FFFD")
				f.Value = fixText([]byte(f.Value))
			}
			out = append(out, f)
			continue
		}
		if f.Value != "" {
			report(i, f.Tag, "data field has text outside subfields", "dropped it")
			f.Value = ""
		}
		if !validInd(f.Ind1) {
			report(i, f.Tag, fmt.Sprintf("invalid indicator 1 %q", f.Ind1), "using blank")
			f.Ind1 = ' '
		}
		if !validInd(f.Ind2) {
			report(i, f.Tag, fmt.Sprintf("invalid indicator 2 %q", f.Ind2), "using blank")
			f.Ind2 = ' '
		}
		if len(f.Subfields) == 0 {
			report(i, f.Tag, "data field has no subfields", "field dropped")
			continue
		}
		for j := range f.Subfields {
			s := &f.Subfields[j]
			if !validCode(s.Code) {
				report(i, f.Tag, fmt.Sprintf("invalid subfield code %q", s.Code), "using '?'")
				s.Code = '?'
			}
			if k := badText(s.Value); k >= 0 {
				report(i, f.Tag, textMsg(s.Value, k), "replaced with U+FFFD")
				s.Value = fixText([]byte(s.Value))
			}
		}
		out = append(out, f)
	}
	rec.Fields = out
}

// validateForWrite checks what every writer requires; it returns the leader
// to write (DefaultLeader for "", position 9 'a', 10-11 "22", 20-23 "4500").
func validateForWrite(rec *Record) (string, error) {
	if rec == nil {
		return "", errors.New("marc: nil record")
	}
	ld := rec.Leader
	if ld == "" {
		ld = DefaultLeader
	}
	var msg string
	ld = leaderProblems(ld, true, func(_ int, m string) {
		if msg == "" {
			msg = m
		}
	})
	if msg != "" {
		return "", fmt.Errorf("marc: cannot write record: %s", msg)
	}
	if len(rec.Fields) == 0 {
		return "", errors.New("marc: cannot write record: it has no fields")
	}
	for i := range rec.Fields {
		f := &rec.Fields[i]
		if p := tagProblem(f.Tag); p != "" {
			return "", fmt.Errorf("marc: cannot write field %d: %s", i+1, p)
		}
		if f.IsControl() {
			if len(f.Subfields) > 0 {
				return "", fmt.Errorf("marc: cannot write field %s: control field has subfields", f.Tag)
			}
			if j := badText(f.Value); j >= 0 {
				return "", fmt.Errorf("marc: cannot write field %s: %s", f.Tag, textMsg(f.Value, j))
			}
			continue
		}
		if f.Value != "" {
			return "", fmt.Errorf("marc: cannot write field %s: data field has a Value (use subfields)", f.Tag)
		}
		if !validInd(blankInd(f.Ind1)) || !validInd(blankInd(f.Ind2)) {
			return "", fmt.Errorf("marc: cannot write field %s: invalid indicators %q", f.Tag, []byte{blankInd(f.Ind1), blankInd(f.Ind2)})
		}
		if len(f.Subfields) == 0 {
			return "", fmt.Errorf("marc: cannot write field %s: data field has no subfields", f.Tag)
		}
		for _, s := range f.Subfields {
			if !validCode(s.Code) {
				return "", fmt.Errorf("marc: cannot write field %s: invalid subfield code %q", f.Tag, s.Code)
			}
			if j := badText(s.Value); j >= 0 {
				return "", fmt.Errorf("marc: cannot write field %s$%c: %s", f.Tag, s.Code, textMsg(s.Value, j))
			}
		}
	}
	return ld, nil
}

// blankInd lets a writer treat the zero byte (an indicator never set) as
// blank.
func blankInd(c byte) byte {
	if c == 0 {
		return ' '
	}
	return c
}
