package ident

import (
	"fmt"
	"strings"
)

// ISSN is a validated International Standard Serial Number. The zero value
// is not valid; its methods return empty strings.
type ISSN struct {
	compact string // 8 characters, check character uppercase
}

// ParseISSN parses an ISSN such as "0317-8471", "03178471", "1050-124x" or
// "ISSN 2049-3630". Hyphens and blanks are ignored wherever they appear,
// because keyed data places them inconsistently; what remains must be seven
// digits and a mod-11 check character (0-9 or X).
//
// Errors wrap ErrLength, ErrChar or ErrCheckDigit.
func ParseISSN(s string) (ISSN, error) {
	t := trimLabel(strings.TrimSpace(s), "ISSN")
	var b strings.Builder
	b.Grow(8)
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c == '-' || isSpace(c):
		case c == 'x':
			b.WriteByte('X')
		default:
			b.WriteByte(c)
		}
	}
	c := b.String()
	if err := validateISSN(c); err != nil {
		return ISSN{}, fmt.Errorf("ident: invalid ISSN %q: %w", s, err)
	}
	return ISSN{compact: c}, nil
}

func validateISSN(c string) error {
	if len(c) != 8 {
		return fmt.Errorf("%w: %d characters, want 8", ErrLength, len(c))
	}
	for i := 0; i < 7; i++ {
		if !isDigit(c[i]) {
			return fmt.Errorf("%w %q at position %d", ErrChar, c[i], i+1)
		}
	}
	if !isDigit(c[7]) && c[7] != 'X' {
		return fmt.Errorf("%w %q at position 8: check character must be 0-9 or X", ErrChar, c[7])
	}
	if want := checkChar11(c[:7]); c[7] != want {
		return fmt.Errorf("%w: expected %c, got %c", ErrCheckDigit, want, c[7])
	}
	return nil
}

// String returns the hyphenated form "0317-8471", which is how MARC 022 $a
// and the ISSN Register record it.
func (i ISSN) String() string {
	if len(i.compact) != 8 {
		return ""
	}
	return i.compact[:4] + "-" + i.compact[4:]
}

// Compact returns the eight characters without the hyphen, for keys and
// for systems (link resolvers, some APIs) that expect it.
func (i ISSN) Compact() string { return i.compact }
