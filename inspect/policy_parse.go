package inspect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParsePolicy reads a policy file (YAML). name is the file's name, for
// messages; names resolves service and host names in port fields, as for
// ParsePortSpec. The format:
//
//	default: deny          # allow (the default) or deny: listeners no rule names
//	require:               # must listen
//	  - port: 443/tcp      # a PORTSPEC: 443, 443/tcp, 8000-8100, 22,80, ssh
//	    exposure: all      # loopback, all, address, interface, beyond-loopback or any (the default)
//	    owner: nginx       # a process name or executable path
//	    reason: the site   # shown when the rule fails
//	allow:                 # may listen (matters with default: deny)
//	  - port: 53
//	    exposure: loopback
//	deny:                  # must not listen
//	  - port: 3372
//	reachable:             # must listen, and the host firewall let the network reach it
//	  - port: 443/tcp
//	filtered:              # may listen, but the network must not reach it
//	  - port: 6379         # (loopback, or a firewall that stops every packet)
//
// Every key is optional but a rule's port, and an empty file allows
// everything. Unknown keys are errors, so that a misspelt one does not
// silently weaken the policy. Every error is a *UsageError of one line
// that names the file, the line, the field and what is allowed.
func ParsePolicy(name string, r io.Reader, names Names) (*Policy, error) {
	p := policyParser{name: name, names: names}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, p.errorf(0, "", "cannot read: %v", err)
	}
	p.data = data
	doc, extra, err := decodeYAML(data)
	switch {
	case err != nil:
		return nil, p.yamlError(err)
	case extra != nil:
		return nil, p.errorf(extra.Line, "", "found a second YAML document (---): want one")
	case doc == nil:
		return &Policy{Name: name}, nil // empty, or comments only
	}
	return p.policy(doc)
}

// decodeYAML decodes a file of one YAML document or none (doc is nil). It
// returns the start of a second document as extra.
func decodeYAML(data []byte) (doc, extra *yaml.Node, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first, second yaml.Node
	if err := dec.Decode(&first); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	if err := dec.Decode(&second); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, nil, err
		}
		return &first, &second, nil
	}
	return &first, nil, nil
}

// policyParser walks the YAML node tree of a policy file. The tree is
// walked rather than decoded into structs because messages need the line
// of each field, and so that wrong types get messages in the policy's
// terms rather than Go's.
type policyParser struct {
	name  string
	names Names
	data  []byte // the file, to find the lines of YAML errors
}

func (p *policyParser) errorf(line int, field, format string, args ...any) error {
	var b strings.Builder
	b.WriteString(p.name)
	if line > 0 {
		fmt.Fprintf(&b, ":%d", line)
	}
	b.WriteString(": ")
	if field != "" {
		b.WriteString(field)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, format, args...)
	return &UsageError{Msg: oneLine(b.String())}
}

// yamlSyntax matches go.yaml.in/yaml's errors, "yaml: line 3: …".
var yamlSyntax = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

// splitYAMLError splits a YAML error into its message and the line the
// library gives, or 0.
func splitYAMLError(err error) (msg string, line int) {
	msg = err.Error()
	if m := yamlSyntax.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	return msg, line
}

// yamlError turns a YAML syntax error into a UsageError with its line.
func (p *policyParser) yamlError(err error) error {
	msg, line := splitYAMLError(err)
	if l := p.problemLine(msg, line); l > 0 {
		line = l
	}
	return p.errorf(line, "", "invalid YAML: %s", msg)
}

// problemLine finds the line of a YAML error: the first line, from line
// from on, such that the file cut after it fails with the same message.
// The library's own line is not enough: for many errors it is where the
// enclosing block starts, counted from 0, and it is left out for line 1
// and for an unknown anchor or a character the reader refuses. It is never
// after the problem, so the search starts there. The search is binary: a
// file cut anywhere after the problem fails with the same message, since
// the parser stops there. It returns 0 for a UTF-16 file or a huge one.
func (p *policyParser) problemLine(msg string, from int) int {
	if len(p.data) > 1<<20 || bytes.HasPrefix(p.data, []byte("\xff\xfe")) || bytes.HasPrefix(p.data, []byte("\xfe\xff")) {
		return 0
	}
	var ends []int // ends[i] is where line i+1 ends
	for end := 0; end < len(p.data); {
		if nl := bytes.IndexByte(p.data[end:], '\n'); nl >= 0 {
			end += nl + 1
		} else {
			end = len(p.data)
		}
		ends = append(ends, end)
	}
	from = max(from, 1)
	if from > len(ends) {
		return 0
	}
	i, _ := slices.BinarySearchFunc(ends[from-1:], msg, func(end int, msg string) int {
		if _, _, err := decodeYAML(p.data[:end]); err != nil {
			if m, _ := splitYAMLError(err); m == msg {
				return 1 // at or after the problem
			}
		}
		return -1
	})
	if from+i > len(ends) {
		return 0
	}
	return from + i
}

// oneLine keeps a message on one line whatever a parser put in it.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), "; ")
}

const (
	policyKeys = "default, require, allow, deny, reachable or filtered"
	ruleKeys   = "port, exposure, owner or reason"
)

