// Package marc reads and writes MARC 21 bibliographic records: ISO 2709
// (binary MARC), MARCXML (the LoC slim schema) and MARC-in-JSON. Readers
// stream one record at a time, convert MARC-8 to UTF-8, and report errors
// with the record's number and byte offset.
package marc

import "strings"

// Record is one MARC record. Fields keep their order from the source.
// Text is always UTF-8 in memory; writers set leader/09 to 'a'.
type Record struct {
	Leader string // exactly 24 bytes
	Fields []Field
}

// Field is a control field (tag 001-009: Value) or a data field
// (indicators and subfields).
type Field struct {
	Tag       string // three characters, usually digits
	Value     string // control fields only
	Ind1      byte   // data fields only; ' ' when blank
	Ind2      byte
	Subfields []Subfield
}

// Subfield is one coded piece of a data field.
type Subfield struct {
	Code  byte
	Value string
}

// IsControl reports whether tag names a control field (00X).
func IsControl(tag string) bool { return len(tag) == 3 && tag[0] == '0' && tag[1] == '0' }

// IsControl reports whether f is a control field.
func (f *Field) IsControl() bool { return IsControl(f.Tag) }

// Sub returns the first subfield code's value, or "".
func (f *Field) Sub(code byte) string {
	for _, s := range f.Subfields {
		if s.Code == code {
			return s.Value
		}
	}
	return ""
}

// SubAll returns every value of subfield code, in order.
func (f *Field) SubAll(code byte) []string {
	var out []string
	for _, s := range f.Subfields {
		if s.Code == code {
			out = append(out, s.Value)
		}
	}
	return out
}

// Join returns the values of the subfields whose codes are in codes, in
// field order, joined by sep.
func (f *Field) Join(codes string, sep string) string {
	var parts []string
	for _, s := range f.Subfields {
		if strings.IndexByte(codes, s.Code) >= 0 && s.Value != "" {
			parts = append(parts, s.Value)
		}
	}
	return strings.Join(parts, sep)
}

// Control returns the value of the first control field with tag, or "".
func (r *Record) Control(tag string) string {
	for i := range r.Fields {
		if r.Fields[i].Tag == tag {
			return r.Fields[i].Value
		}
	}
	return ""
}

// Get returns pointers to every field whose tag is one of tags, in record
// order. A tag may use 'X' as a wildcard digit ("6XX").
func (r *Record) Get(tags ...string) []*Field {
	var out []*Field
	for i := range r.Fields {
		for _, t := range tags {
			if tagMatch(t, r.Fields[i].Tag) {
				out = append(out, &r.Fields[i])
				break
			}
		}
	}
	return out
}

// First returns the first field with one of tags, or nil.
func (r *Record) First(tags ...string) *Field {
	if fs := r.Get(tags...); len(fs) > 0 {
		return fs[0]
	}
	return nil
}

func tagMatch(pattern, tag string) bool {
	if len(pattern) != len(tag) {
		return false
	}
	for i := 0; i < len(tag); i++ {
		if pattern[i] != 'X' && pattern[i] != 'x' && pattern[i] != tag[i] {
			return false
		}
	}
	return true
}

// Add appends a field and returns the record for chaining.
func (r *Record) Add(f Field) *Record {
	r.Fields = append(r.Fields, f)
	return r
}
