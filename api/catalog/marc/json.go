package marc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// MARC-in-JSON:
//
//	{"leader": "...", "fields": [{"001": "..."},
//	  {"245": {"ind1": "1", "ind2": "0", "subfields": [{"a": "..."}]}}]}

// JSONReader reads MARC-in-JSON records from a stream: a JSON array of
// records, a single record object, or record objects one after another.
// Each record is decoded on its own: a 1 GB array never sits in memory.
type JSONReader struct {
	br       *bufio.Reader
	filt     *jsonFilter
	dec      *json.Decoder
	opt      ReadOptions
	n        int
	err      error
	started  bool
	inArray  bool
	warnings []ParseError
}

// NewJSONReader returns a reader of MARC-in-JSON records from r. In lenient
// mode, raw control characters inside JSON strings (newlines in values,
// as some tools write them) are accepted.
func NewJSONReader(r io.Reader, opt ReadOptions) *JSONReader {
	br := bufio.NewReader(r)
	j := &JSONReader{br: br, opt: opt}
	var src io.Reader = br
	if opt.Lenient {
		j.filt = &jsonFilter{r: br}
		src = j.filt
	}
	j.dec = json.NewDecoder(src)
	return j
}

// Warnings returns what lenient mode repaired in the record returned by the
// last Read.
func (j *JSONReader) Warnings() []ParseError { return j.warnings }

// Read returns the next record, io.EOF at the end, or a *ParseError. A
// record with wrong content is skipped (the next Read goes on); a JSON
// syntax error ends the input.
func (j *JSONReader) Read() (*Record, error) {
	j.warnings = nil
	if j.err != nil {
		return nil, j.err
	}
	if !j.started {
		j.started = true
		f, err := Detect(j.br)
		if err == io.EOF {
			j.err = io.EOF
			return nil, io.EOF
		}
		if err != nil || f != JSON {
			j.err = io.EOF
			return nil, &ParseError{Record: 1, Offset: 0, Msg: "input is not JSON"}
		}
		// Skip a byte order mark and white space to see '[' or '{'.
		for {
			b, _ := j.br.Peek(1)
			if len(b) == 1 && b[0] != '[' && b[0] != '{' {
				j.br.Discard(1) //nolint:errcheck // peeked
				continue
			}
			if len(b) == 1 && b[0] == '[' {
				if _, err := j.dec.Token(); err != nil {
					return nil, j.fatal(err, j.n+1)
				}
				j.inArray = true
			}
			break
		}
	}
	if !j.dec.More() {
		if j.inArray {
			if _, err := j.dec.Token(); err != nil { // ']'
				return nil, j.fatal(err, j.n+1)
			}
		}
		j.err = io.EOF
		return nil, io.EOF
	}
	j.n++
	start := j.dec.InputOffset()
	var raw json.RawMessage
	escaped := 0
	if j.filt != nil {
		escaped = j.filt.escaped
	}
	if err := j.dec.Decode(&raw); err != nil {
		return nil, j.fatal(err, j.n)
	}
	// InputOffset was before any white space and comma; point at the '{'.
	start = j.dec.InputOffset() - int64(len(raw))
	rec, probs := decodeJSONRecord(raw)
	if j.filt != nil && j.filt.escaped > escaped {
		probs = append([]problem{{msg: "raw control characters in JSON strings", fix: "accepted"}}, probs...)
	}
	if len(probs) == 0 {
		return rec, nil
	}
	pes := make([]ParseError, len(probs))
	for i, p := range probs {
		pes[i] = ParseError{Record: j.n, Offset: start, Tag: p.tag, Msg: p.text(j.opt.Lenient && rec != nil)}
	}
	if !j.opt.Lenient || rec == nil {
		return nil, &pes[0]
	}
	j.warnings = pes
	return rec, nil
}

func (j *JSONReader) fatal(err error, rec int) error {
	j.err = io.EOF
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &ParseError{Record: rec, Offset: se.Offset, Msg: "JSON syntax error: " + se.Error()}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &ParseError{Record: rec, Offset: j.dec.InputOffset(), Msg: "JSON ends in the middle of a record"}
	}
	j.err = err
	return err
}

type jsonRecord struct {
	Leader *string                      `json:"leader"`
	Fields []map[string]json.RawMessage `json:"fields"`
}

