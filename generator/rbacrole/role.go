// SPDX-License-Identifier: Apache-2.0

package rbacrole

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"

	yamlv2 "go.yaml.in/yaml/v2"
	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/diagkit/diagkit/generator/edit"
)

// Role is the ClusterRole of a role.yaml, with the byte ranges of its rules.
type Role struct {
	Path  string
	Src   []byte
	Name  string
	Rules []Rule

	kindLine, rulesLine int

	spans        [][2]int // each rule's bytes, "- " line to the next rule
	indent       string   // what precedes each rule's "- "
	seqEnd       int      // where a new last rule goes
	noncanonical error    // set when a rule is not as controller-gen writes it
}

// ParseRole finds the ClusterRole named name (any ClusterRole when name is empty) in src.
func ParseRole(path string, src []byte, name string) (*Role, error) {
	roles, err := parseRoles(path, src, func(n string) bool { return name == "" || n == name }, true)
	if err != nil {
		return nil, err
	}
	if len(roles) == 0 {
		what := "a ClusterRole"
		if name != "" {
			what = "the ClusterRole " + name
		}
		return nil, &edit.PositionError{File: path, Expected: what, Found: "none"}
	}
	return roles[0], nil
}

// ParseRoles returns the ClusterRoles of src whose names match, such as the prefixed copies of a role in
// a rendered bundle.
func ParseRoles(path string, src []byte, match func(name string) bool) ([]*Role, error) {
	return parseRoles(path, src, match, false)
}

// KindLine returns the 1-based line of the role's kind.
func (r *Role) KindLine() int { return r.kindLine }

// RulesLine returns the 1-based line of the role's rules key.
func (r *Role) RulesLine() int { return r.rulesLine }

func parseRoles(path string, src []byte, match func(string) bool, onlyFirst bool) ([]*Role, error) {
	var roles []*Role
	dec := yamlv3.NewDecoder(bytes.NewReader(src))
	lines := edit.LineOffsets(src)
	for {
		var doc yamlv3.Node
		if err := dec.Decode(&doc); err != nil {
			if err.Error() == "EOF" {
				break
			}
			return nil, &edit.PositionError{File: path, Expected: "YAML", Found: err.Error()}
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		var obj struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
			Rules []Rule `yaml:"rules"`
		}
		if err := root.Decode(&obj); err != nil {
			return nil, &edit.PositionError{File: path, Line: root.Line, Expected: "a Kubernetes object", Found: err.Error()}
		}
		if obj.Kind != "ClusterRole" || !match(obj.Metadata.Name) {
			continue
		}
		if err := edit.CheckLines(path, src); err != nil {
			return nil, err
		}
		r := &Role{Path: path, Src: src, Name: obj.Metadata.Name, Rules: obj.Rules, kindLine: mapKey(root, "kind").Line}
		seq := mapValue(root, "rules")
		if seq == nil || seq.Kind != yamlv3.SequenceNode || len(seq.Content) == 0 {
			return nil, &edit.PositionError{File: path, Line: root.Line, Expected: "a ClusterRole with rules", Found: "none"}
		}
		r.rulesLine = mapKey(root, "rules").Line
		// controller-gen writes a block sequence, each rule starting on its "- " line; anything else (a
		// flow sequence, a lone dash) is not its output, and has no spans to splice.
		r.indent = strings.Repeat(" ", seq.Column-1)
		for _, item := range seq.Content {
			start := lines[item.Line-1]
			if seq.Style&yamlv3.FlowStyle != 0 || !bytes.HasPrefix(src[start:], []byte(r.indent+"- ")) {
				r.noncanonical = &edit.PositionError{File: path, Line: item.Line,
					Expected: "rules as controller-gen writes them (regenerate role.yaml first)", Found: fmt.Sprintf("%q", edit.LineAt(src, start))}
				break
			}
			end := start + len(edit.LineAt(src, start))
			// The rule goes on while lines are indented deeper than its "- ".
			for end < len(src) && strings.HasPrefix(string(edit.LineAt(src, end)), r.indent+"  ") {
				end += len(edit.LineAt(src, end))
			}
			r.spans = append(r.spans, [2]int{start, end})
		}
		if r.noncanonical == nil {
			r.seqEnd = r.spans[len(r.spans)-1][1]
		}
		for i := 0; i < len(r.Rules) && r.noncanonical == nil; i++ {
			if got := string(src[r.spans[i][0]:r.spans[i][1]]); got != r.render(r.Rules[i]) {
				r.noncanonical = &edit.PositionError{File: path, Line: seq.Content[i].Line,
					Expected: "rules as controller-gen writes them (regenerate role.yaml first)", Found: fmt.Sprintf("%q", got)}
			}
		}
		for i := 1; i < len(r.Rules) && r.noncanonical == nil; i++ {
			if r.Rules[i-1].key() > r.Rules[i].key() {
				r.noncanonical = &edit.PositionError{File: path, Line: seq.Content[i].Line,
					Expected: "rules in controller-gen's order (regenerate role.yaml first)", Found: "a rule out of order"}
			}
		}
		roles = append(roles, r)
		if onlyFirst {
			break
		}
	}
	return roles, nil
}

