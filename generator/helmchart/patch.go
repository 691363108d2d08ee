// SPDX-License-Identifier: Apache-2.0

package helmchart

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/manifest"
	"github.com/diagkit/diagkit/generator/rbacrole"
)

// Change is what Patch plans for one template file.
type Change struct {
	Path    string
	After   []byte
	Edits   []edit.Edit
	Reasons []string
}

// Patch plans the template edits that make the chart's manager — the Deployment container passing
// --oldFlag — serve diagnostics: the flag becomes --diagnostics-address=:8443 with
// --insecure-diagnostics=false, the container gets port 8443 (named as the Service port that reached the
// old metrics port, so monitors keep their port name), that Service targets 8443, and the chart's
// ClusterRoles grant the reviews. The patched chart is rendered again and checked; nothing is planned
// unless it renders as intended. A chart without such a container yields nothing.
//
// warnings name what it leaves to a person: monitor templates that still scrape that port over plain
// HTTP without credentials (often disabled by default, so they render to nothing here).
func (c *Chart) Patch(oldFlag string) (changes []Change, warnings []string, err error) {
	rendered, err := c.Render()
	if err != nil {
		return nil, nil, fmt.Errorf("chart %s: render with default values: %w", c.Dir, err)
	}
	flag := "--" + oldFlag
	var manager *manifest.Container
	var managerTemplate, oldValue string
	for _, name := range names(rendered) {
		containers, err := manifest.FindAll(c.File(name), []byte(rendered[name]))
		if err != nil {
			continue
		}
		for _, ct := range containers {
			if v, _, ok := ct.Arg(flag, true); ok && oldFlag != "" {
				manager, managerTemplate, oldValue = ct, name, v
			}
		}
	}
	if manager == nil {
		return nil, nil, nil
	}
	_, oldPort, _ := net.SplitHostPort(oldValue)

	sources := map[string][]byte{}
	edits := map[string][]edit.Edit{}
	reasons := map[string][]string{}
	plan := func(name string, why string, es ...edit.Edit) {
		file := c.File(name)
		if _, ok := sources[file]; !ok {
			sources[file] = c.Source(name)
		}
		edits[file] = append(edits[file], es...)
		reasons[file] = append(reasons[file], why)
	}

	// The Service that reached the old metrics port names the manager's new one.
	portName := manifest.PortName
	services, err := servicesReaching(rendered, oldPort)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range services {
		if s.portName != "" {
			portName = s.portName
		}
		es, err := retargetService(c.File(s.template), c.Source(s.template), oldPort)
		if err != nil {
			return nil, nil, err
		}
		plan(s.template, fmt.Sprintf("Service port %s targets the manager's 8443 instead of %s", s.portName, oldPort), es...)
	}

	src := c.Source(managerTemplate)
	es, err := secureArgs(c.File(managerTemplate), src, flag, portName)
	if err != nil {
		return nil, nil, err
	}
	plan(managerTemplate, fmt.Sprintf("container %s: pass --diagnostics-address=:8443 --insecure-diagnostics=false instead of %s, expose 8443 as %s", manager.Name, flag, portName), es...)

	if name, ok := lacksReviews(rendered); ok {
		es, err := addReviewRules(c.File(name), c.Source(name))
		if err != nil {
			return nil, nil, err
		}
		plan(name, "grant create on tokenreviews and subjectaccessreviews", es...)
	}

	patched := map[string][]byte{}
	for _, file := range sortedKeys(edits) {
		after, err := edit.Apply(sources[file], edits[file])
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", file, err)
		}
		patched[file] = after
		changes = append(changes, Change{Path: file, After: after, Edits: edits[file], Reasons: reasons[file]})
	}
	if err := c.withSource(patched).verify(flag, manager.Name); err != nil {
		return nil, nil, fmt.Errorf("chart %s: the patched templates do not render as intended (a generator bug, or a template shape it does not know): %w", c.Dir, err)
	}
	return changes, c.monitorWarnings(portName), nil
}

