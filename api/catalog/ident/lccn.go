package ident

import (
	"strings"
	"unicode"
)

// NormalizeLCCN returns the normalised form of a Library of Congress
// Control Number, following the LC rules for the info:lccn namespace
// (https://www.loc.gov/marc/lccn-namespace.html):
//
//  1. remove all blanks;
//  2. if there is a forward slash, remove it and everything after it
//     (revision suffixes such as "//r75");
//  3. if there is a hyphen, remove it and left-pad the part after it with
//     zeros to six characters.
//
// So "n78-89035" → "n78089035", " 85-2 " → "85000002", "75-425165//r75" →
// "75425165" and "2001-000002" → "2001000002". The MARC 010 $a fixed-width
// form ("   85000002 ") normalises to the same string, which is what makes
// the result usable as a match key.
//
// One addition to the LC rules: letters are lowercased. The namespace only
// defines lowercase alphabetic prefixes ("n", "sh", "no"), so an uppercase
// prefix is a keying variant and should still match.
//
// The function does not validate; garbage in gives normalised garbage out.
func NormalizeLCCN(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if !unicode.IsSpace(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	t := b.String()
	if i := strings.IndexByte(t, '/'); i >= 0 {
		t = t[:i]
	}
	if i := strings.IndexByte(t, '-'); i >= 0 {
		left, right := t[:i], t[i+1:]
		if len(right) < 6 {
			right = strings.Repeat("0", 6-len(right)) + right
		}
		t = left + right
	}
	return t
}
