// Package callnumber turns call numbers into sort keys whose plain byte
// order is shelf order.
//
// Shelf order is not string order: "QA9" stands before "QA76", "QA76.73"
// before "QA76.9" (the part after the point is a decimal fraction), and a
// cutter ".G63" before ".G7" (cutters are decimals too). The database cannot
// know any of this, so we compute a key once, when the item is saved, and
// store it in a text column declared COLLATE "C". ORDER BY on that column
// (and range scans on its index, for "browse the shelf from here") then
// give shelf order with no call-number logic in SQL.
//
// # Key encoding
//
// A key is a sequence of tokens separated by a single space. Everything is
// chosen so that bytewise comparison of two keys compares their tokens
// left to right, and a call number that stops earlier files first. The
// bytes used compare as:
//
//	end of key < ' ' (0x20) < '!' (0x21) < '.' (0x2E) < '0'-'9' < 'a'-'z' < non-ASCII
//
// Tokens are built as follows:
//
//   - Letters are lowercased, so "qa76.73 .g63" and "QA76.73 .G63" share a
//     key, and all keys (LC, Dewey and fallback) use the same case.
//   - An integer is written as its digit count followed by its digits,
//     leading zeros dropped: 9 → "19", 76 → "276", 2009 → "42009". Longer
//     numbers are never prefixes of shorter ones, so integers compare
//     numerically whatever their size. Counts of 9 or more are written as
//     one '9' per nine digits followed by the remainder (12 digits → "93"),
//     which keeps the count itself in order.
//   - A decimal fraction (the ".73" of QA76.73, a cutter's digits) is
//     written as its digits, unpadded: as strings, "63" < "7" exactly as
//     .63 < .7, and "7" < "75" with a shorter fraction filing first.
//   - A class number is an integer, then '.' and the fraction if any.
//     Because ' ' < '.', "QA76 .A1" (nothing after 76) files before
//     "QA76.1".
//   - A cutter is its letters then its digits ("g63"). Trailing letters
//     after the digits (a Dewey work mark, the "p" of R112p) follow a '!',
//     so the digits are compared as a whole decimal first and the work mark
//     only breaks ties: R112 < R112p < R1123.
//   - An integer with letters directly attached ("15th", "1990b") is the
//     integer, '!', then the letters.
//   - Other punctuation only separates tokens.
//
// Examples:
//
//	QA76.73.G63 2009   → "qa 276.73 g63 42009"
//	QA76.73 .G63       → "qa 276.73 g63"
//	KF4558 15th .A2    → "kf 44558 215!th a2"
//	005.133 R112p      → "15.133 r112!p"
//	j 398.2 GRI        → "j 3398.2 gri"
//	Box 10             → "box 210"
//
// Keys contain only valid UTF-8 and never NUL, so any input can be stored
// in a Postgres text column.
//
// Keys are for ordering only: different call numbers can share a key
// ("QA76.73 .G63" and "QA76.73.G63"), so order by (key, call number) when a
// total order is needed.
package callnumber

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Scheme names returned by Scheme.
const (
	SchemeLC    = "lc"
	SchemeDewey = "dewey"
	SchemeOther = "other"
)

// LCKey returns the shelf-order key for a Library of Congress call number
// such as "QA76.73.G63 2009", "QA76.73 .G63", "PS3545.I345 Z5 1990" or
// "KF4558 15th .A2". ok is false when s does not start with 1-3 class
// letters (the first one a letter LC uses, i.e. not I, O, W, X or Y)
// followed by a class number of 1-4 digits without a leading zero. A blank
// between letters and number ("QA 76.73") is accepted.
//
// The key orders class letters alphabetically, then the class number as a
// decimal number, then cutters as letters followed by a decimal fraction,
// then years and other numbers numerically; see the package documentation.
func LCKey(s string) (string, bool) {
	p, ok := parseLC(s)
	if !ok {
		return "", false
	}
	return string(p.key), true
}

