// SPDX-License-Identifier: Apache-2.0

package manifest

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/diagkit/diagkit/generator/edit"
)

// Flag names and port, as diagnostics and Cluster API define them.
const (
	AddressFlag  = "--diagnostics-address"
	InsecureFlag = "--insecure-diagnostics"
	Port         = 8443
	PortName     = "metrics"
)

// Container is the manager container found in a manifest.
type Container struct {
	Path       string
	Deployment string
	Name       string
	// Clusterctl is true when the file already uses ${VAR:=default} variables.
	Clusterctl bool
	// AddressElsewhere says an overlay passes the diagnostics address (kubebuilder v4's metrics patch):
	// Patch adds --insecure-diagnostics and the port, not a second address.
	AddressElsewhere bool

	src   []byte
	lines []int
	node  *yamlv3.Node
	seq   *yamlv3.Node // the containers list holding node
	doc   *yamlv3.Node // the Deployment
}

var clusterctlVariable = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*:=`)

// Find returns the manager container of the first Deployment in src: the container named "manager", or
// the only one.
func Find(path string, src []byte) (*Container, error) {
	var found *Container
	err := eachDeployment(path, src, func(name string, dep, containers *yamlv3.Node) (bool, error) {
		if containers == nil || containers.Kind != yamlv3.SequenceNode {
			return false, &edit.PositionError{File: path, Line: dep.Line, Expected: "spec.template.spec.containers", Found: "none"}
		}
		var node *yamlv3.Node
		for _, c := range containers.Content {
			if scalar(c, "name") == "manager" {
				node = c
			}
		}
		if node == nil && len(containers.Content) == 1 {
			node = containers.Content[0]
		}
		if node == nil {
			return false, &edit.PositionError{File: path, Line: containers.Line, Expected: `a container named "manager" or a single container`, Found: "several others"}
		}
		found = newFile(path, src).container(name, dep, containers, node)
		return false, nil
	})
	if err == nil && found == nil {
		err = &edit.PositionError{File: path, Expected: "a Deployment", Found: "none"}
	}
	return found, err
}

// FindNamed returns the container named container of the Deployment named deployment in src.
func FindNamed(path string, src []byte, deployment, container string) (*Container, error) {
	all, err := FindAll(path, src)
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		if c.Deployment == deployment && c.Name == container {
			return c, nil
		}
	}
	return nil, &edit.PositionError{File: path, Expected: "container " + container + " of Deployment " + deployment, Found: "none"}
}

// FindAll returns every container of every Deployment in src, in file order; a file without any (a
// kustomization, a Service) yields none and no error. Strategic-merge patches are Deployments too.
func FindAll(path string, src []byte) ([]*Container, error) {
	var all []*Container
	f := newFile(path, src)
	err := eachDeployment(path, src, func(name string, dep, containers *yamlv3.Node) (bool, error) {
		if containers != nil && containers.Kind == yamlv3.SequenceNode {
			for _, n := range containers.Content {
				all = append(all, f.container(name, dep, containers, n))
			}
		}
		return true, nil
	})
	return all, err
}

// eachDeployment calls fn with the name, node and containers list (nil when absent) of each Deployment
// document in src, until fn returns false or an error.
func eachDeployment(path string, src []byte, fn func(name string, dep, containers *yamlv3.Node) (bool, error)) error {
	dec := yamlv3.NewDecoder(bytes.NewReader(src))
	for {
		var doc yamlv3.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return &edit.PositionError{File: path, Expected: "YAML", Found: err.Error()}
		}
		if len(doc.Content) == 0 || scalar(doc.Content[0], "kind") != "Deployment" {
			continue
		}
		// Only a file holding a Deployment gets edits placed by line.
		if err := edit.CheckLines(path, src); err != nil {
			return err
		}
		dep := doc.Content[0]
		more, err := fn(scalar(walk(dep, "metadata"), "name"), dep, walk(dep, "spec", "template", "spec", "containers"))
		if err != nil || !more {
			return err
		}
	}
}

// file is what every container of one manifest shares.
type file struct {
	path       string
	src        []byte
	lines      []int
	clusterctl bool
}

func newFile(path string, src []byte) file {
	return file{path: path, src: src, lines: edit.LineOffsets(src), clusterctl: clusterctlVariable.Match(src)}
}

func (f file) container(deployment string, dep, seq, node *yamlv3.Node) *Container {
	return &Container{Path: f.path, Deployment: deployment, Name: scalar(node, "name"), Clusterctl: f.clusterctl,
		src: f.src, lines: f.lines, node: node, seq: seq, doc: dep}
}

// Line returns the 1-based line where the container's mapping starts (its "- " line).
func (c *Container) Line() int { return c.node.Line }

// KeyLine returns the line of key in the container, or the container's line when it has no such key.
func (c *Container) KeyLine(key string) int {
	if k := walkKey(c.node, key); k != nil {
		return k.Line
	}
	return c.Line()
}

// Image returns the container's image.
func (c *Container) Image() string { return scalar(c.node, "image") }

// HasArgs reports whether the container sets args (a strategic-merge patch that does replaces them all).
func (c *Container) HasArgs() bool { return walkKey(c.node, "args") != nil }

// Arg finds flag ("--name") among the arguments as --name=value or a bare --name; when takesValue, a
// bare --name takes the next argument as its value, as pflag does for non-boolean flags. line is the
// line of the flag's argument.
func (c *Container) Arg(flag string, takesValue bool) (value string, line int, ok bool) {
	seq := walk(c.node, "args")
	if seq == nil {
		return "", 0, false
	}
	for i, n := range seq.Content {
		if v, found := strings.CutPrefix(n.Value, flag+"="); found {
			return v, n.Line, true
		}
		if n.Value == flag {
			if takesValue && i+1 < len(seq.Content) {
				return seq.Content[i+1].Value, n.Line, true
			}
			return "", n.Line, true
		}
	}
	return "", 0, false
}

// ContainerPort is one entry of a container's ports.
type ContainerPort struct {
	Number string // as written
	Name   string
	Line   int
}

// Ports returns the container's ports.
func (c *Container) Ports() []ContainerPort {
	var ports []ContainerPort
	if seq := walk(c.node, "ports"); seq != nil {
		for _, p := range seq.Content {
			ports = append(ports, ContainerPort{Number: scalar(p, "containerPort"), Name: scalar(p, "name"), Line: p.Line})
		}
	}
	return ports
}

// ArgCount is how many times the container's arguments pass flag (as --flag=value or --flag value).
func (c *Container) ArgCount(flag string) int {
	n := 0
	for _, arg := range c.Args() {
		if isFlag(arg, flag) {
			n++
		}
	}
	return n
}

// Command returns the container's command (its image's entrypoint when empty).
func (c *Container) Command() []string { return c.list("command") }

// Args returns the container's arguments.
func (c *Container) Args() []string { return c.list("args") }

// list returns the values of the container's sequence under key, nil when it has none.
func (c *Container) list(key string) []string {
	seq := walk(c.node, key)
	if seq == nil || seq.Kind != yamlv3.SequenceNode {
		return nil
	}
	var values []string
	for _, n := range seq.Content {
		values = append(values, n.Value)
	}
	return values
}

// Patch returns the edits that give the container the diagnostics arguments and port and drop the
// arguments of the old metrics flag; none when it has them already. why says what each does.
func (c *Container) Patch(oldFlag string) (edits []edit.Edit, why []string, err error) {
	edits, why, err = c.patchArgs(oldFlag)
	if err != nil {
		return nil, nil, err
	}
	portEdits, portWhy, err := c.patchPort()
	if err != nil {
		return nil, nil, err
	}
	return endLines(c.src, itemsFirst(append(edits, portEdits...))), append(why, portWhy...), nil
}

// PatchArgs returns the edits that give the container the diagnostics arguments and drop those of
// oldFlag, and nothing else: for a patch that replaces the manager's args, whose ports merge with the base's.
func (c *Container) PatchArgs(oldFlag string) (edits []edit.Edit, why []string, err error) {
	if edits, why, err = c.patchArgs(oldFlag); err != nil {
		return nil, nil, err
	}
	return endLines(c.src, itemsFirst(edits)), why, nil
}

// patchArgs adds the diagnostics arguments the container lacks and drops those of oldFlag.
func (c *Container) patchArgs(oldFlag string) (edits []edit.Edit, why []string, err error) {
	address, insecure := ":8443", "false"
	if c.Clusterctl {
		address, insecure = "${CAPI_DIAGNOSTICS_ADDRESS:=:8443}", "${CAPI_INSECURE_DIAGNOSTICS:=false}"
	}
	var add []string
	if !c.hasArg(AddressFlag) && !c.AddressElsewhere {
		add = append(add, AddressFlag+"="+address)
	}
	if !c.hasArg(InsecureFlag) {
		add = append(add, InsecureFlag+"="+insecure)
	}
	var drop []*yamlv3.Node
	if a := walk(c.node, "args"); a != nil && a.Kind == yamlv3.SequenceNode && oldFlag != "" {
		drop = flagItems(a, "--"+oldFlag)
	}
	if len(add) == 0 && len(drop) == 0 {
		return nil, nil, nil
	}
	key, args, err := c.blockSeq("args")
	if err != nil {
		return nil, nil, err
	}
	if len(add) > 0 {
		e, err := c.addArgs(key, args, add)
		if err != nil {
			return nil, nil, err
		}
		edits, why = append(edits, e), append(why, "pass "+strings.Join(add, " "))
	}
	for _, n := range drop {
		start, end, err := c.itemSpan(args, n)
		if err != nil {
			return nil, nil, err
		}
		edits, why = append(edits, edit.Edit{Start: start, End: end}), append(why, "drop "+n.Value)
	}
	return edits, why, nil
}

// addArgs returns the edit adding the arguments add: after the last one, quoted like it; under an args:
// key without items; or in a new args: key before image (after it when image is on the "- " line).
func (c *Container) addArgs(key, args *yamlv3.Node, add []string) (edit.Edit, error) {
	switch {
	case args != nil:
		return c.appendItems(args, scalarEntries(add, args.Content[len(args.Content)-1].Style))
	case key != nil:
		return c.underKey(key, c.seqItems(key.Column-1, scalarEntries(add, 0))), nil
	}
	at, err := c.newKeyAt(anchor{key: "image"}, anchor{key: "image", after: true}, anchor{key: "name", after: true})
	if err != nil {
		return edit.Edit{}, err
	}
	return edit.Insert(at, c.newSeq(c.keyCol(), "args", scalarEntries(add, 0))), nil
}

func scalarEntries(values []string, style yamlv3.Style) [][]string {
	var entries [][]string
	for _, v := range values {
		entries = append(entries, []string{quoteLike(v, style)})
	}
	return entries
}

func (c *Container) patchPort() ([]edit.Edit, []string, error) { return c.patchPortNamed(PortName) }

// patchPortNamed gives the container port 8443 named name: nothing when it has 8443, the number changed
// when it has a port of that name, else a new item (and ports: key, after args, around image or after
// name).
func (c *Container) patchPortNamed(name string) ([]edit.Edit, []string, error) {
	var ports []*yamlv3.Node
	if seq := walk(c.node, "ports"); seq != nil && seq.Kind == yamlv3.SequenceNode {
		ports = seq.Content
	}
	for _, p := range ports {
		if scalar(p, "containerPort") == "8443" {
			return nil, nil, nil
		}
	}
	for _, p := range ports {
		if scalar(p, "name") == name {
			e, err := c.setPortNumber(p, name)
			return []edit.Edit{e}, []string{"move the " + name + " port to 8443"}, err
		}
	}
	// A metrics port of another name (Flux's http-prom, http-metrics): moved, its name kept for what
	// selects it. Only one such port is unambiguous.
	if name == PortName {
		var metrics []*yamlv3.Node
		for _, p := range ports {
			if n := strings.ToLower(scalar(p, "name")); strings.Contains(n, "metric") || strings.Contains(n, "prom") {
				metrics = append(metrics, p)
			}
		}
		if len(metrics) == 1 {
			other := scalar(metrics[0], "name")
			e, err := c.setPortNumber(metrics[0], other)
			return []edit.Edit{e}, []string{"move the " + other + " port to 8443"}, err
		}
	}
	key, seq, err := c.blockSeq("ports")
	if err != nil {
		return nil, nil, err
	}
	entry := portEntry(name)
	var e edit.Edit
	switch {
	case seq != nil:
		e, err = c.appendItems(seq, entry)
	case key != nil:
		e = c.underKey(key, c.seqItems(key.Column-1, entry))
	default:
		var at int
		at, err = c.newKeyAt(anchor{key: "args", after: true}, anchor{key: "image"}, anchor{key: "image", after: true}, anchor{key: "name", after: true})
		e = edit.Insert(at, c.newSeq(c.keyCol(), "ports", entry))
	}
	if err != nil {
		return nil, nil, err
	}
	return []edit.Edit{e}, []string{"expose container port 8443 named " + name}, nil
}

// setPortNumber returns the edit changing the containerPort of port p to 8443, keeping its quotes.
func (c *Container) setPortNumber(p *yamlv3.Node, name string) (edit.Edit, error) {
	n := walk(p, "containerPort")
	// An empty value has no text to replace: its position is not where a number would go.
	if n == nil || n.Kind != yamlv3.ScalarNode || n.Tag == "!!null" && n.Value == "" {
		return edit.Edit{}, &edit.PositionError{File: c.Path, Line: p.Line, Expected: "a containerPort in port " + name + " of container " + c.Name, Found: "none"}
	}
	// The number as written, quotes included; anything else (escapes, a tag) is not ours to rewrite.
	off, raw := c.offset(n), quoteLike(n.Value, n.Style)
	if !strings.HasPrefix(string(c.src[off:]), raw) {
		return edit.Edit{}, &edit.PositionError{File: c.Path, Line: n.Line, Expected: "a plain or quoted number as containerPort of port " + name, Found: strings.TrimSpace(c.lineText(n.Line))}
	}
	return edit.Edit{Start: off, End: off + len(raw), Text: quoteLike("8443", n.Style)}, nil
}

func (c *Container) hasArg(flag string) bool {
	for _, a := range c.Args() {
		if isFlag(a, flag) {
			return true
		}
	}
	return false
}

// flagItems returns the items of args that pass flag: "--flag=value", or a bare "--flag" and the item
// after it, which pflag and the standard library take as its value whatever it looks like.
func flagItems(args *yamlv3.Node, flag string) []*yamlv3.Node {
	var items []*yamlv3.Node
	for i := 0; i < len(args.Content); i++ {
		n := args.Content[i]
		if !isFlag(n.Value, flag) {
			continue
		}
		items = append(items, n)
		if n.Value == flag && i+1 < len(args.Content) {
			i++
			items = append(items, args.Content[i])
		}
	}
	return items
}

// isFlag says whether the argument a is flag, bare or with =value.
func isFlag(a, flag string) bool { return a == flag || strings.HasPrefix(a, flag+"=") }

// offset returns where n starts in src; yaml.v3 counts columns in characters, not bytes.
func (c *Container) offset(n *yamlv3.Node) int {
	start, col := c.lines[n.Line-1], 0
	for i := range c.lineText(n.Line) {
		if col == n.Column-1 {
			return start + i
		}
		col++
	}
	return start + len(c.lineText(n.Line))
}

func quoteLike(s string, style yamlv3.Style) string {
	switch {
	case style&yamlv3.DoubleQuotedStyle != 0:
		return `"` + s + `"`
	case style&yamlv3.SingleQuotedStyle != 0:
		return "'" + s + "'"
	}
	return s
}

func walk(n *yamlv3.Node, keys ...string) *yamlv3.Node {
	for _, k := range keys {
		if n == nil {
			return nil
		}
		var next *yamlv3.Node
		if n.Kind == yamlv3.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					next = n.Content[i+1]
				}
			}
		}
		n = next
	}
	return n
}

func walkKey(n *yamlv3.Node, key string) *yamlv3.Node {
	if i := keyIndex(n, key); i >= 0 {
		return n.Content[i]
	}
	return nil
}

func scalar(n *yamlv3.Node, key string) string {
	if v := walk(n, key); v != nil && v.Kind == yamlv3.ScalarNode {
		return v.Value
	}
	return ""
}
