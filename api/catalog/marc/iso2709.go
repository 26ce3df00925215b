package marc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// ISO 2709 structure characters.
const (
	recordTerminator = 0x1D
	fieldTerminator  = 0x1E
	subfieldDelim    = 0x1F
)

// readerBufSize holds the longest record (99999 bytes) in one Peek.
const readerBufSize = 1 << 17

// Reader reads ISO 2709 (binary MARC 21) records one at a time from a
// stream, holding at most one record (≤ 99999 bytes) in memory. MARC-8
// records (leader/09 blank) are converted to UTF-8.
type Reader struct {
	br       *bufio.Reader
	opt      ReadOptions
	off      int64 // input offset of the next unread byte
	n        int   // records started so far
	err      error // sticky: io.EOF or a read error
	warnings []ParseError
	m8       marc8Decoder
	scratch  []byte
}

// NewReader returns a reader of ISO 2709 records from r.
func NewReader(r io.Reader, opt ReadOptions) *Reader {
	size := readerBufSize
	if l, ok := r.(interface{ Len() int }); ok {
		// A short in-memory input needs no bigger buffer than itself.
		size = min(max(l.Len(), 64), readerBufSize)
	}
	return &Reader{br: bufio.NewReaderSize(r, size), opt: opt}
}

// Warnings returns what lenient mode repaired in the record returned by the
// last Read (nil in strict mode or when nothing was repaired).
func (r *Reader) Warnings() []ParseError { return r.warnings }

// Read returns the next record. At the end of the input it returns io.EOF.
// A *ParseError concerns one record: the next Read goes on with the next
// record. Other errors come from the underlying reader and are final.
func (r *Reader) Read() (*Record, error) {
	r.warnings = nil
	if r.err != nil {
		return nil, r.err
	}
	// Skip what some files put between records.
	for {
		b, err := r.br.Peek(1)
		if len(b) == 0 {
			return nil, r.fail(err)
		}
		c := b[0]
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' && c != 0x1A && c != 0 {
			break
		}
		r.discard(1)
	}
	r.n++
	start := r.off
	head, err := r.br.Peek(5)
	if len(head) < 5 {
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, r.fail(err)
		}
		r.discard(len(head))
		r.err = io.EOF
		return nil, r.perr(start, "", fmt.Sprintf("truncated record: %d bytes at the end of the input", len(head)))
	}
	if !allDigits(head) {
		return r.resync(start, fmt.Sprintf("record length %q is not numeric", head))
	}
	length := atoi(head)
	if length < 26 {
		return r.resync(start, fmt.Sprintf("record length %d is too short (minimum 26)", length))
	}
	data, err := r.br.Peek(length)
	if len(data) < length {
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, r.fail(err)
		}
		return r.resync(start, fmt.Sprintf("record truncated: length is %d but the input has %d bytes left", length, len(data)))
	}
	var warns []ParseError
	if data[length-1] != recordTerminator {
		msg := fmt.Sprintf("record terminator 0x1D missing at the end of the record (length %d)", length)
		if !r.opt.Lenient {
			// Go on after the next record terminator: the length was wrong.
			pe := r.perr(start+int64(length)-1, "", msg)
			r.skipPastTerminator()
			return nil, pe
		}
		k := r.findTerminator()
		if k < 25 {
			return r.resync(start, msg)
		}
		warns = append(warns, ParseError{Record: r.n, Offset: start + int64(length) - 1, Msg: msg + "; using the terminator at length " + strconv.Itoa(k+1)})
		length = k + 1
		data, _ = r.br.Peek(length)
	}
	rec, perr := r.parse(data, start, warns)
	r.discard(length)
	if perr != nil {
		return nil, perr
	}
	return rec, nil
}

func (r *Reader) discard(n int) {
	d, _ := r.br.Discard(n)
	r.off += int64(d)
}

func (r *Reader) fail(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		err = io.EOF
	}
	r.err = err
	return err
}

func (r *Reader) perr(off int64, tag, msg string) *ParseError {
	return &ParseError{Record: r.n, Offset: off, Tag: tag, Msg: msg}
}

