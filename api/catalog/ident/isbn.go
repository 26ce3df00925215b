package ident

import (
	"fmt"
	"strings"
)

// ISBN is a validated International Standard Book Number.
//
// It is stored as ISBN-13 because every ISBN-10 has exactly one ISBN-13
// equivalent but not the other way round (979 numbers have no ISBN-10), so
// ISBN-13 is the only form that can serve as a single match key. The zero
// value is not a valid ISBN; its methods return empty strings.
//
// Two ISBNs for the same book compare equal with == only if their
// qualifiers match too; compare ISBN13() when only the number matters.
type ISBN struct {
	isbn13    string
	qualifier string
}

// ParseISBN parses an ISBN as it appears in MARC 020 $a or on a title page
// verso. It accepts ISBN-10 and ISBN-13 with hyphens or spaces between
// groups, an optional "ISBN", "ISBN-10:" or "ISBN-13:" label, a lowercase x
// check character, and trailing text after the number such as
// "0451526538 (pbk.)" or "9780451526533 : $4.95": only the leading
// identifier is validated, and a parenthesised qualifier is kept (see
// Qualifier) so that it can be moved to 020 $q.
//
// Errors wrap ErrLength, ErrChar, ErrPrefix or ErrCheckDigit and say what
// exactly is wrong, e.g. `bad check digit: expected 2, got 3`.
func ParseISBN(s string) (ISBN, error) {
	raw, tail := splitISBN(trimLabel(strings.TrimSpace(s), "ISBN"))
	compact := compactISBN(raw)
	isbn13, err := validateISBN(compact)
	if err != nil {
		return ISBN{}, fmt.Errorf("ident: invalid ISBN %q: %w", s, err)
	}
	return ISBN{isbn13: isbn13, qualifier: qualifier(tail)}, nil
}

// NormalizeISBN returns the ISBN-13 form of s for use as a search or
// deduplication key. For input that does not validate it still returns the
// identifier's digits (and X) without punctuation, with ok=false, so that a
// search for a mistyped ISBN finds a record carrying the same typo.
func NormalizeISBN(s string) (normalized string, ok bool) {
	raw, _ := splitISBN(trimLabel(strings.TrimSpace(s), "ISBN"))
	compact := compactISBN(raw)
	isbn13, err := validateISBN(compact)
	if err != nil {
		return compact, false
	}
	return isbn13, true
}

// ISBN13 returns the 13-digit form without hyphens.
func (i ISBN) ISBN13() string { return i.isbn13 }

// ISBN10 returns the 10-character form without hyphens. Only 978-prefixed
// ISBNs have one; for 979 numbers ok is false.
func (i ISBN) ISBN10() (isbn10 string, ok bool) {
	if len(i.isbn13) != 13 || i.isbn13[:3] != "978" {
		return "", false
	}
	body := i.isbn13[3:12]
	return body + string(checkChar11(body)), true
}

// String returns the ISBN-13 without hyphens, the canonical storage and
// display-independent form. Hyphenation depends on the registration-group
// ranges, which change over time, so it is deliberately not attempted.
func (i ISBN) String() string { return i.isbn13 }

// Qualifier returns the qualifying text that followed the number, such as
// "pbk." from "0451526538 (pbk.)", with surrounding blanks and the
// enclosing parentheses removed: MARC 020 $q records the qualifier itself,
// not ISBD punctuation around it. Text after an ISBD " : " (terms of
// availability such as a price, which belongs in 020 $c) is not a qualifier
// and is dropped. It is "" when there was none.
func (i ISBN) Qualifier() string { return i.qualifier }

// splitISBN splits s into the leading identifier (digits, X and the hyphens
// or spaces between them) and whatever follows. A space only continues the
// identifier if a digit follows and the digits so far are not already a
// complete ISBN, so "0306406152 1990" stops after the ISBN while
// "0 306 40615 2" is read whole.
func splitISBN(s string) (ident, tail string) {
	n, end := 0, 0
	for i := 0; i < len(s); {
		c := s[i]
		if isDigit(c) || c == 'X' || c == 'x' {
			n++
			i++
			end = i
			continue
		}
		if n == 0 || (c != '-' && c != ' ') {
			break
		}
		j, spaced := i, false
		for j < len(s) && (s[j] == '-' || s[j] == ' ') {
			spaced = spaced || s[j] == ' '
			j++
		}
		if j == len(s) || !(isDigit(s[j]) || s[j] == 'X' || s[j] == 'x') || (spaced && (n == 10 || n == 13)) {
			break
		}
		i = j
	}
	return s[:end], s[end:]
}

// compactISBN keeps the digits and X of ident, uppercasing x.
func compactISBN(ident string) string {
	var b strings.Builder
	b.Grow(len(ident))
	for i := 0; i < len(ident); i++ {
		switch c := ident[i]; {
		case isDigit(c), c == 'X':
			b.WriteByte(c)
		case c == 'x':
			b.WriteByte('X')
		}
	}
	return b.String()
}

// validateISBN checks a compact ISBN-10 or ISBN-13 and returns the ISBN-13.
func validateISBN(c string) (string, error) {
	switch len(c) {
	case 10:
		if i := strings.IndexByte(c[:9], 'X'); i >= 0 {
			return "", fmt.Errorf("%w 'X' at position %d: X is only allowed as the ISBN-10 check digit", ErrChar, i+1)
		}
		if want := checkChar11(c[:9]); c[9] != want {
			return "", fmt.Errorf("%w: expected %c, got %c", ErrCheckDigit, want, c[9])
		}
		body := "978" + c[:9]
		return body + string(checkChar13(body)), nil
	case 13:
		if i := strings.IndexByte(c, 'X'); i >= 0 {
			return "", fmt.Errorf("%w 'X' at position %d: ISBN-13 is all digits", ErrChar, i+1)
		}
		if p := c[:3]; p != "978" && p != "979" {
			return "", fmt.Errorf("%w (got %s)", ErrPrefix, p)
		}
		if want := checkChar13(c[:12]); c[12] != want {
			return "", fmt.Errorf("%w: expected %c, got %c", ErrCheckDigit, want, c[12])
		}
		return c, nil
	default:
		return "", fmt.Errorf("%w: %d digits, want 10 or 13", ErrLength, len(c))
	}
}

// checkChar13 returns the EAN-13 check digit for the first 12 digits
// (weights alternate 1 and 3).
func checkChar13(digits string) byte {
	sum := 0
	for i := 0; i < len(digits); i++ {
		d := int(digits[i] - '0')
		if i%2 == 1 {
			d *= 3
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// qualifier extracts the 020 $q text from what followed the number.
func qualifier(tail string) string {
	t := strings.TrimSpace(tail)
	if strings.HasPrefix(t, "(") {
		depth := 0
		for i := 0; i < len(t); i++ {
			switch t[i] {
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					return strings.TrimSpace(t[1:i])
				}
			}
		}
		return strings.TrimSpace(t[1:]) // unbalanced: keep what is there
	}
	if i := strings.IndexByte(t, ':'); i >= 0 {
		t = t[:i] // ISBD ":" introduces terms of availability (020 $c)
	}
	return strings.TrimSpace(strings.TrimRight(strings.TrimSpace(t), ";"))
}
