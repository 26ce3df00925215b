package catalog

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/stacks-ils/stacks/api/errs"
)

// The search language: words, "quoted phrases", trailing * for prefixes,
// field prefixes (title: author: subject: series: note: isbn: issn:
// barcode: callnumber:), AND / OR / NOT (or a leading -), and parentheses.
// Words next to each other are ANDed.

type nodeKind int

const (
	nTerm nodeKind = iota
	nAnd
	nOr
	nNot
)

type node struct {
	kind   nodeKind
	field  string // "" = any field
	text   string
	phrase bool
	prefix bool
	kids   []*node
}

// fieldWeights maps a field prefix to the tsvector weights it searches.
var fieldWeights = map[string]string{"title": "A", "author": "B", "subject": "C", "series": "D", "note": "D", "notes": "D"}

// identifierFields are matched exactly, not through full-text search.
var identifierFields = map[string]bool{"isbn": true, "issn": true, "barcode": true, "callnumber": true}

type lexer struct {
	in  []rune
	pos int
}

type token struct {
	kind  string // word, phrase, lparen, rparen, and, or, not, eof
	field string
	text  string
}

func (l *lexer) next() token {
	for l.pos < len(l.in) && unicode.IsSpace(l.in[l.pos]) {
		l.pos++
	}
	if l.pos >= len(l.in) {
		return token{kind: "eof"}
	}
	switch c := l.in[l.pos]; c {
	case '(':
		l.pos++
		return token{kind: "lparen"}
	case ')':
		l.pos++
		return token{kind: "rparen"}
	case '-':
		if l.pos+1 < len(l.in) && !unicode.IsSpace(l.in[l.pos+1]) {
			l.pos++
			return token{kind: "not"}
		}
	}
	start := l.pos
	field := ""
	// field:value
	for i := l.pos; i < len(l.in) && (unicode.IsLetter(l.in[i])); i++ {
		if i+1 < len(l.in) && l.in[i+1] == ':' {
			f := strings.ToLower(string(l.in[l.pos : i+1]))
			if _, ok := fieldWeights[f]; ok || identifierFields[f] {
				field = f
				l.pos = i + 2
			}
			break
		}
	}
	if l.pos < len(l.in) && l.in[l.pos] == '"' {
		l.pos++
		end := l.pos
		for end < len(l.in) && l.in[end] != '"' {
			end++
		}
		text := string(l.in[l.pos:end])
		l.pos = min(end+1, len(l.in))
		return token{kind: "phrase", field: field, text: text}
	}
	s := l.pos
	for l.pos < len(l.in) && !unicode.IsSpace(l.in[l.pos]) && l.in[l.pos] != '(' && l.in[l.pos] != ')' {
		l.pos++
	}
	w := string(l.in[s:l.pos])
	if field == "" {
		switch w {
		case "AND", "&&":
			return token{kind: "and"}
		case "OR", "||", "|":
			return token{kind: "or"}
		case "NOT":
			return token{kind: "not"}
		}
	}
	if w == "" {
		return token{kind: "word", text: string(l.in[start:l.pos])}
	}
	return token{kind: "word", field: field, text: w}
}

type parser struct {
	lx   *lexer
	tok  token
	errs int
}

func (p *parser) advance() { p.tok = p.lx.next() }

// ParseQuery parses the search language into a tree; nil means "match all".
func ParseQuery(q string) (*node, error) {
	if len([]rune(q)) > 500 {
		return nil, errs.Field("q", "query_too_long", "the query is longer than 500 characters")
	}
	p := &parser{lx: &lexer{in: []rune(q)}}
	p.advance()
	if p.tok.kind == "eof" {
		return nil, nil
	}
	n := p.or(0)
	if p.tok.kind != "eof" {
		return nil, errs.Field("q", "bad_query", fmt.Sprintf("unexpected %q in the query; check parentheses", p.tok.kind))
	}
	return n, nil
}

func (p *parser) or(depth int) *node {
	left := p.and(depth)
	for p.tok.kind == "or" {
		p.advance()
		right := p.and(depth)
		left = combine(nOr, left, right)
	}
	return left
}

func (p *parser) and(depth int) *node {
	left := p.unary(depth)
	for {
		switch p.tok.kind {
		case "and":
			p.advance()
		case "word", "phrase", "not", "lparen":
		default:
			return left
		}
		left = combine(nAnd, left, p.unary(depth))
	}
}

func (p *parser) unary(depth int) *node {
	if p.tok.kind == "not" {
		p.advance()
		inner := p.unary(depth)
		if inner == nil {
			return nil
		}
		return &node{kind: nNot, kids: []*node{inner}}
	}
	return p.primary(depth)
}

func (p *parser) primary(depth int) *node {
	switch p.tok.kind {
	case "lparen":
		p.advance()
		if depth > 20 {
			return nil
		}
		n := p.or(depth + 1)
		if p.tok.kind == "rparen" {
			p.advance()
		}
		return n
	case "word", "phrase":
		t := p.tok
		p.advance()
		n := &node{kind: nTerm, field: t.field, text: t.text, phrase: t.kind == "phrase"}
		if !n.phrase && strings.HasSuffix(n.text, "*") {
			n.prefix, n.text = true, strings.TrimRight(n.text, "*")
		}
		// Punctuation alone ("'", "-", "*") searches for nothing: drop it.
		if strings.TrimSpace(n.text) == "" || (!identifierFields[n.field] && len(tokens(n.text)) == 0) {
			return nil
		}
		return n
	}
	// A stray operator or parenthesis: skip it rather than fail the search.
	p.advance()
	return nil
}

func combine(k nodeKind, a, b *node) *node {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return &node{kind: k, kids: []*node{a, b}}
}

// tokens splits text into the letter/digit runs to_tsquery can take safely.
func tokens(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// tsLeaf renders one term as to_tsquery text: 'harry' <-> 'potter':A.
func tsLeaf(n *node) string {
	toks := tokens(n.text)
	if len(toks) == 0 {
		return ""
	}
	w := fieldWeights[n.field]
	parts := make([]string, len(toks))
	for i, t := range toks {
		parts[i] = "'" + strings.ToLower(t) + "'"
		label := w
		if n.prefix && i == len(toks)-1 {
			label = "*" + w
		}
		if label != "" {
			parts[i] += ":" + label
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "(" + strings.Join(parts, " <-> ") + ")"
}