// DeweyKey returns the shelf-order key for a Dewey Decimal call number
// such as "005.133 R112p", "813.54 HEM" or "599.7 C". ok is false when there
// is no three-digit class number ("FIC SMI", "B WAS"). Segmentation and
// prime marks in the class number ("005.13'3", "005/.133") are ignored.
//
// Words before the class number ("j 398.2 GRI", "REF 030 WOR", "CD
// 782.42") are collection prefixes. They stay at the front of the key, so
// each prefix forms its own run in Dewey order, and because the key of an
// unprefixed call number starts with a digit, all prefixed runs file after
// the main sequence, alphabetically by prefix. That mirrors how libraries
// shelve juvenile and reference collections as separate sequences, and a
// juvenile fiction "J FIC SMI" (fallback key "j fic smi") lands right after
// the "J" Dewey run rather than among adult fiction.
func DeweyKey(s string) (string, bool) {
	k, ok := parseDewey(s)
	if !ok {
		return "", false
	}
	return string(k), true
}

// Key returns a shelf-order key for any call number, so every item can be
// given one without knowing its scheme. It uses the LC key if s is an LC
// call number, otherwise the Dewey key, otherwise a generic key: lowercase
// words and integers (compared numerically, so "Box 9" < "Box 10"), other
// characters ignored. Input with no letters or digits gives "".
//
// LC written with a blank after the class letters is ambiguous with a
// prefixed Dewey number ("J 398.2", "HF 548") or a plain label ("Box 9"),
// so it counts as LC only if Dewey does not match and it has a cutter; see
// Scheme.
func Key(s string) string {
	k, _ := classify(s)
	return k
}

// Scheme reports which scheme Key uses for s: "lc", "dewey" or "other".
// The order of tests is: LC with the class number right after the letters
// ("QA76.73", "E184.A1"); then Dewey ("005.2", "j 398.2 GRI"); then LC with
// a blank after the letters and at least one cutter ("QA 76.73 .G63");
// else "other".
func Scheme(s string) string {
	_, scheme := classify(s)
	return scheme
}

func classify(s string) (key, scheme string) {
	lc, lcOK := parseLC(s)
	if lcOK && !lc.spaced {
		return string(lc.key), SchemeLC
	}
	if k, ok := parseDewey(s); ok {
		return string(k), SchemeDewey
	}
	if lcOK && lc.cutter {
		return string(lc.key), SchemeLC
	}
	k, _ := appendTokens(nil, s, false)
	return string(k), SchemeOther
}

type lcParse struct {
	key    []byte
	spaced bool // blank between class letters and class number
	cutter bool // at least one letters+digits token after the class
}

func parseLC(s string) (lcParse, bool) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && isASCIILetter(s[i]) {
		i++
	}
	if i == 0 || i > 3 || strings.IndexByte("IOWXYiowxy", s[0]) >= 0 {
		return lcParse{}, false
	}
	letters := s[:i]
	j := i
	for j < len(s) && isSpace(s[j]) {
		j++
	}
	d := j + scanDigits(s[j:])
	if d == j || d-j > 4 || s[j] == '0' {
		return lcParse{}, false
	}
	whole, frac := s[j:d], ""
	if d+1 < len(s) && s[d] == '.' && isDigit(s[d+1]) {
		e := d + 1 + scanDigits(s[d+1:])
		frac, d = s[d+1:e], e
	}
	k := make([]byte, 0, len(s)+8)
	k = appendLower(k, letters)
	k = appendInt(append(k, ' '), whole)
	if frac != "" {
		k = append(append(k, '.'), frac...)
	}
	k, cutter := appendTokens(k, s[d:], true)
	return lcParse{key: k, spaced: j > i, cutter: cutter}, true
}

// segmentation removes DDC segmentation (/) and prime (') marks, which
// show where a number may be cut and do not change its value.
var segmentation = strings.NewReplacer("/", "", "'", "", "\u2032", "")

