package marc

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// SlimNS is the MARCXML namespace.
const SlimNS = "http://www.loc.gov/MARC21/slim"

// XMLReader reads MARCXML records one at a time with the token API of
// encoding/xml: a <collection> of <record>s, a single <record> root, or
// records inside any wrapper (such as an OAI-PMH response). Elements may be
// in the MARCXML namespace (with any prefix) or in no namespace.
//
// Bytes that XML forbids (control characters, invalid UTF-8) would stop
// encoding/xml for the rest of the file; the reader replaces them with
// U+FFFD before parsing and reports them as problems of the record they are
// in, so one bad record does not end the file.
type XMLReader struct {
	dec      *xml.Decoder
	filt     *xmlFilter
	opt      ReadOptions
	n        int
	err      error
	warnings []ParseError
	text     []byte
}

// NewXMLReader returns a reader of MARCXML records from r.
func NewXMLReader(r io.Reader, opt ReadOptions) *XMLReader {
	f := &xmlFilter{r: r, in: make([]byte, 0, 32<<10)}
	dec := xml.NewDecoder(f)
	dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-8", "utf8", "us-ascii", "ascii":
			return in, nil
		}
		return nil, fmt.Errorf("unsupported XML encoding %q (MARCXML is UTF-8)", label)
	}
	return &XMLReader{dec: dec, filt: f, opt: opt}
}

// Warnings returns what lenient mode repaired in the record returned by the
// last Read.
func (x *XMLReader) Warnings() []ParseError { return x.warnings }

func slimName(n xml.Name) bool { return n.Space == SlimNS || n.Space == "" }

// problem is one finding in a record, at an offset of the filtered input.
type problem struct {
	off  int64
	tag  string
	msg  string
	fidx int    // field index, -1 for the record
	fix  string // what lenient mode did about it
}

// text is the message of a problem: with the repair in lenient mode.
func (p problem) text(lenient bool) string {
	if lenient && p.fix != "" {
		return p.msg + "; " + p.fix
	}
	return p.msg
}

// Read returns the next record, io.EOF at the end, or a *ParseError for a
// bad record (the next Read goes on after it). An XML syntax error ends the
// input: it is returned once, then io.EOF.
func (x *XMLReader) Read() (*Record, error) {
	x.warnings = nil
	if x.err != nil {
		return nil, x.err
	}
	for {
		off := x.dec.InputOffset()
		tok, err := x.dec.Token()
		if err != nil {
			return nil, x.fatal(err, x.n+1, off)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "record" && slimName(se.Name) {
			x.n++
			return x.record(off)
		}
	}
}

func (x *XMLReader) fatal(err error, rec int, off int64) error {
	if errors.Is(err, io.EOF) {
		x.err = io.EOF
		return io.EOF
	}
	x.err = io.EOF
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return &ParseError{Record: rec, Offset: x.filt.orig(x.dec.InputOffset()), Msg: "XML syntax error: " + se.Msg}
	}
	if x.filt.err != nil && !errors.Is(x.filt.err, io.EOF) {
		x.err = x.filt.err
		return x.filt.err
	}
	return &ParseError{Record: rec, Offset: x.filt.orig(max(off, x.dec.InputOffset())), Msg: err.Error()}
}

// readText returns the character data of the element just opened, up to
// its end. Child elements are skipped and reported.
func (x *XMLReader) readText(probs *[]problem, fidx int, tag string) (string, error) {
	x.text = x.text[:0]
	for {
		off := x.dec.InputOffset()
		tok, err := x.dec.Token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			x.text = append(x.text, t...)
		case xml.StartElement:
			*probs = append(*probs, problem{off, tag, fmt.Sprintf("unexpected element <%s> in text", t.Name.Local), fidx, "skipped"})
			if err := x.dec.Skip(); err != nil {
				return "", err
			}
		case xml.EndElement:
			return string(x.text), nil
		}
	}
}

func attr(se xml.StartElement, name string) (string, bool) {
	for _, a := range se.Attr {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value, true
		}
	}
	return "", false
}

// oneByte returns the single byte of an attribute value. A missing or
// empty attribute gives def (MARCXML in the wild leaves out blank
// indicators). Anything else is a problem; the repair uses the value
// without surrounding blanks if that is one byte, else def.
func oneByte(v string, ok bool, what string, def byte, add func(string)) byte {
	if !ok || v == "" {
		return def
	}
	if len(v) == 1 {
		return v[0]
	}
	add(fmt.Sprintf("%s %q is not one character", what, v))
	if t := strings.TrimSpace(v); len(t) == 1 {
		return t[0]
	}
	return def
}