// verify renders the chart and checks what Patch promised.
func (c *Chart) verify(flag, container string) error {
	rendered, err := c.Render()
	if err != nil {
		return err
	}
	var errs []error
	found := false
	for _, name := range names(rendered) {
		containers, err := manifest.FindAll(c.File(name), []byte(rendered[name]))
		if err != nil {
			continue
		}
		for _, ct := range containers {
			if ct.Name != container {
				continue
			}
			found = true
			if v, _, ok := ct.Arg(manifest.AddressFlag, true); !ok || v != ":8443" {
				errs = append(errs, fmt.Errorf("%s: container %s: --diagnostics-address is %q", name, container, v))
			}
			if v, _, ok := ct.Arg(manifest.InsecureFlag, false); !ok || v != "false" {
				errs = append(errs, fmt.Errorf("%s: container %s: --insecure-diagnostics is %q", name, container, v))
			}
			if _, _, ok := ct.Arg(flag, true); ok {
				errs = append(errs, fmt.Errorf("%s: container %s still passes %s", name, container, flag))
			}
			has := false
			for _, p := range ct.Ports() {
				has = has || p.Number == "8443"
			}
			if !has {
				errs = append(errs, fmt.Errorf("%s: container %s has no port 8443", name, container))
			}
		}
	}
	if !found {
		errs = append(errs, fmt.Errorf("container %s is gone", container))
	}
	if _, lacks := lacksReviews(rendered); lacks {
		errs = append(errs, errors.New("no ClusterRole grants the reviews"))
	}
	return errors.Join(errs...)
}

// monitorWarnings finds ServiceMonitor templates with an endpoint on portName and no https scheme.
func (c *Chart) monitorWarnings(portName string) []string {
	var ws []string
	for _, t := range c.chart.Templates {
		src := string(t.Data)
		if !strings.Contains(src, "kind: ServiceMonitor") || !strings.Contains(src, "port: "+portName) || strings.Contains(src, "scheme: https") {
			continue
		}
		ws = append(ws, fmt.Sprintf("%s scrapes port %s without scheme: https and credentials; the manager now answers only HTTPS with a token (set scheme: https, tlsConfig, and authorization from a scraper token Secret)",
			c.File(c.chart.Name()+"/"+t.Name), portName))
	}
	return ws
}

type serviceRef struct{ template, portName string }

// servicesReaching lists the Service ports whose targetPort is the old metrics port.
func servicesReaching(rendered map[string]string, oldPort string) ([]serviceRef, error) {
	var refs []serviceRef
	if oldPort == "" {
		return nil, nil
	}
	for _, name := range names(rendered) {
		dec := yamlv3.NewDecoder(strings.NewReader(rendered[name]))
		for {
			var svc struct {
				Kind string `yaml:"kind"`
				Spec struct {
					Ports []struct {
						Name       string `yaml:"name"`
						TargetPort string `yaml:"targetPort"`
					} `yaml:"ports"`
				} `yaml:"spec"`
			}
			if err := dec.Decode(&svc); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("%s: rendered YAML: %w", name, err)
			}
			if svc.Kind != "Service" {
				continue
			}
			for _, p := range svc.Spec.Ports {
				if p.TargetPort == oldPort {
					refs = append(refs, serviceRef{template: name, portName: p.Name})
				}
			}
		}
	}
	return refs, nil
}

var (
	portLine       = regexp.MustCompile(`^(\s*-?\s*)(port|targetPort):\s*(\S+)\s*$`)
	argsKeyLine    = regexp.MustCompile(`^(\s*)args:\s*$`)
	portsKeyLine   = regexp.MustCompile(`^(\s*)ports:\s*$`)
	rulesKeyLine   = regexp.MustCompile(`^rules:\s*$`)
	listItemIndent = regexp.MustCompile(`^(\s*)- `)
)

// lineEdits holds a template's lines and their offsets.
type lineEdits struct {
	file  string
	lines []string
	at    []int
}

func linesOf(file string, src []byte) lineEdits {
	l := lineEdits{file: file}
	off := 0
	for _, line := range strings.SplitAfter(string(src), "\n") {
		if line == "" {
			break
		}
		l.lines = append(l.lines, line)
		l.at = append(l.at, off)
		off += len(line)
	}
	return l
}

func (l lineEdits) replace(i int, text string) edit.Edit {
	return edit.Edit{Start: l.at[i], End: l.at[i] + len(l.lines[i]), Text: text}
}

func (l lineEdits) insertAfter(i int, text string) edit.Edit {
	return edit.Insert(l.at[i]+len(l.lines[i]), text)
}

func indentOf(line string) string { return line[:len(line)-len(strings.TrimLeft(line, " "))] }