type jsonDataField struct {
	Ind1      *string             `json:"ind1"`
	Ind2      *string             `json:"ind2"`
	Subfields []map[string]string `json:"subfields"`
}

// decodeJSONRecord parses one record object. It returns a nil record when
// the JSON does not have the record's shape; otherwise the record repaired
// for lenient mode and the problems found.
func decodeJSONRecord(raw []byte) (*Record, []problem) {
	var jr jsonRecord
	if err := json.Unmarshal(raw, &jr); err != nil {
		return nil, []problem{{msg: "not a MARC-in-JSON record: " + jsonErr(err), fidx: -1}}
	}
	var probs []problem
	add := func(tag, msg, fix string) { probs = append(probs, problem{tag: tag, msg: msg, fidx: -1, fix: fix}) }
	rec := &Record{Fields: make([]Field, 0, len(jr.Fields))}
	if jr.Leader != nil {
		rec.Leader = *jr.Leader
	}
	for i, m := range jr.Fields {
		if len(m) != 1 {
			add("", fmt.Sprintf("field %d has %d keys, not one tag", i+1, len(m)), "field dropped")
			continue
		}
		for tag, v := range m {
			v = bytes.TrimSpace(v)
			if len(v) > 0 && v[0] == '"' {
				var s string
				if err := json.Unmarshal(v, &s); err != nil {
					add(tag, jsonErr(err), "field dropped")
					continue
				}
				if !IsControl(tag) {
					add(tag, "data field given as a string", "field dropped")
					continue
				}
				rec.Fields = append(rec.Fields, Field{Tag: tag, Value: s})
				continue
			}
			var df jsonDataField
			if err := json.Unmarshal(v, &df); err != nil {
				add(tag, jsonErr(err), "field dropped")
				continue
			}
			f := Field{Tag: tag, Ind1: ' ', Ind2: ' '}
			ind := func(p *string, what string) byte {
				switch {
				case p == nil:
					add(tag, "missing "+what, "using blank")
					return ' '
				case len(*p) != 1:
					add(tag, fmt.Sprintf("%s %q is not one character", what, *p), "using blank")
					return ' '
				}
				return (*p)[0]
			}
			f.Ind1 = ind(df.Ind1, "ind1")
			f.Ind2 = ind(df.Ind2, "ind2")
			for _, sm := range df.Subfields {
				if len(sm) != 1 {
					add(tag, fmt.Sprintf("subfield with %d keys, not one code", len(sm)), "subfield dropped")
					continue
				}
				for code, val := range sm {
					c := byte('?')
					if len(code) == 1 {
						c = code[0]
					} else {
						add(tag, fmt.Sprintf("subfield code %q is not one character", code), "using '?'")
					}
					f.Subfields = append(f.Subfields, Subfield{Code: c, Value: val})
				}
			}
			if IsControl(tag) {
				add(tag, "control field given as an object", "field dropped")
				continue
			}
			rec.Fields = append(rec.Fields, f)
		}
	}
	checkRecord(rec, jr.Leader != nil, func(_ int, tag, msg, fix string) { add(tag, msg, fix) })
	if len(rec.Fields) == 0 {
		// Nothing to return, even in lenient mode; the first problem
		// tells why.
		return nil, append(probs, problem{msg: "record has no fields", fidx: -1})
	}
	return rec, probs
}

func jsonErr(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("%s: JSON %s where %s is expected", te.Field, te.Value, te.Type)
		}
		return fmt.Sprintf("JSON %s where %s is expected", te.Value, te.Type)
	}
	return err.Error()
}

// EncodeJSON returns one record in MARC-in-JSON.
func EncodeJSON(rec *Record) ([]byte, error) { return appendJSON(nil, rec) }

// DecodeJSON parses one MARC-in-JSON record (strict mode).
func DecodeJSON(data []byte) (*Record, error) {
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		return nil, fmt.Errorf("marc: %w", err)
	}
	rec, probs := decodeJSONRecord(data)
	if len(probs) > 0 {
		return nil, &ParseError{Record: 1, Tag: probs[0].tag, Msg: probs[0].text(false)}
	}
	return rec, nil
}

// MarshalJSON encodes the record as MARC-in-JSON.
func (r *Record) MarshalJSON() ([]byte, error) { return EncodeJSON(r) }

