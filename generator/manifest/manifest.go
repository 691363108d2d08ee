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

	src   []byte
	lines []int
	node  *yamlv3.Node
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
		found = newFile(path, src).container(name, node)
		return false, nil
	})
	if err == nil && found == nil {
		err = &edit.PositionError{File: path, Expected: "a Deployment", Found: "none"}
	}
	return found, err
}

// FindAll returns every container of every Deployment in src, in file order; a file without any (a
// kustomization, a Service) yields none and no error. Strategic-merge patches are Deployments too.
func FindAll(path string, src []byte) ([]*Container, error) {
	var all []*Container
	f := newFile(path, src)
	err := eachDeployment(path, src, func(name string, _, containers *yamlv3.Node) (bool, error) {
		if containers != nil && containers.Kind == yamlv3.SequenceNode {
			for _, n := range containers.Content {
				all = append(all, f.container(name, n))
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

func (f file) container(deployment string, node *yamlv3.Node) *Container {
	return &Container{Path: f.path, Deployment: deployment, Name: scalar(node, "name"), Clusterctl: f.clusterctl,
		src: f.src, lines: f.lines, node: node}
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

// Args returns the container's arguments.
func (c *Container) Args() []string {
	var args []string
	if seq := walk(c.node, "args"); seq != nil {
		for _, n := range seq.Content {
			args = append(args, n.Value)
		}
	}
	return args
}

// Patch returns the edits that give the container the diagnostics arguments and port and drop the
// arguments of the old metrics flag; none when it has them already. why says what each does.
func (c *Container) Patch(oldFlag string) (edits []edit.Edit, why []string, err error) {
	address, insecure := ":8443", "false"
	if c.Clusterctl {
		address, insecure = "${CAPI_DIAGNOSTICS_ADDRESS:=:8443}", "${CAPI_INSECURE_DIAGNOSTICS:=false}"
	}
	var add []string
	if !c.hasArg(AddressFlag) {
		add = append(add, AddressFlag+"="+address)
	}
	if !c.hasArg(InsecureFlag) {
		add = append(add, InsecureFlag+"="+insecure)
	}
	args := walk(c.node, "args")
	if len(add) > 0 {
		why = append(why, "pass "+strings.Join(add, " "))
		if args != nil && args.Kind == yamlv3.SequenceNode && len(args.Content) > 0 {
			last := args.Content[len(args.Content)-1]
			_, end := c.itemSpan(last)
			indent := c.indentOf(last)
			var b strings.Builder
			for _, a := range add {
				b.WriteString(indent + "- " + quoteLike(a, last.Style) + "\n")
			}
			edits = append(edits, edit.Insert(end, b.String()))
		} else {
			key, err := c.keyLine("image")
			if err != nil {
				return nil, nil, err
			}
			keyIndent := c.lineIndent(key)
			var b strings.Builder
			b.WriteString(keyIndent + "args:\n")
			for _, a := range add {
				b.WriteString(keyIndent + "- " + a + "\n")
			}
			edits = append(edits, edit.Insert(key, b.String()))
		}
	}
	if oldFlag != "" && args != nil {
		for _, a := range args.Content {
			if a.Value == "--"+oldFlag || strings.HasPrefix(a.Value, "--"+oldFlag+"=") {
				start, end := c.itemSpan(a)
				edits = append(edits, edit.Edit{Start: start, End: end})
				why = append(why, "drop "+a.Value)
			}
		}
	}
	portEdits, portWhy, err := c.patchPort()
	if err != nil {
		return nil, nil, err
	}
	return append(edits, portEdits...), append(why, portWhy...), nil
}

func (c *Container) patchPort() ([]edit.Edit, []string, error) { return c.patchPortNamed(PortName) }

// patchPortNamed gives the container port 8443 named name: nothing when it has 8443, the number changed
// when it has a port of that name, else a new item (and ports: key, after args, image or name).
func (c *Container) patchPortNamed(name string) ([]edit.Edit, []string, error) {
	ports := walk(c.node, "ports")
	why := "expose container port 8443 named " + name
	if ports != nil && ports.Kind == yamlv3.SequenceNode && len(ports.Content) > 0 {
		for _, p := range ports.Content {
			if scalar(p, "containerPort") == "8443" {
				return nil, nil, nil
			}
			if scalar(p, "name") == name {
				n := walk(p, "containerPort")
				off := c.offset(n)
				return []edit.Edit{{Start: off, End: off + len(n.Value), Text: "8443"}}, []string{"move the " + name + " port to 8443"}, nil
			}
		}
		last := ports.Content[len(ports.Content)-1]
		_, end := c.itemSpan(last)
		return []edit.Edit{edit.Insert(end, portItemNamed(c.indentOf(last), name))}, []string{why}, nil
	}
	// No ports yet: a new key after args (or before image, or after name in a patch), indented like the
	// file's other sequences.
	if args := walk(c.node, "args"); args != nil && len(args.Content) > 0 {
		_, at := c.itemSpan(args.Content[len(args.Content)-1])
		itemIndent := c.indentOf(args.Content[0])
		keyIndent := c.lineIndent(c.lines[walkKey(c.node, "args").Line-1])
		return []edit.Edit{edit.Insert(at, keyIndent+"ports:\n"+portItemNamed(itemIndent, name))}, []string{why}, nil
	}
	at, err := c.keyLine("image")
	if err != nil {
		nameKey := walkKey(c.node, "name")
		if nameKey == nil {
			return nil, nil, err
		}
		// The "- name:" line: the key goes on the next line, two columns in from the dash.
		line := c.lines[nameKey.Line-1]
		at = line + len(edit.LineAt(c.src, line))
		keyIndent := c.indentOf(c.node) + "  "
		return []edit.Edit{edit.Insert(at, keyIndent+"ports:\n"+portItemNamed(keyIndent, name))}, []string{why}, nil
	}
	keyIndent := c.lineIndent(at)
	return []edit.Edit{edit.Insert(at, keyIndent+"ports:\n"+portItemNamed(keyIndent, name))}, []string{why}, nil
}

func (c *Container) hasArg(flag string) bool {
	for _, a := range c.Args() {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// keyLine returns the offset of the line holding key in the container mapping.
func (c *Container) keyLine(key string) (int, error) {
	k := walkKey(c.node, key)
	if k == nil {
		return 0, &edit.PositionError{File: c.Path, Line: c.node.Line, Expected: "an " + key + ": field in container " + c.Name, Found: "none"}
	}
	return c.lines[k.Line-1], nil
}

// itemSpan returns the lines of a sequence item: its "- " line and the lines indented deeper.
func (c *Container) itemSpan(n *yamlv3.Node) (int, int) {
	start := c.lines[n.Line-1]
	indent := c.indentOf(n)
	end := start + len(edit.LineAt(c.src, start))
	for end < len(c.src) && strings.HasPrefix(string(edit.LineAt(c.src, end)), indent+"  ") {
		end += len(edit.LineAt(c.src, end))
	}
	return start, end
}

// indentOf returns what precedes the "- " of the sequence item n.
func (c *Container) indentOf(n *yamlv3.Node) string {
	line := string(edit.LineAt(c.src, c.lines[n.Line-1]))
	return line[:strings.Index(line, "-")]
}

func (c *Container) lineIndent(off int) string {
	line := string(edit.LineAt(c.src, off))
	return line[:len(line)-len(strings.TrimLeft(line, " "))]
}

func (c *Container) offset(n *yamlv3.Node) int { return c.lines[n.Line-1] + n.Column - 1 }

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
	if n == nil || n.Kind != yamlv3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return nil
}

func scalar(n *yamlv3.Node, key string) string {
	if v := walk(n, key); v != nil && v.Kind == yamlv3.ScalarNode {
		return v.Value
	}
	return ""
}
