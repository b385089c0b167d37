// Package markexpr parses and evaluates mark expressions, the grammar of
// pytest's -m flag and of a suite's marks attribute:
//
//	expr     := and_expr ('or' and_expr)*
//	and_expr := not_expr ('and' not_expr)*
//	not_expr := 'not' not_expr | '(' expr ')' | IDENT
//
// An IDENT is, as in pytest, a run of letters, digits and the characters
// _ : + - . [ ] \ / that is not one of the keywords and, or, not.
// Error messages and columns follow pytest, so a user who knows one knows both.
package markexpr

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxDepth bounds the nesting of parentheses and 'not', so that a hostile or
// mistyped expression cannot exhaust the stack of the parser or of Eval.
const MaxDepth = 1000

// Expr is a parsed mark expression. It is immutable and safe for concurrent use.
type Expr struct {
	src    string
	root   *node // nil: the empty expression, which matches everything
	idents []Ident
}

// Ident is an identifier of an expression and its 1-based column (in runes).
type Ident struct {
	Name string
	Col  int
}

// SyntaxError reports an invalid expression. Col is the 1-based column (in
// runes) where the problem was found.
type SyntaxError struct {
	Col int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("col %d: %s", e.Col, e.Msg) }

type op int

const (
	opIdent op = iota
	opNot
	opAnd
	opOr
)

type node struct {
	op    op
	ident string  // opIdent
	kids  []*node // opNot: one; opAnd, opOr: two or more
}

// Parse parses s. An empty or all-blank s yields an Expr that matches everything.
func Parse(s string) (*Expr, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e := &Expr{src: s}
	if p.peek().kind == tokEOF {
		return e, nil
	}
	root, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if err := p.expect(tokEOF); err != nil {
		return nil, err
	}
	e.root = root
	for _, t := range toks {
		if t.kind == tokIdent {
			e.idents = append(e.idents, Ident{Name: t.text, Col: t.col})
		}
	}
	return e, nil
}

// Eval reports whether the expression holds when an identifier is true exactly
// when match returns true for it. The empty expression is always true.
func (e *Expr) Eval(match func(ident string) bool) bool {
	if e.root == nil {
		return true
	}
	return e.root.eval(match)
}

func (n *node) eval(match func(string) bool) bool {
	switch n.op {
	case opIdent:
		return match(n.ident)
	case opNot:
		return !n.kids[0].eval(match)
	case opAnd:
		for _, k := range n.kids {
			if !k.eval(match) {
				return false
			}
		}
		return true
	default: // opOr
		for _, k := range n.kids {
			if k.eval(match) {
				return true
			}
		}
		return false
	}
}

// Idents returns every identifier of the expression, in source order,
// repeated as often as it occurs.
func (e *Expr) Idents() []Ident {
	return append([]Ident(nil), e.idents...)
}

// String returns the source text the expression was parsed from.
func (e *Expr) String() string { return e.src }

type tokKind int

const (
	tokEOF tokKind = iota
	tokLParen
	tokRParen
	tokAnd
	tokOr
	tokNot
	tokIdent
)

// describe names a token kind in the words pytest uses in its messages.
func (k tokKind) describe() string {
	return [...]string{
		tokEOF:    "end of input",
		tokLParen: "left parenthesis",
		tokRParen: "right parenthesis",
		tokAnd:    "and",
		tokOr:     "or",
		tokNot:    "not",
		tokIdent:  "identifier",
	}[k]
}

type token struct {
	kind tokKind
	text string
	col  int // 1-based, in runes
}

func isIdentRune(r rune) bool {
	if r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) {
		return true
	}
	return strings.ContainsRune(":+-.[]\\/", r)
}

func lex(s string) ([]token, error) {
	var toks []token
	col := 1
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == ' ' || r == '\t':
			i += size
			col++
		case r == '(':
			toks = append(toks, token{tokLParen, "(", col})
			i += size
			col++
		case r == ')':
			toks = append(toks, token{tokRParen, ")", col})
			i += size
			col++
		case isIdentRune(r):
			start, startCol := i, col
			for i < len(s) {
				r, size := utf8.DecodeRuneInString(s[i:])
				if !isIdentRune(r) {
					break
				}
				i += size
				col++
			}
			text := s[start:i]
			kind := tokIdent
			switch text {
			case "and":
				kind = tokAnd
			case "or":
				kind = tokOr
			case "not":
				kind = tokNot
			}
			toks = append(toks, token{kind, text, startCol})
		default:
			return nil, &SyntaxError{Col: col, Msg: fmt.Sprintf("unexpected character %q", s[i:i+size])}
		}
	}
	return append(toks, token{tokEOF, "", col}), nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) accept(k tokKind) bool {
	if p.toks[p.pos].kind == k {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(k tokKind) error {
	if p.accept(k) {
		return nil
	}
	return p.unexpected(k)
}

func (p *parser) unexpected(want ...tokKind) error {
	names := make([]string, len(want))
	for i, k := range want {
		names[i] = k.describe()
	}
	t := p.peek()
	return &SyntaxError{
		Col: t.col,
		Msg: fmt.Sprintf("expected %s; got %s", strings.Join(names, " OR "), t.kind.describe()),
	}
}

func (p *parser) expr(depth int) (*node, error) {
	return p.binary(depth, tokOr, opOr, p.andExpr)
}

func (p *parser) andExpr(depth int) (*node, error) {
	return p.binary(depth, tokAnd, opAnd, p.notExpr)
}

// binary parses operand (sep operand)* into one n-ary node, so that a long
// chain of 'or' or 'and' costs no stack depth.
func (p *parser) binary(depth int, sep tokKind, o op, operand func(int) (*node, error)) (*node, error) {
	first, err := operand(depth)
	if err != nil {
		return nil, err
	}
	if p.peek().kind != sep {
		return first, nil
	}
	n := &node{op: o, kids: []*node{first}}
	for p.accept(sep) {
		k, err := operand(depth)
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, k)
	}
	return n, nil
}

func (p *parser) notExpr(depth int) (*node, error) {
	t := p.peek()
	switch t.kind {
	case tokNot, tokLParen:
		if depth >= MaxDepth {
			return nil, &SyntaxError{Col: t.col, Msg: fmt.Sprintf("expression nested too deeply (more than %d levels of parentheses and not)", MaxDepth)}
		}
	}
	switch {
	case p.accept(tokNot):
		k, err := p.notExpr(depth + 1)
		if err != nil {
			return nil, err
		}
		return &node{op: opNot, kids: []*node{k}}, nil
	case p.accept(tokLParen):
		n, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.expect(tokRParen); err != nil {
			return nil, err
		}
		return n, nil
	case p.peek().kind == tokIdent:
		p.pos++
		return &node{op: opIdent, ident: t.text}, nil
	}
	return nil, p.unexpected(tokNot, tokLParen, tokIdent)
}
