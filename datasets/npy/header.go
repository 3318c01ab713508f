package npy

import (
	"errors"
	"fmt"
	"strconv"
)

// The header is a Python literal. numpy evaluates it with ast.literal_eval;
// we parse the same small subset by hand: dicts, tuples, lists, strings,
// integers, True, False and None. Anything else is an error, and nesting is
// bounded so that no input can exhaust the stack.

type (
	dict  []keyVal
	tuple []any
	list  []any
)

type keyVal struct {
	key string
	val any
}

const maxDepth = 16

type parser struct {
	s string
	i int
}

func (p *parser) errorf(format string, a ...any) error {
	return fmt.Errorf("at byte %d: %s", p.i, fmt.Sprintf(format, a...))
}

func (p *parser) rest() string {
	r := p.s[p.i:]
	if len(r) > 20 {
		r = r[:20] + "..."
	}
	return r
}

func (p *parser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested too deeply")
	}
	p.skipSpace()
	if p.i >= len(p.s) {
		return nil, p.errorf("header ends where a value was expected")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		var d dict
		err := p.sequence('}', func() error {
			k, err := p.value(depth + 1)
			if err != nil {
				return err
			}
			ks, ok := k.(string)
			if !ok {
				return p.errorf("dict key is %s, want a string", describe(k))
			}
			p.skipSpace()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return p.errorf("want ':' after key %q", ks)
			}
			p.i++
			v, err := p.value(depth + 1)
			if err != nil {
				return err
			}
			for _, kv := range d {
				if kv.key == ks {
					return p.errorf("duplicate key %q", ks)
				}
			}
			d = append(d, keyVal{ks, v})
			return nil
		})
		return d, err
	case c == '(' || c == '[':
		p.i++
		var items []any
		closer := byte(')')
		if c == '[' {
			closer = ']'
		}
		err := p.sequence(closer, func() error {
			v, err := p.value(depth + 1)
			items = append(items, v)
			return err
		})
		if c == '[' {
			return list(items), err
		}
		return tuple(items), err
	case c == '\'' || c == '"':
		return p.str()
	case c == '-' || ('0' <= c && c <= '9'):
		return p.integer()
	default:
		start := p.i
		for p.i < len(p.s) && isIdent(p.s[p.i]) {
			p.i++
		}
		switch w := p.s[start:p.i]; w {
		case "True":
			return true, nil
		case "False":
			return false, nil
		case "None":
			return nil, nil
		case "":
			return nil, p.errorf("unexpected %q", p.rest())
		default:
			if p.i < len(p.s) && (p.s[p.i] == '\'' || p.s[p.i] == '"') && (w == "u" || w == "b") {
				return p.str() // Python 2 era u'...' / b'...'
			}
			p.i = start
			return nil, p.errorf("unexpected name %q", w)
		}
	}
}

func isIdent(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// sequence parses "item, item, ...[,] closer" after the opening bracket.
func (p *parser) sequence(closer byte, item func() error) error {
	for {
		p.skipSpace()
		if p.i >= len(p.s) {
			return p.errorf("header ends before closing %q", closer)
		}
		if p.s[p.i] == closer {
			p.i++
			return nil
		}
		if err := item(); err != nil {
			return err
		}
		p.skipSpace()
		if p.i >= len(p.s) {
			return p.errorf("header ends before closing %q", closer)
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case closer:
			p.i++
			return nil
		default:
			return p.errorf("want ',' or %q, found %q", closer, p.rest())
		}
	}
}

func (p *parser) str() (string, error) {
	q := p.s[p.i]
	p.i++
	var b []byte
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == q:
			return string(b), nil
		case c == '\\' && p.i < len(p.s):
			b = append(b, p.s[p.i]) // enough for \' \" \\ in a dtype string
			p.i++
		case c == '\n':
			return "", p.errorf("newline inside a string")
		default:
			b = append(b, c)
		}
	}
	return "", errors.New("header ends inside a string")
}

func (p *parser) integer() (int64, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
		p.i++
	}
	lit := p.s[start:p.i]
	if p.i < len(p.s) && (p.s[p.i] == 'L' || p.s[p.i] == 'l') {
		p.i++ // Python 2 long suffix, seen in old files
	}
	v, err := strconv.ParseInt(lit, 10, 64)
	if err != nil {
		p.i = start
		return 0, p.errorf("bad integer %q", lit)
	}
	return v, nil
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		return strconv.Quote(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case tuple:
		return fmt.Sprintf("a tuple of %d items", len(x))
	case list:
		return fmt.Sprintf("a list of %d items", len(x))
	case dict:
		return "a dict"
	}
	return fmt.Sprintf("%T", v)
}