func (x *XMLReader) record(start int64) (*Record, error) {
	rec := &Record{}
	var probs []problem
	var fieldOff []int64
	hadLeader := false
	leaderOff := start
	for {
		off := x.dec.InputOffset()
		tok, err := x.dec.Token()
		if err != nil {
			return nil, x.fatal(err, x.n, off)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return x.finish(rec, probs, fieldOff, hadLeader, start, leaderOff)
		case xml.StartElement:
			if !slimName(t.Name) {
				if err := x.dec.Skip(); err != nil {
					return nil, x.fatal(err, x.n, off)
				}
				continue
			}
			fidx := len(rec.Fields)
			switch t.Name.Local {
			case "leader":
				if hadLeader {
					probs = append(probs, problem{off, "", "second leader", -1, "ignored"})
					if err := x.dec.Skip(); err != nil {
						return nil, x.fatal(err, x.n, off)
					}
					continue
				}
				v, err := x.readText(&probs, -1, "")
				if err != nil {
					return nil, x.fatal(err, x.n, off)
				}
				rec.Leader, hadLeader, leaderOff = v, true, off
			case "controlfield":
				tag, _ := attr(t, "tag")
				v, err := x.readText(&probs, fidx, tag)
				if err != nil {
					return nil, x.fatal(err, x.n, off)
				}
				rec.Fields = append(rec.Fields, Field{Tag: tag, Value: v})
				fieldOff = append(fieldOff, off)
			case "datafield":
				tag, _ := attr(t, "tag")
				add := func(msg string) { probs = append(probs, problem{off, tag, msg, fidx, "repaired"}) }
				v1, ok1 := attr(t, "ind1")
				v2, ok2 := attr(t, "ind2")
				f := Field{Tag: tag, Ind1: oneByte(v1, ok1, "indicator 1", ' ', add), Ind2: oneByte(v2, ok2, "indicator 2", ' ', add)}
				if err := x.subfields(&f, &probs, fidx); err != nil {
					return nil, x.fatal(err, x.n, off)
				}
				rec.Fields = append(rec.Fields, f)
				fieldOff = append(fieldOff, off)
			default:
				probs = append(probs, problem{off, "", fmt.Sprintf("unexpected element <%s>", t.Name.Local), -1, "skipped"})
				if err := x.dec.Skip(); err != nil {
					return nil, x.fatal(err, x.n, off)
				}
			}
		}
	}
}

func (x *XMLReader) subfields(f *Field, probs *[]problem, fidx int) error {
	for {
		off := x.dec.InputOffset()
		tok, err := x.dec.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.CharData:
			if len(strings.TrimSpace(string(t))) > 0 {
				*probs = append(*probs, problem{off, f.Tag, "text outside subfields", fidx, "ignored"})
			}
		case xml.StartElement:
			if !slimName(t.Name) || t.Name.Local != "subfield" {
				if slimName(t.Name) {
					*probs = append(*probs, problem{off, f.Tag, fmt.Sprintf("unexpected element <%s>", t.Name.Local), fidx, "skipped"})
				}
				if err := x.dec.Skip(); err != nil {
					return err
				}
				continue
			}
			v, ok := attr(t, "code")
			if !ok || v == "" {
				*probs = append(*probs, problem{off, f.Tag, "missing subfield code", fidx, "using '?'"})
			}
			code := oneByte(v, ok, "subfield code", '?', func(msg string) {
				// A code that the input filter replaced is reported by it.
				if !strings.Contains(v, "\uFFFD") || len(x.filt.within(off, x.dec.InputOffset())) == 0 {
					*probs = append(*probs, problem{off, f.Tag, msg, fidx, "repaired"})
				}
			})
			text, err := x.readText(probs, fidx, f.Tag)
			if err != nil {
				return err
			}
			f.Subfields = append(f.Subfields, Subfield{Code: code, Value: text})
		}
	}
}