// findTerminator returns the index of the next record terminator in the
// buffered input (at most a buffer, 128 KiB, ahead), or -1.
func (r *Reader) findTerminator() int {
	data, _ := r.br.Peek(r.br.Size())
	k := bytes.IndexByte(data, recordTerminator)
	if k >= MaxRecordLength {
		return -1
	}
	return k
}

// skipPastTerminator consumes the input up to and including the next
// record terminator, or everything.
func (r *Reader) skipPastTerminator() {
	for {
		// Peek beyond the buffer size would fail without reading.
		data, err := r.br.Peek(r.br.Size())
		if k := bytes.IndexByte(data, recordTerminator); k >= 0 {
			r.discard(k + 1)
			return
		}
		r.discard(len(data))
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// resync handles a record whose framing is lost. Strict mode reports it and
// skips to the next record terminator; lenient mode tries the bytes up to
// that terminator as the record.
func (r *Reader) resync(start int64, msg string) (*Record, error) {
	if r.opt.Lenient {
		if k := r.findTerminator(); k >= 25 {
			data, _ := r.br.Peek(k + 1)
			w := []ParseError{{Record: r.n, Offset: start, Msg: msg + "; using the record terminator"}}
			rec, perr := r.parse(data, start, w)
			r.discard(k + 1)
			if perr != nil {
				return nil, perr
			}
			return rec, nil
		}
	}
	pe := r.perr(start, "", msg)
	r.skipPastTerminator()
	return nil, pe
}

// isoParser holds the state of parsing one record.
type isoParser struct {
	r     *Reader
	raw   []byte // the record, ending with the record terminator
	s     string // the same bytes as a string: values are slices of it
	start int64
	warns []ParseError
	err   *ParseError
	marc8 bool // decode values from MARC-8
	// legacy: decode values with ReadOptions.Encoding
	legacy bool
}

// looksUTF8 tells UTF-8 data in a record that claims to be MARC-8: valid
// UTF-8 with multi-byte characters and no escape sequences. MARC-8 text
// with diacritics is almost never valid UTF-8 (a combining mark 0xE0-0xFE
// before an ASCII letter is an invalid sequence).
func looksUTF8(raw []byte) bool {
	high := false
	for _, c := range raw {
		if c == 0x1B {
			return false
		}
		if c >= 0x80 {
			high = true
		}
	}
	return high && utf8.Valid(raw)
}

// problem records a problem at index i of the record. It returns true in
// strict mode, where the record is rejected.
func (p *isoParser) problem(i int, tag, msg string) bool {
	pe := ParseError{Record: p.r.n, Offset: p.start + int64(i), Tag: tag, Msg: msg}
	if !p.r.opt.Lenient {
		p.err = &pe
		return true
	}
	p.warns = append(p.warns, pe)
	return false
}

// fatal rejects the record even in lenient mode.
func (p *isoParser) fatal(i int, tag, msg string) (*Record, *ParseError) {
	p.problem(i, tag, msg)
	if p.err == nil {
		p.err = &p.warns[len(p.warns)-1]
	}
	return nil, p.err
}

func (r *Reader) parse(raw []byte, start int64, warns []ParseError) (*Record, error) {
	p := isoParser{r: r, raw: raw, s: string(raw), start: start, warns: warns}
	rec, perr := p.parse()
	if perr != nil {
		return nil, perr
	}
	if len(p.warns) > 0 {
		r.warnings = p.warns
	}
	return rec, nil
}

func (p *isoParser) parse() (*Record, *ParseError) {
	raw := p.raw
	L := len(raw)
	if L < 26 || raw[L-1] != recordTerminator {
		return p.fatal(0, "", "record shorter than a leader")
	}
	ld := []byte(nil) // repaired leader, when it differs
	setLd := func(i int, v string) {
		if ld == nil {
			ld = []byte(p.s[:24])
		}
		copy(ld[i:], v)
	}
	if got := atoi(raw[:5]); !allDigits(raw[:5]) || got != L {
		setLd(0, fmt.Sprintf("%05d", L))
	}

	// leader/09: character coding scheme.
	coding := raw[9]
	if p.r.opt.IgnoreLeader09 {
		coding = ' '
	}
	switch coding {
	case ' ':
		switch {
		case p.r.opt.Encoding != nil:
			p.legacy = true
		case looksUTF8(raw):
			if p.problem(9, "", "leader/09 is blank (MARC-8) but the data is UTF-8") {
				return nil, p.err
			}
			p.warns[len(p.warns)-1].Msg += "; decoding as UTF-8"
		default:
			p.marc8 = true
		}
	case 'a':
	default:
		msg := fmt.Sprintf("leader/09 (character coding) is %q, not ' ' (MARC-8) or 'a' (UTF-8)", raw[9])
		if p.problem(9, "", msg) {
			return nil, p.err
		}
		how := "; decoding as UTF-8"
		switch {
		case p.r.opt.Encoding != nil:
			p.legacy = true
			how = "; decoding with ReadOptions.Encoding"
		case !utf8.Valid(raw):
			p.marc8 = true
			how = "; decoding as MARC-8"
		}
		p.warns[len(p.warns)-1].Msg += how
	}
	if raw[9] != 'a' {
		setLd(9, "a")
	}

	// Base address of data.
	base := 0
	baseMsg := ""
	switch b := raw[12:17]; {
	case !allDigits(b):
		baseMsg = fmt.Sprintf("base address %q is not numeric", b)
	default:
		base = atoi(b)
		switch {
		case base < 25 || base > L-1:
			baseMsg = fmt.Sprintf("base address %d is outside the record (length %d)", base, L)
		case raw[base-1] != fieldTerminator:
			baseMsg = fmt.Sprintf("no field terminator before the base address %d (end of the directory)", base)
		}
	}
	if baseMsg != "" {
		if p.problem(12, "", baseMsg) {
			return nil, p.err
		}
		k := bytes.IndexByte(raw[24:], fieldTerminator)
		if k < 0 {
			return p.fatal(24, "", "no directory terminator")
		}
		base = 24 + k + 1
		setLd(12, fmt.Sprintf("%05d", base))
	}

	// Leader positions other than the lengths and 09.
	leader := p.s[:24]
	if ld != nil {
		leader = string(ld)
	}
	fixed := leaderProblems(leader, false, func(pos int, msg string) {
		if p.err == nil {
			p.problem(pos, "", msg)
		}
	})
	if p.err != nil {
		return nil, p.err
	}

	dir := raw[24 : base-1]
	if len(dir)%12 != 0 {
		if p.problem(24, "", fmt.Sprintf("directory length %d is not a multiple of 12", len(dir))) {
			return nil, p.err
		}
	}
	nent := len(dir) / 12
	data := raw[base : L-1] // without the record terminator
	rec := &Record{Leader: fixed, Fields: make([]Field, 0, nent)}
	subs := make([]Subfield, 0, bytes.Count(data, []byte{subfieldDelim}))

	prevEnd := 0 // end of the previous field in data (after its terminator)
	for e := 0; e < nent; e++ {
		eo := 24 + e*12 // index of the entry in raw
		ent := raw[eo : eo+12]
		tag := p.s[eo : eo+3]
		fs, fe := -1, -1 // field data is data[fs:fe], terminator at data[fe]
		if !allDigits(ent[3:12]) {
			if p.problem(eo+3, tag, fmt.Sprintf("directory entry %q has a non-numeric length or start", ent)) {
				return nil, p.err
			}
		} else {
			fl, st := atoi(ent[3:7]), atoi(ent[7:12])
			switch {
			case fl < 1 || st+fl > len(data):
				if p.problem(eo+3, tag, fmt.Sprintf("field at %d with length %d is outside the data (%d bytes)", st, fl, len(data))) {
					return nil, p.err
				}
			case data[st+fl-1] != fieldTerminator:
				if p.problem(base+st+fl-1, tag, "no field terminator at the end of the field") {
					return nil, p.err
				}
				// Lenient: trust the start if a field begins there (else
				// the field follows the previous one), find the terminator.
				if st == 0 || data[st-1] == fieldTerminator {
					if k := bytes.IndexByte(data[st:], fieldTerminator); k >= 0 {
						fs, fe = st, st+k
					}
				}
			default:
				fs, fe = st, st+fl-1
			}
		}
		if fs < 0 { // lenient: the field follows the previous one
			prevEnd = min(prevEnd, len(data))
			k := bytes.IndexByte(data[prevEnd:], fieldTerminator)
			if k < 0 {
				p.problem(eo, tag, "field not found in the data; dropped")
				continue
			}
			fs, fe = prevEnd, prevEnd+k
		}
		prevEnd = fe + 1
		if msg := tagProblem(tag); msg != "" {
			if p.problem(eo, tag, msg+"; field dropped") {
				p.err.Msg = msg
				return nil, p.err
			}
			continue
		}
		f, ok := p.field(tag, base+fs, data[fs:fe], &subs)
		if p.err != nil {
			return nil, p.err
		}
		if ok {
			rec.Fields = append(rec.Fields, f)
		}
	}
	if len(rec.Fields) == 0 {
		return p.fatal(24, "", "record has no fields")
	}
	return rec, nil
}

// value returns field data b (at index at in the record) as text: a slice
// of the record string when it is valid UTF-8, else converted from MARC-8
// or repaired.
func (p *isoParser) value(tag string, at int, b []byte) (string, bool) {
	if p.legacy {
		for _, c := range b {
			if c >= 0x80 {
				out, err := p.r.opt.Encoding.NewDecoder().Bytes(b)
				if err != nil {
					if p.problem(at, tag, "cannot decode: "+err.Error()) {
						return "", false
					}
					return fixText(b), true
				}
				b = out
				if i := badText(b); i >= 0 {
					if p.problem(at, tag, textMsg(b, i)) {
						return "", false
					}
					return fixText(b), true
				}
				return string(b), true
			}
		}
	}
	if p.marc8 {
		hasHigh := !p.r.m8.plain()
		for _, c := range b {
			if c >= 0x80 || c == 0x1B || c < 0x20 || c == '&' {
				hasHigh = true
				break
			}
		}
		if !hasHigh {
			return p.s[at : at+len(b)], true
		}
		bad := false
		out := p.r.m8.decode(p.r.scratch[:0], b, func(i int, msg string) {
			if !bad && p.problem(at+i, tag, msg) {
				bad = true
			}
		})
		p.r.scratch = out
		if bad {
			return "", false
		}
		return string(out), true
	}
	i := badText(b)
	if i < 0 {
		return p.s[at : at+len(b)], true
	}
	if p.problem(at+i, tag, textMsg(b, i)) {
		return "", false
	}
	return fixText(b), true
}

// field parses the data of one field (without its terminator) at index at
// of the record. It returns false when the field is dropped (lenient mode)
// or rejected (p.err set).
func (p *isoParser) field(tag string, at int, b []byte, subs *[]Subfield) (Field, bool) {
	p.r.m8.reset()
	if IsControl(tag) {
		v, ok := p.value(tag, at, b)
		if !ok {
			return Field{}, false
		}
		return Field{Tag: tag, Value: v}, true
	}
	f := Field{Tag: tag, Ind1: ' ', Ind2: ' '}
	i := 0
	switch {
	case len(b) < 2 || b[0] == subfieldDelim || b[1] == subfieldDelim:
		if p.problem(at, tag, "missing indicators") {
			return f, false
		}
		i = bytes.IndexByte(b, subfieldDelim)
		if i < 0 {
			i = len(b)
		}
	default:
		f.Ind1, f.Ind2 = b[0], b[1]
		if !validInd(f.Ind1) {
			if p.problem(at, tag, fmt.Sprintf("invalid indicator 1 %q", f.Ind1)) {
				return f, false
			}
			f.Ind1 = ' '
		}
		if !validInd(f.Ind2) {
			if p.problem(at+1, tag, fmt.Sprintf("invalid indicator 2 %q", f.Ind2)) {
				return f, false
			}
			f.Ind2 = ' '
		}
		i = 2
	}
	if i < len(b) && b[i] != subfieldDelim {
		k := bytes.IndexByte(b[i:], subfieldDelim)
		if k < 0 {
			k = len(b) - i
		}
		if p.problem(at+i, tag, fmt.Sprintf("data %q before the first subfield delimiter; dropped", b[i:i+k])) {
			p.err.Msg = fmt.Sprintf("data %q before the first subfield delimiter", b[i:i+k])
			return f, false
		}
		i += k
	}
	first := len(*subs)
	for i < len(b) {
		// b[i] is a subfield delimiter.
		j := bytes.IndexByte(b[i+1:], subfieldDelim)
		end := len(b)
		if j >= 0 {
			end = i + 1 + j
		}
		if end == i+1 {
			if p.problem(at+i, tag, "subfield delimiter without a code; dropped") {
				p.err.Msg = "subfield delimiter without a code"
				return f, false
			}
			i = end
			continue
		}
		code := b[i+1]
		vs := i + 2
		if !validCode(code) {
			if p.problem(at+i+1, tag, fmt.Sprintf("invalid subfield code %q", code)) {
				return f, false
			}
			if code >= 0x80 {
				vs = i + 1 // a character of the data, not a code
			}
			code = '?'
		}
		v, ok := p.value(tag, at+vs, b[vs:end])
		if !ok {
			return f, false
		}
		*subs = append(*subs, Subfield{Code: code, Value: v})
		i = end
	}
	if len(*subs) == first {
		if p.problem(at, tag, "data field has no subfields; dropped") {
			p.err.Msg = "data field has no subfields"
		}
		return f, false
	}
	f.Subfields = (*subs)[first:len(*subs):len(*subs)]
	return f, true
}

// Writer writes records in ISO 2709, always as UTF-8 (leader/09 'a').
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a writer of ISO 2709 records to w. Each record is one
// Write call on w; wrap w in a bufio.Writer for many small records.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write writes one record. It refuses records that break the rules the
// readers check, fields over 9999 bytes and records over 99999 bytes.
func (w *Writer) Write(rec *Record) error {
	b, err := appendISO(w.buf[:0], rec)
	if err != nil {
		return err
	}
	w.buf = b
	_, err = w.w.Write(b)
	return err
}

// Marshal returns the ISO 2709 form of one record.
func Marshal(rec *Record) ([]byte, error) { return appendISO(nil, rec) }

// Unmarshal parses one ISO 2709 record (strict mode); data must hold
// exactly one record, optionally followed by white space.
func Unmarshal(data []byte) (*Record, error) {
	r := NewReader(bytes.NewReader(data), ReadOptions{})
	rec, err := r.Read()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("marc: no record in the data")
		}
		return nil, err
	}
	if _, err := r.Read(); err != io.EOF {
		return nil, fmt.Errorf("marc: data after the record at byte %d", r.off)
	}
	return rec, nil
}

