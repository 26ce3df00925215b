package ident

import "strings"

// NormalizeOCLC extracts the OCLC record number from a MARC 035 $a value
// and returns it as bare digits without leading zeros, the form OCLC's own
// APIs and WorldCat URLs use and the only one that matches across the
// historical spellings:
//
//	(OCoLC)ocm12345678   8-digit numbers, "ocm" prefix
//	(OCoLC)ocn123456789  9-digit numbers, "ocn" prefix
//	(OCoLC)on1234567890  10+ digit numbers, "on" prefix
//	(OCoLC)00012345      bare, possibly zero-padded
//
// The organisation code in parentheses is matched case-insensitively and
// the non-standard "(OCLC)" found in older records is accepted too. The
// ocm/ocn/on prefixes are also accepted without an organisation code (as
// in an OCLC 001), because they are unambiguous.
//
// ok is false when the value is not an OCLC number: another organisation's
// code in parentheses (e.g. "(DLC)  2001012345"), bare digits with no code
// (they could be any system's number), non-digits after the prefix, or a
// number that is all zeros.
func NormalizeOCLC(s string) (string, bool) {
	t := strings.TrimSpace(s)
	hasOrg := false
	if strings.HasPrefix(t, "(") {
		end := strings.IndexByte(t, ')')
		if end < 0 {
			return "", false
		}
		org := strings.TrimSpace(t[1:end])
		if !equalFoldASCII(org, "OCoLC") && !equalFoldASCII(org, "OCLC") {
			return "", false
		}
		hasOrg = true
		t = strings.TrimSpace(t[end+1:])
	}
	hasPrefix := false
	for _, p := range [...]string{"ocm", "ocn", "on"} {
		if len(t) >= len(p) && equalFoldASCII(t[:len(p)], p) {
			t, hasPrefix = strings.TrimSpace(t[len(p):]), true
			break
		}
	}
	if !hasOrg && !hasPrefix {
		return "", false
	}
	t = strings.TrimLeft(t, "0")
	if t == "" {
		return "", false
	}
	for i := 0; i < len(t); i++ {
		if !isDigit(t[i]) {
			return "", false
		}
	}
	return t, true
}
