// Package ident parses, validates and normalises the standard identifiers
// catalogers deal with: ISBN (MARC 020), ISSN (022), LCCN (010) and OCLC
// numbers (035).
//
// Input is taken the way it shows up in real records rather than the way the
// standards print it: hyphens and spaces anywhere, "ISBN"/"ISSN" labels,
// lowercase check characters, and trailing qualifiers such as "(pbk.)" or a
// price. The point is that the same book entered three different ways must
// produce one match key, and that a bad identifier gets an error message a
// cataloger can act on ("bad check digit: expected 7, got 3") instead of a
// bare "invalid".
//
// The package is standard library only and allocation-light so it can run
// over every record of a bulk import.
package ident

import "errors"

// Sentinel errors wrapped by the Parse functions, so callers can branch with
// errors.Is while users still see the detailed message.
var (
	// ErrLength means the identifier has the wrong number of characters.
	ErrLength = errors.New("wrong length")
	// ErrCheckDigit means the final character does not match the checksum of
	// the others: almost always a typo.
	ErrCheckDigit = errors.New("bad check digit")
	// ErrPrefix means a 13-digit number is a valid EAN but not an ISBN,
	// which always starts with the 978 or 979 "Bookland" prefix.
	ErrPrefix = errors.New("not an ISBN prefix 978/979")
	// ErrChar means a character other than a digit appears where only a
	// digit is allowed (X is only valid as a mod-11 check character).
	ErrChar = errors.New("invalid character")
)

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// checkChar11 returns the mod-11 check character for weights that run
// down to 2 (ISBN-10 and ISSN use the same scheme, only the length differs).
func checkChar11(digits string) byte {
	sum := 0
	w := len(digits) + 1
	for i := 0; i < len(digits); i++ {
		sum += int(digits[i]-'0') * w
		w--
	}
	switch c := (11 - sum%11) % 11; c {
	case 10:
		return 'X'
	default:
		return byte('0' + c)
	}
}

// trimLabel removes a leading label such as "ISBN", "ISBN-13:", "isbn 10:"
// or "ISSN:". Records keyed from title pages or vendor feeds often carry it.
func trimLabel(s, label string) string {
	if len(s) < len(label) || !equalFoldASCII(s[:len(label)], label) {
		return s
	}
	rest := trimLeftSpace(s[len(label):])
	if len(rest) >= 3 && rest[0] == '-' && (rest[1:3] == "10" || rest[1:3] == "13") {
		rest = rest[3:]
	} else if len(rest) >= 3 && (rest[:2] == "10" || rest[:2] == "13") && rest[2] == ':' {
		rest = rest[2:]
	}
	rest = trimLeftSpace(rest)
	if len(rest) > 0 && rest[0] == ':' {
		rest = trimLeftSpace(rest[1:])
	}
	return rest
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func trimLeftSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	return s
}
