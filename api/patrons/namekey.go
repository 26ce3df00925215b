package patrons

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// foldTable maps letters that carry no combining mark in Unicode
// decomposition (so stripping marks leaves them alone) to what people type
// on a plain keyboard.
var foldTable = map[rune]string{
	'ß': "ss", 'ẞ': "ss", 'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe", 'ø': "o", 'Ø': "o",
	'ł': "l", 'Ł': "l", 'đ': "d", 'Đ': "d", 'ð': "d", 'Ð': "d", 'þ': "th", 'Þ': "th",
	'ı': "i", 'ħ': "h", 'Ħ': "h", 'ŋ': "n", 'Ŋ': "n", 'ĸ': "k",
}

// Fold lower-cases s, removes accents (combining marks after canonical
// decomposition) and apostrophes, turns every other run of punctuation or
// space into one space and trims: "  Ó'Brien-Smith, José " is
// "obrien smith jose". It is the normal form of names for prefix search.
func Fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r == '\'' || r == '’' || r == 'ʼ' || r == '`':
			continue // O'Brien, D’Arcy: typed with or without the apostrophe
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			if f, ok := foldTable[r]; ok {
				b.WriteString(f)
			} else {
				b.WriteRune(unicode.ToLower(r))
			}
		default:
			space = true
		}
	}
	// Recompose what is left (Hangul, scripts whose letters decompose
	// without marks) so keys compare like the names people type.
	return norm.NFC.String(b.String())
}

// NameKey is the stored search key of a patron: "last first", folded.
func NameKey(first, last string) string {
	return strings.TrimSpace(Fold(last) + " " + Fold(first))
}

// prefixUpper returns the smallest string greater than every string that
// starts with prefix, in byte order (the column is C-collated and UTF-8 byte
// order is code point order): the prefix with its last rune incremented.
// ok is false for an empty prefix.
func prefixUpper(prefix string) (string, bool) {
	for prefix != "" {
		r, size := utf8.DecodeLastRuneInString(prefix)
		prefix = prefix[:len(prefix)-size]
		switch {
		case r == utf8.RuneError && size <= 1:
			continue // not UTF-8: drop it and increment what precedes
		case r == unicode.MaxRune:
			continue
		case r == 0xD7FF:
			return prefix + string(rune(0xE000)), true // skip the surrogates
		default:
			return prefix + string(r+1), true
		}
	}
	return "", false
}

// nameRange is one name_key prefix range: key >= From AND key < To.
type nameRange struct{ From, To string }

// nameRanges turns a typed name ("smi", "smith jo", "jo smith", "Ana Maria
// Lopez") into the prefix ranges of name_key ("last first") to search: the
// words as typed and every rotation of them (people type "first last"). The
// last word of each is a prefix; the others are whole words.
func nameRanges(q string) []nameRange {
	words := strings.Fields(Fold(q))
	if len(words) == 0 {
		return nil
	}
	if len(words) > 6 {
		words = words[:6]
	}
	// Every rotation: "first last", "first middle last" and "first last1
	// last2" all become "last ... first" in one of them.
	orders := make([][]string, 0, len(words))
	for k := range words {
		orders = append(orders, append(slices.Clone(words[k:]), words[:k]...))
	}
	var out []nameRange
	seen := map[string]bool{}
	for _, ws := range orders {
		p := strings.Join(ws, " ")
		if seen[p] {
			continue
		}
		seen[p] = true
		if to, ok := prefixUpper(p); ok {
			out = append(out, nameRange{From: p, To: to})
		}
	}
	return out
}
