package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Error is a configuration error tied to a key (a path such as
// connections[0].tls) and, when known, its line in the file.
type Error struct {
	File string
	Key  string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line " + strconv.Itoa(e.Line) + ": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads, decodes and validates the file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse decodes and validates data; lookup resolves ${VAR} references
// (os.LookupEnv in production). name labels errors.
func Parse(name string, data []byte, lookup func(string) (string, bool)) (*File, error) {
	doc, err := parser.ParseBytes(data, 0)
	if err != nil {
		line, msg := decodeMessage(err)
		return nil, &Error{File: name, Line: line, Msg: msg}
	}
	if len(doc.Docs) != 1 || doc.Docs[0].Body == nil {
		return nil, &Error{File: name, Msg: "want exactly one YAML document"}
	}
	body := doc.Docs[0].Body
	pos := map[string]int{}
	indexPositions(body, "", pos)
	if err := expandEnv(body, "", lookup); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			ce.File = name
		}
		return nil, err
	}
	f := &File{positions: pos, path: name}
	if err := f.checkDurations(body, ""); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(nil), yaml.DisallowUnknownField())
	if err := dec.DecodeFromNode(body, f); err != nil {
		line, msg := decodeMessage(err)
		key := f.keyAt(line)
		if m := typeErr.FindStringSubmatch(msg); m != nil {
			msg = fmt.Sprintf("want %s, got %s", m[2], m[1])
		}
		return nil, &Error{File: name, Line: line, Key: key, Msg: msg}
	}
	f.defaults()
	if err := f.validate(); err != nil {
		return nil, err
	}
	return f, nil
}

var (
	yamlPos = regexp.MustCompile(`^\[(\d+):(\d+)\]\s*`)
	typeErr = regexp.MustCompile(`cannot unmarshal (\S+) into Go struct field \S+ of type (\S+)`)
)

// durationKeys are the keys holding durations, with [] for any index.
var durationKeys = map[string]bool{
	"limits.startup_timeout": true, "limits.shutdown_grace": true, "approvals.timeout": true, "connections[].max_grant": true,
}

// checkDurations parses every duration scalar before decoding, so that a
// bad one is reported with its key and line (the decoder loses both).
func (f *File) checkDurations(n ast.Node, path string) error {
	switch n := n.(type) {
	case *ast.MappingNode:
		for _, v := range n.Values {
			if err := f.checkDurations(v, path); err != nil {
				return err
			}
		}
	case *ast.MappingValueNode:
		p := n.Key.String()
		if path != "" {
			p = path + "." + p
		}
		if durationKeys[indexless.ReplaceAllString(p, "[]")] {
			var d Duration
			if err := d.UnmarshalText([]byte(n.Value.String())); err != nil {
				return f.errAt(p, "%v", err)
			}
			return nil
		}
		return f.checkDurations(n.Value, p)
	case *ast.SequenceNode:
		for i, v := range n.Values {
			if err := f.checkDurations(v, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	}
	return nil
}

var indexless = regexp.MustCompile(`\[\d+\]`)

// keyAt returns the deepest key on line, for errors the decoder reports by
// position only.
func (f *File) keyAt(line int) string {
	best := ""
	for k, l := range f.positions {
		if l == line && len(k) > len(best) {
			best = k
		}
	}
	return best
}

// decodeMessage splits a go-yaml error into its line and a one-line message.
func decodeMessage(err error) (int, string) {
	msg := yaml.FormatError(err, false, false)
	msg, _, _ = strings.Cut(msg, "\n")
	if m := yamlPos.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, msg[len(m[0]):]
	}
	return 0, msg
}

// errAt builds an Error for key, looking up its line.
func (f *File) errAt(key, format string, args ...any) *Error {
	return &Error{File: f.path, Key: key, Line: f.line(key), Msg: fmt.Sprintf(format, args...)}
}

// line returns the line of key, or of its nearest ancestor that has one.
func (f *File) line(key string) int {
	for key != "" {
		if l, ok := f.positions[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// indexPositions records the line of every mapping key and sequence item
// under its path.
func indexPositions(n ast.Node, path string, pos map[string]int) {
	switch n := n.(type) {
	case *ast.MappingNode:
		for _, v := range n.Values {
			indexPositions(v, path, pos)
		}
	case *ast.MappingValueNode:
		key := n.Key.String()
		p := key
		if path != "" {
			p = path + "." + key
		}
		pos[p] = n.Key.GetToken().Position.Line
		indexPositions(n.Value, p, pos)
	case *ast.SequenceNode:
		for i, v := range n.Values {
			p := path + "[" + strconv.Itoa(i) + "]"
			if v != nil && v.GetToken() != nil {
				pos[p] = v.GetToken().Position.Line
			}
			indexPositions(v, p, pos)
		}
	}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${VAR} in every string scalar. An unset variable is an
// error naming the key; $${VAR} escapes a literal ${VAR}.
func expandEnv(n ast.Node, path string, lookup func(string) (string, bool)) error {
	switch n := n.(type) {
	case *ast.MappingNode:
		for _, v := range n.Values {
			if err := expandEnv(v, path, lookup); err != nil {
				return err
			}
		}
	case *ast.MappingValueNode:
		p := n.Key.String()
		if path != "" {
			p = path + "." + p
		}
		return expandEnv(n.Value, p, lookup)
	case *ast.SequenceNode:
		for i, v := range n.Values {
			if err := expandEnv(v, path+"["+strconv.Itoa(i)+"]", lookup); err != nil {
				return err
			}
		}
	case *ast.StringNode:
		v, err := expandString(n.Value, lookup)
		if err != nil {
			return &Error{Key: path, Line: n.Token.Position.Line, Msg: err.Error()}
		}
		n.Value = v
	case *ast.LiteralNode: // block scalars (| and >)
		return expandEnv(n.Value, path, lookup)
	}
	return nil
}

func expandString(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var missing string
	const escaped = "\x00gatehouse-escaped-dollar\x00"
	s = strings.ReplaceAll(s, "$${", escaped)
	out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		v, ok := lookup(name)
		if !ok && missing == "" {
			missing = name
		}
		return v
	})
	if missing != "" {
		return "", fmt.Errorf("environment variable %s is not set", missing)
	}
	return strings.ReplaceAll(out, escaped, "${"), nil
}