// retargetService moves the port and targetPort lines that name the old port to 8443.
func retargetService(file string, src []byte, oldPort string) ([]edit.Edit, error) {
	l := linesOf(file, src)
	var es []edit.Edit
	for i, line := range l.lines {
		if m := portLine.FindStringSubmatch(strings.TrimRight(line, "\n")); m != nil && m[3] == oldPort {
			es = append(es, l.replace(i, m[1]+m[2]+": 8443\n"))
		}
	}
	if len(es) == 0 {
		return nil, &edit.PositionError{File: file, Line: 1, Expected: "a port or targetPort line naming " + oldPort, Found: "none"}
	}
	return es, nil
}

// secureArgs replaces the line passing flag with the diagnostics flags and adds port 8443 to the
// container's ports: key.
func secureArgs(file string, src []byte, flag, portName string) ([]edit.Edit, error) {
	l := linesOf(file, src)
	at := -1
	for i, line := range l.lines {
		if m := listItemIndent.FindStringSubmatch(line); m != nil {
			item := strings.Trim(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "-")), `"'`)
			if item == flag || strings.HasPrefix(item, flag+"=") {
				if at >= 0 {
					return nil, &edit.PositionError{File: file, Line: i + 1, Expected: "one line passing " + flag, Found: "a second one"}
				}
				at = i
			}
		}
	}
	if at < 0 {
		return nil, &edit.PositionError{File: file, Line: 1, Expected: "an args item passing " + flag, Found: "none (it is built by a template function?)"}
	}
	item := listItemIndent.FindStringSubmatch(l.lines[at])[1]
	es := []edit.Edit{l.replace(at, item+"- --diagnostics-address=:8443\n"+item+"- --insecure-diagnostics=false\n")}

	// The container's ports: key, a sibling of args: below the flag.
	argsIndent := ""
	for i := at; i >= 0; i-- {
		if m := argsKeyLine.FindStringSubmatch(strings.TrimRight(l.lines[i], "\n")); m != nil {
			argsIndent = m[1]
			break
		}
	}
	for i := at + 1; i < len(l.lines); i++ {
		line := strings.TrimRight(l.lines[i], "\n")
		if strings.TrimSpace(line) != "" && len(indentOf(line)) < len(argsIndent) {
			break // past the container
		}
		if m := portsKeyLine.FindStringSubmatch(line); m != nil && m[1] == argsIndent && i+1 < len(l.lines) {
			itemIndent := indentOf(l.lines[i+1])
			return append(es, l.insertAfter(i, itemIndent+"- containerPort: 8443\n"+itemIndent+"  name: "+portName+"\n"+itemIndent+"  protocol: TCP\n")), nil
		}
	}
	// No ports: key: one after the args list.
	end := at
	for end+1 < len(l.lines) && strings.HasPrefix(l.lines[end+1], item+"- ") {
		end++
	}
	return append(es, l.insertAfter(end, argsIndent+"ports:\n"+item+"- containerPort: 8443\n"+item+"  name: "+portName+"\n"+item+"  protocol: TCP\n")), nil
}

// lacksReviews reports whether no rendered ClusterRole grants the reviews, and which template holds the
// ClusterRole to add them to: the one named like the manager's role, else the first.
func lacksReviews(rendered map[string]string) (string, bool) {
	var rules []rbacrole.Rule
	first, managerRole := "", ""
	for _, name := range names(rendered) {
		roles, _ := rbacrole.ParseRoles(name, []byte(rendered[name]), func(string) bool { return true })
		for _, r := range roles {
			rules = append(rules, r.Rules...)
			if first == "" {
				first = name
			}
			if strings.HasSuffix(r.Name, "manager-role") && managerRole == "" {
				managerRole = name
			}
		}
	}
	if first == "" || rbacrole.Covers(rules, rbacrole.DiagnosticsRules) {
		return "", false
	}
	if managerRole != "" {
		return managerRole, true
	}
	return first, true
}

// addReviewRules inserts the two rules after the first top-level rules: key of the template.
func addReviewRules(file string, src []byte) ([]edit.Edit, error) {
	l := linesOf(file, src)
	for i, line := range l.lines {
		if rulesKeyLine.MatchString(strings.TrimRight(line, "\n")) {
			var b bytes.Buffer
			for _, r := range rbacrole.DiagnosticsRules {
				b.WriteString("- apiGroups:\n  - " + r.APIGroups[0] + "\n  resources:\n  - " + r.Resources[0] + "\n  verbs:\n  - " + r.Verbs[0] + "\n")
			}
			return []edit.Edit{l.insertAfter(i, b.String())}, nil
		}
	}
	return nil, &edit.PositionError{File: file, Line: 1, Expected: "a top-level rules: key", Found: "none"}
}

func sortedKeys(m map[string][]edit.Edit) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