func (p *policyParser) policy(doc *yaml.Node) (*Policy, error) {
	pol := &Policy{Name: p.name}
	top := deref(doc)
	if top.Kind == yaml.DocumentNode && len(top.Content) > 0 {
		top = deref(top.Content[0])
	}
	if isNull(top) {
		return pol, nil
	}
	if top.Kind != yaml.MappingNode {
		return nil, p.errorf(top.Line, "", "want a mapping with the keys %s, found %s", policyKeys, describe(top))
	}
	err := p.fields(top, "", policyKeys, func(key string, v *yaml.Node) error {
		switch key {
		case "default":
			return p.policyDefault(v, &pol.Default)
		case "require":
			return p.rules(key, v, &pol.Require)
		case "allow":
			return p.rules(key, v, &pol.Allow)
		case "deny":
			return p.rules(key, v, &pol.Deny)
		case "reachable":
			return p.rules(key, v, &pol.Reachable)
		case "filtered":
			return p.rules(key, v, &pol.Filtered)
		}
		return errUnknownField
	})
	if err != nil {
		return nil, err
	}
	return pol, nil
}

var errUnknownField = errors.New("unknown field")

// fields calls f for each key of mapping m, in order, and reports keys
// that are not scalars, repeated, or unknown to f (it returns
// errUnknownField). path is where m is ("require[0]"), want the keys
// allowed, for messages.
func (p *policyParser) fields(m *yaml.Node, path, want string, f func(key string, v *yaml.Node) error) error {
	seen := make(map[string]int)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := deref(m.Content[i]), m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return p.errorf(k.Line, path, "want a field name (%s), found %s", want, describe(k))
		}
		if first, ok := seen[k.Value]; ok {
			return p.errorf(m.Content[i].Line, join(path, k.Value), "repeated: first given on line %d", first)
		}
		seen[k.Value] = m.Content[i].Line
		err := f(k.Value, v)
		if err == errUnknownField {
			return p.errorf(m.Content[i].Line, path, "unknown field %q: want %s", k.Value, want)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// join appends a field name to a path.
func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func (p *policyParser) policyDefault(v *yaml.Node, d *PolicyDefault) error {
	s, line, err := p.scalar(v, "default", "allow or deny")
	if err != nil {
		return err
	}
	switch {
	case strings.EqualFold(s, "allow"):
		*d = DefaultAllow
	case strings.EqualFold(s, "deny"):
		*d = DefaultDeny
	default:
		return p.errorf(line, "default", "invalid value %q: want allow or deny", s)
	}
	return nil
}

// rules parses the list under key; a key with nothing under it is an empty
// list, as when every rule is commented out.
func (p *policyParser) rules(key string, v *yaml.Node, dst *[]PolicyRule) error {
	seq := deref(v)
	if isNull(seq) {
		return nil
	}
	if seq.Kind != yaml.SequenceNode {
		return p.errorf(seq.Line, key, "want a list of rules (\"- port: …\"), found %s", describe(seq))
	}
	for i, item := range seq.Content {
		rule, err := p.rule(fmt.Sprintf("%s[%d]", key, i), item)
		if err != nil {
			return err
		}
		*dst = append(*dst, rule)
	}
	return nil
}

func (p *policyParser) rule(path string, item *yaml.Node) (PolicyRule, error) {
	rule := PolicyRule{Line: item.Line}
	m := deref(item)
	if m.Kind != yaml.MappingNode {
		return rule, p.errorf(item.Line, path, "want a rule, a mapping with the keys %s, found %s", ruleKeys, describe(m))
	}
	hasPort := false
	err := p.fields(m, path, ruleKeys, func(key string, v *yaml.Node) error {
		want := ruleFieldWant(key)
		if want == "" {
			return errUnknownField
		}
		if key != "port" && isNull(deref(v)) {
			return nil // an optional field left empty
		}
		field := join(path, key)
		s, line, err := p.scalar(v, field, want)
		if err != nil {
			return err
		}
		switch key {
		case "port":
			ports, err := ParsePortSpec(s, p.names)
			if err != nil {
				return p.errorf(line, field, "%v", err)
			}
			rule.Spec, rule.Ports, hasPort = s, ports, true
		case "exposure":
			e, err := ParseExposureSelector(s)
			if err != nil {
				return p.errorf(line, field, "%v", err)
			}
			rule.Exposure = e
		case "owner":
			rule.Owner = strings.TrimSpace(s)
		case "reason":
			// Reasons are printed on one line after a failed check.
			rule.Reason = strings.Join(strings.Fields(s), " ")
		}
		return nil
	})
	if err != nil {
		return rule, err
	}
	if !hasPort {
		return rule, p.errorf(m.Line, path, "missing field \"port\": %s", specParser{lowest: 1}.help())
	}
	return rule, nil
}

// ruleFieldWant says what a rule's field wants, for messages, or "" for a
// key that is not a rule's field.
func ruleFieldWant(key string) string {
	switch key {
	case "port":
		return strings.TrimPrefix(specParser{lowest: 1}.help(), "want ")
	case "exposure":
		return exposureSelectorList
	case "owner":
		return "a process name or executable path"
	case "reason":
		return "a short explanation"
	}
	return ""
}

// scalar returns the text of a scalar value and its line; anything else,
// including nothing, is an error that names the field and what it wants.
func (p *policyParser) scalar(v *yaml.Node, field, want string) (string, int, error) {
	n := deref(v)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		line := n.Line
		if n.Kind == yaml.AliasNode || line == 0 {
			line = v.Line
		}
		return "", 0, p.errorf(line, field, "want %s, found %s", want, describe(n))
	}
	return n.Value, n.Line, nil
}

// deref follows an alias (*name) to the node it stands for. An anchor's
// value may contain an alias to itself, so the node tree can have cycles;
// the parser follows at most one alias at each of a policy's fixed levels,
// so it never loops.
func deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// isNull reports whether n is YAML's null: "~", "null", or nothing at all.
func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node is, for "want …, found …" messages.
func describe(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "nothing"
	case n.Kind == yaml.ScalarNode:
		return strconv.Quote(n.Value)
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	}
	return "an unexpected YAML node"
}