func appendISO(dst []byte, rec *Record) ([]byte, error) {
	ld, err := validateForWrite(rec)
	if err != nil {
		return dst, err
	}
	n := len(rec.Fields)
	base := 24 + 12*n + 1
	total := base + 1
	for i := range rec.Fields {
		l := fieldLen(&rec.Fields[i])
		if l > MaxFieldLength {
			return dst, fmt.Errorf("marc: cannot write field %s: %d bytes, the maximum is %d", rec.Fields[i].Tag, l, MaxFieldLength)
		}
		total += l
	}
	if total > MaxRecordLength {
		return dst, fmt.Errorf("marc: cannot write record: %d bytes, the maximum is %d", total, MaxRecordLength)
	}
	start := len(dst)
	dst = append(dst, ld...)
	putNum(dst[start:start+5], total)
	putNum(dst[start+12:start+17], base)
	pos := 0
	for i := range rec.Fields {
		f := &rec.Fields[i]
		l := fieldLen(f)
		dst = append(dst, f.Tag...)
		dst = append(dst, "000000000"...)
		e := dst[len(dst)-9:]
		putNum(e[:4], l)
		putNum(e[4:], pos)
		pos += l
	}
	dst = append(dst, fieldTerminator)
	for i := range rec.Fields {
		f := &rec.Fields[i]
		if f.IsControl() {
			dst = append(dst, f.Value...)
		} else {
			dst = append(dst, blankInd(f.Ind1), blankInd(f.Ind2))
			for _, s := range f.Subfields {
				dst = append(dst, subfieldDelim, s.Code)
				dst = append(dst, s.Value...)
			}
		}
		dst = append(dst, fieldTerminator)
	}
	dst = append(dst, recordTerminator)
	return dst, nil
}

func fieldLen(f *Field) int {
	if f.IsControl() {
		return len(f.Value) + 1
	}
	l := 3
	for _, s := range f.Subfields {
		l += 2 + len(s.Value)
	}
	return l
}

// putNum writes n as zero-padded decimal digits filling b.
func putNum(b []byte, n int) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
}