// finish validates the record (repairing it in lenient mode) and returns it
// or the first problem.
func (x *XMLReader) finish(rec *Record, probs []problem, fieldOff []int64, hadLeader bool, start, leaderOff int64) (*Record, error) {
	end := x.dec.InputOffset()
	for _, rp := range x.filt.within(start, end) {
		probs = append(probs, problem{rp.pos, "", rp.msg(), -1, "replaced with U+FFFD"})
	}
	defer x.filt.forget(end)
	checkRecord(rec, hadLeader, func(fidx int, tag, msg, fix string) {
		off := leaderOff
		if fidx >= 0 {
			off = fieldOff[fidx]
		}
		probs = append(probs, problem{off, tag, msg, fidx, fix})
	})
	if len(probs) == 0 && len(rec.Fields) > 0 {
		return rec, nil
	}
	slices.SortStableFunc(probs, func(a, b problem) int {
		switch {
		case a.off < b.off:
			return -1
		case a.off > b.off:
			return 1
		}
		return 0
	})
	reject := !x.opt.Lenient
	if len(rec.Fields) == 0 {
		// Nothing to return, even in lenient mode; in strict mode the
		// first problem tells why.
		probs = append(probs, problem{start, "", "record has no fields", -1, ""})
		if x.opt.Lenient {
			probs = probs[len(probs)-1:]
		}
		reject = true
	}
	pes := make([]ParseError, len(probs))
	for i, p := range probs {
		pes[i] = ParseError{Record: x.n, Offset: x.filt.orig(p.off), Tag: p.tag, Msg: p.text(!reject)}
	}
	if reject {
		return nil, &pes[0]
	}
	x.warnings = pes
	return rec, nil
}

// xmlFilter passes XML input through, replacing each byte that XML does
// not allow (C0 controls other than tab, newline and carriage return, and
// bytes of invalid UTF-8) with U+FFFD and remembering where.
type xmlFilter struct {
	r    io.Reader
	in   []byte // unprocessed input
	out  []byte // processed output not yet read
	obuf []byte
	err  error
	pos  int64  // filtered bytes produced
	repl []repl // replacements, in order
	// all replacements before repl[0] (already dropped), for orig()
	dropped int64
}

type repl struct {
	pos int64 // filtered offset of the U+FFFD
	b   byte  // the original byte
}

func (r repl) msg() string {
	if r.b < 0x20 {
		return fmt.Sprintf("control character 0x%02X is not allowed in XML", r.b)
	}
	return fmt.Sprintf("invalid UTF-8 byte 0x%02X", r.b)
}

func (f *xmlFilter) Read(p []byte) (int, error) {
	for len(f.out) == 0 {
		if f.err != nil && len(f.in) == 0 {
			return 0, f.err
		}
		if f.err == nil && len(f.in) < cap(f.in) {
			n, err := f.r.Read(f.in[len(f.in):cap(f.in)])
			f.in = f.in[:len(f.in)+n]
			if err != nil {
				f.err = err
			}
		}
		f.process()
	}
	n := copy(p, f.out)
	f.out = f.out[n:]
	return n, nil
}

func (f *xmlFilter) process() {
	in := f.in
	out := f.obuf[:0]
	i := 0
	for i < len(in) {
		c := in[i]
		if c >= 0x20 && c < utf8.RuneSelf || c == '\n' || c == '\r' || c == '\t' {
			out = append(out, c)
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			if !utf8.FullRune(in[i:]) && f.err == nil {
				break // wait for the rest of the character
			}
			r, size := utf8.DecodeRune(in[i:])
			if r != utf8.RuneError || size > 1 {
				out = append(out, in[i:i+size]...)
				i += size
				continue
			}
		}
		f.repl = append(f.repl, repl{pos: f.pos + int64(len(out)), b: c})
		out = append(out, "\uFFFD"...)
		i++
	}
	f.pos += int64(len(out))
	f.obuf = out
	f.out = out
	f.in = f.in[:copy(f.in, in[i:])]
}

// within returns the replacements in [start, end).
func (f *xmlFilter) within(start, end int64) []repl {
	i := 0
	for i < len(f.repl) && f.repl[i].pos < start {
		i++
	}
	j := i
	for j < len(f.repl) && f.repl[j].pos < end {
		j++
	}
	return f.repl[i:j]
}

// forget drops the replacements before end, keeping their count for orig.
func (f *xmlFilter) forget(end int64) {
	j := 0
	for j < len(f.repl) && f.repl[j].pos < end {
		j++
	}
	f.dropped += int64(j)
	f.repl = f.repl[j:]
}