// UnmarshalJSON decodes a MARC-in-JSON record (strict mode).
func (r *Record) UnmarshalJSON(data []byte) error {
	rec, err := DecodeJSON(data)
	if err != nil {
		return err
	}
	*r = *rec
	return nil
}

func appendJSON(b []byte, rec *Record) ([]byte, error) {
	ld, err := validateForWrite(rec)
	if err != nil {
		return b, err
	}
	b = append(b, `{"leader":`...)
	b = appendJSONString(b, ld)
	b = append(b, `,"fields":[`...)
	for i := range rec.Fields {
		f := &rec.Fields[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = appendJSONString(b, f.Tag)
		b = append(b, ':')
		if f.IsControl() {
			b = appendJSONString(b, f.Value)
			b = append(b, '}')
			continue
		}
		b = append(b, `{"ind1":`...)
		b = appendJSONString(b, string(blankInd(f.Ind1)))
		b = append(b, `,"ind2":`...)
		b = appendJSONString(b, string(blankInd(f.Ind2)))
		b = append(b, `,"subfields":[`...)
		for k, s := range f.Subfields {
			if k > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			b = appendJSONString(b, string(s.Code))
			b = append(b, ':')
			b = appendJSONString(b, s.Value)
			b = append(b, '}')
		}
		b = append(b, "]}}"...)
	}
	b = append(b, "]}"...)
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s (valid UTF-8) as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == '\u2028' || r == '\u2029' {
				b = append(b, s[last:i]...)
				b = append(b, `\u202`...)
				b = append(b, hexDigits[r&0xF])
				last = i + size
			}
			i += size
			continue
		}
		b = append(b, s[last:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		last = i
	}
	b = append(b, s[last:]...)
	return append(b, '"')
}

// JSONWriter writes a JSON array of MARC-in-JSON records.
type JSONWriter struct {
	w      io.Writer
	buf    []byte
	n      int
	closed bool
}

// NewJSONWriter returns a writer of a JSON array of records to w. Call
// Close to end the array.
func NewJSONWriter(w io.Writer) *JSONWriter { return &JSONWriter{w: w} }

// Write writes one record.
func (j *JSONWriter) Write(rec *Record) error {
	if j.closed {
		return errors.New("marc: JSONWriter is closed")
	}
	b := j.buf[:0]
	if j.n == 0 {
		b = append(b, "[\n"...)
	} else {
		b = append(b, ",\n"...)
	}
	b, err := appendJSON(b, rec)
	if err != nil {
		return err
	}
	j.buf = b
	j.n++
	_, err = j.w.Write(b)
	return err
}

// Close ends the array. It does not close the underlying writer.
func (j *JSONWriter) Close() error {
	if j.closed {
		return nil
	}
	j.closed = true
	s := "\n]\n"
	if j.n == 0 {
		s = "[]\n"
	}
	_, err := io.WriteString(j.w, s)
	return err
}

// jsonFilter escapes raw control characters inside JSON strings (lenient
// mode), which encoding/json rejects.
type jsonFilter struct {
	r        io.Reader
	inString bool
	escape   bool
	escaped  int // control characters escaped so far
	pending  []byte
	buf      []byte
}

func (f *jsonFilter) Read(p []byte) (int, error) {
	if len(f.pending) > 0 {
		n := copy(p, f.pending)
		f.pending = f.pending[n:]
		return n, nil
	}
	if cap(f.buf) < len(p) {
		f.buf = make([]byte, len(p))
	}
	n, err := f.r.Read(f.buf[:len(p)])
	out := p[:0]
	var extra []byte
	put := func(e byte) {
		if len(out) < len(p) {
			out = append(out, e)
		} else {
			extra = append(extra, e)
		}
	}
	for _, c := range f.buf[:n] {
		switch {
		case f.escape:
			f.escape = false
		case f.inString && c == '\\':
			f.escape = true
		case c == '"':
			f.inString = !f.inString
		case f.inString && c < 0x20:
			f.escaped++
			for _, e := range [6]byte{'\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF]} {
				put(e)
			}
			continue
		}
		put(c)
	}
	f.pending = extra
	if len(out) == 0 && len(extra) > 0 {
		k := copy(p, extra)
		f.pending = extra[k:]
		return k, nil
	}
	if len(f.pending) > 0 && err != nil {
		err = nil // deliver the rest first; the error comes back on the next read
	}
	return len(out), err
}