// Add returns the file with rules added the way family merges them, and the edit made; src unchanged
// when the role already grants them.
func (r *Role) Add(rules []Rule, family Family) ([]byte, []edit.Edit, error) {
	if Grants(r.Rules, rules) {
		return r.Src, nil, nil
	}
	if r.noncanonical != nil {
		return nil, nil, r.noncanonical
	}
	merged := append([]Rule(nil), r.Rules...)
	changed := make([]bool, len(merged))
	for _, add := range rules {
		for _, res := range add.Resources { // controller-tools explodes rules per resource first
			one := Rule{APIGroups: add.APIGroups, Resources: []string{res}, Verbs: add.Verbs}
			if Grants(merged, []Rule{one}) {
				continue
			}
			i := indexWhere(merged, func(e Rule) bool { return e.key() == one.key() })
			if i < 0 && family >= FromV016 {
				i = indexWhere(merged, func(e Rule) bool {
					return slices.Equal(e.APIGroups, one.APIGroups) && slices.Equal(e.Verbs, one.Verbs) &&
						len(e.ResourceNames) == 0 && len(e.NonResourceURLs) == 0 && len(e.Resources) > 0
				})
				if i >= 0 {
					merged[i].Resources = sortedUnion(merged[i].Resources, one.Resources)
					changed[i] = true
					continue
				}
			}
			if i >= 0 {
				merged[i].Verbs = sortedUnion(merged[i].Verbs, one.Verbs)
				changed[i] = true
				continue
			}
			merged, changed = append(merged, one), append(changed, true)
		}
	}
	// Unchanged rules keep their bytes; the sequence is rewritten in controller-gen's order.
	order := make([]int, len(merged))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return merged[order[a]].key() < merged[order[b]].key() })
	var seq strings.Builder
	for _, i := range order {
		if i < len(r.spans) && !changed[i] {
			seq.Write(r.Src[r.spans[i][0]:r.spans[i][1]])
		} else {
			seq.WriteString(r.render(merged[i]))
		}
	}
	// Report only the bytes that differ, so unchanged rules around the new ones do not count as edited.
	e := trim(r.Src, edit.Edit{Start: r.spans[0][0], End: r.seqEnd, Text: seq.String()})
	out, err := edit.Apply(r.Src, []edit.Edit{e})
	return out, []edit.Edit{e}, err
}

// trim shrinks e to the lines it really changes.
func trim(src []byte, e edit.Edit) edit.Edit {
	oldLines := strings.SplitAfter(string(src[e.Start:e.End]), "\n")
	newLines := strings.SplitAfter(e.Text, "\n")
	p := 0
	for p < len(oldLines) && p < len(newLines) && oldLines[p] == newLines[p] {
		e.Start += len(oldLines[p])
		p++
	}
	q := 0
	for q < len(oldLines)-p && q < len(newLines)-p && oldLines[len(oldLines)-1-q] == newLines[len(newLines)-1-q] {
		e.End -= len(oldLines[len(oldLines)-1-q])
		q++
	}
	e.Text = strings.Join(newLines[p:len(newLines)-q], "")
	return e
}

func indexWhere(rules []Rule, f func(Rule) bool) int {
	for i, r := range rules {
		if f(r) {
			return i
		}
	}
	return -1
}

func mapValue(n *yamlv3.Node, key string) *yamlv3.Node {
	if i := mapIndex(n, key); i >= 0 {
		return n.Content[i+1]
	}
	return nil
}

// mapKey returns the key node of key in n, or n itself when it has none (its line is then the object's).
func mapKey(n *yamlv3.Node, key string) *yamlv3.Node {
	if i := mapIndex(n, key); i >= 0 {
		return n.Content[i]
	}
	return n
}

func mapIndex(n *yamlv3.Node, key string) int {
	if n.Kind != yamlv3.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// render encodes one rule as controller-gen does: yaml.v2, keys sorted, sequences not indented.
func (r *Role) render(rule Rule) string {
	out, _ := yamlv2.Marshal([]Rule{rule})
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(out), "\n") {
		if line != "" {
			b.WriteString(r.indent + line)
		}
	}
	return b.String()
}