// orig maps an offset of the filtered input to the original input: each
// replacement made one byte three.
func (f *xmlFilter) orig(off int64) int64 {
	n := f.dropped
	for _, r := range f.repl {
		if r.pos >= off {
			break
		}
		n++
	}
	return off - 2*n
}

// XMLWriter writes a MARCXML collection.
type XMLWriter struct {
	w       io.Writer
	buf     []byte
	started bool
	closed  bool
}

// NewXMLWriter returns a writer of a MARCXML <collection> to w. Call Close
// to end the document.
func NewXMLWriter(w io.Writer) *XMLWriter { return &XMLWriter{w: w} }

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// Write writes one record. Control fields are written before data fields,
// as the schema requires; their order is kept otherwise.
func (x *XMLWriter) Write(rec *Record) error {
	if x.closed {
		return errors.New("marc: XMLWriter is closed")
	}
	b := x.buf[:0]
	if !x.started {
		b = append(b, xmlHeader...)
		b = append(b, `<collection xmlns="`+SlimNS+`">`+"\n"...)
	}
	b, err := appendXMLRecord(b, rec, "  ", false)
	if err != nil {
		return err
	}
	x.buf = b
	x.started = true
	_, err = x.w.Write(b)
	return err
}

// Close ends the collection. It does not close the underlying writer.
func (x *XMLWriter) Close() error {
	if x.closed {
		return nil
	}
	x.closed = true
	var b []byte
	if !x.started {
		b = append(b, xmlHeader...)
		b = append(b, `<collection xmlns="`+SlimNS+`">`+"\n"...)
	}
	b = append(b, "</collection>\n"...)
	_, err := x.w.Write(b)
	return err
}

// MarshalXML returns one record as a MARCXML document with a <record> root.
func MarshalXML(rec *Record) ([]byte, error) {
	b := append([]byte(nil), xmlHeader...)
	return appendXMLRecord(b, rec, "", true)
}

func appendXMLRecord(b []byte, rec *Record, ind string, ns bool) ([]byte, error) {
	ld, err := validateForWrite(rec)
	if err != nil {
		return b, err
	}
	b = append(b, ind...)
	if ns {
		b = append(b, `<record xmlns="`+SlimNS+`">`+"\n"...)
	} else {
		b = append(b, "<record>\n"...)
	}
	b = append(b, ind...)
	b = append(b, "  <leader>"...)
	b = appendEscaped(b, ld, false)
	b = append(b, "</leader>\n"...)
	for i := range rec.Fields {
		f := &rec.Fields[i]
		if !f.IsControl() {
			continue
		}
		b = append(b, ind...)
		b = append(b, `  <controlfield tag="`...)
		b = append(b, f.Tag...)
		b = append(b, `">`...)
		b = appendEscaped(b, f.Value, false)
		b = append(b, "</controlfield>\n"...)
	}
	for i := range rec.Fields {
		f := &rec.Fields[i]
		if f.IsControl() {
			continue
		}
		b = append(b, ind...)
		b = append(b, `  <datafield tag="`...)
		b = append(b, f.Tag...)
		b = append(b, `" ind1="`...)
		b = append(b, blankInd(f.Ind1))
		b = append(b, `" ind2="`...)
		b = append(b, blankInd(f.Ind2))
		b = append(b, "\">\n"...)
		for _, s := range f.Subfields {
			b = append(b, ind...)
			b = append(b, `    <subfield code="`...)
			b = appendEscaped(b, string(s.Code), true)
			b = append(b, `">`...)
			b = appendEscaped(b, s.Value, false)
			b = append(b, "</subfield>\n"...)
		}
		b = append(b, ind...)
		b = append(b, "  </datafield>\n"...)
	}
	b = append(b, ind...)
	b = append(b, "</record>\n"...)
	return b, nil
}

// appendEscaped appends s escaped for XML text (attr: for an attribute
// value). Carriage returns, and tabs and newlines in attributes, are
// written as character references so that parsers keep them.
func appendEscaped(b []byte, s string, attr bool) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\r':
			esc = "&#xD;"
		case '"':
			if !attr {
				continue
			}
			esc = "&quot;"
		case '\n':
			if !attr {
				continue
			}
			esc = "&#xA;"
		case '\t':
			if !attr {
				continue
			}
			esc = "&#x9;"
		default:
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		last = i + 1
	}
	return append(b, s[last:]...)
}