func parseDewey(s string) ([]byte, bool) {
	fields := strings.Fields(s)
	n := 0
	for n < len(fields) && isPrefixWord(fields[n]) {
		n++
	}
	if n == len(fields) {
		return nil, false
	}
	class := segmentation.Replace(fields[n])
	if len(class) < 3 || !isDigit(class[0]) || !isDigit(class[1]) || !isDigit(class[2]) ||
		(len(class) > 3 && isDigit(class[3])) {
		return nil, false
	}
	whole, rest, frac := class[:3], class[3:], ""
	if strings.HasPrefix(rest, ".") {
		e := 1 + scanDigits(rest[1:])
		frac, rest = rest[1:e], rest[e:]
	}
	k := make([]byte, 0, len(s)+8)
	for _, w := range fields[:n] {
		k = appendLower(sep(k), strings.TrimSuffix(w, "."))
	}
	k = appendInt(sep(k), whole)
	if frac != "" {
		k = append(append(k, '.'), frac...)
	}
	k, _ = appendTokens(k, rest, true)
	for _, f := range fields[n+1:] {
		k, _ = appendTokens(k, f, true)
	}
	return k, true
}

// isPrefixWord reports whether f can be a Dewey collection prefix: ASCII
// letters with an optional closing period ("J", "REF", "Ref.").
func isPrefixWord(f string) bool {
	f = strings.TrimSuffix(f, ".")
	if f == "" {
		return false
	}
	for i := 0; i < len(f); i++ {
		if !isASCIILetter(f[i]) {
			return false
		}
	}
	return true
}

// appendTokens appends the tokens of s to k (see the package documentation
// for their encoding). With shelf set, letters directly followed by digits
// form a cutter (digits as a decimal fraction, and cutter reports that one
// was seen) and letters directly after an integer are its suffix; without
// it (the generic fallback) every letter/digit boundary starts a new token,
// so "Box9" sorts like "Box 9".
func appendTokens(k []byte, s string, shelf bool) (_ []byte, cutter bool) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case isDigit(s[i]):
			j := i + scanDigits(s[i:])
			k = appendInt(sep(k), s[i:j])
			i = j
			if m := i + scanLetters(s[i:]); shelf && m > i {
				k = appendLower(append(k, '!'), s[i:m])
				i = m
			}
		case unicode.IsLetter(r):
			j := i + scanLetters(s[i:])
			k = appendLower(sep(k), s[i:j])
			i = j
			if d := i + scanDigits(s[i:]); shelf && d > i {
				k = append(k, s[i:d]...)
				i, cutter = d, true
				if m := i + scanLetters(s[i:]); m > i {
					k = appendLower(append(k, '!'), s[i:m])
					i = m
				}
			}
		default:
			i += size // blanks, punctuation, invalid UTF-8: separators
		}
	}
	return k, cutter
}

// appendInt appends the order-preserving encoding of a run of ASCII
// digits: the digit count (one '9' per nine digits, then count mod 9 as a
// digit) followed by the digits without leading zeros.
func appendInt(k []byte, digits string) []byte {
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		digits = "0"
	}
	n := len(digits)
	for ; n >= 9; n -= 9 {
		k = append(k, '9')
	}
	k = append(k, byte('0'+n))
	return append(k, digits...)
}

// appendLower appends s lowercased. Non-ASCII is lowercased by Unicode
// rules; invalid UTF-8 cannot reach here (scanLetters stops at it).
func appendLower(k []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			k = append(k, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		k = utf8.AppendRune(k, unicode.ToLower(r))
		i += size
	}
	return k
}

func sep(k []byte) []byte {
	if len(k) > 0 {
		return append(k, ' ')
	}
	return k
}

// scanLetters returns the length of the run of letters (and combining
// marks after the first letter) at the start of s.
func scanLetters(s string) int {
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || !(unicode.IsLetter(r) || (i > 0 && unicode.IsMark(r))) {
			break
		}
		i += size
	}
	return i
}

func scanDigits(s string) int {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool       { return '0' <= c && c <= '9' }
func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isSpace(c byte) bool       { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
