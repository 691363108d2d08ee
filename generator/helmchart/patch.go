// SPDX-License-Identifier: Apache-2.0

package helmchart

import (
	"bytes"
	"errors"
	"fmt"
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

// Patch plans the template edits that make the chart's manager — the container of a Deployment or
// StatefulSet passing --oldFlag in its args — serve diagnostics: the flag becomes
// --diagnostics-address=:8443 with --insecure-diagnostics=false, the container gets port 8443 (named as
// the Service port that reached the old metrics port, so monitors keep their port name), that Service
// targets 8443, and the chart's ClusterRoles grant the reviews. The patched chart is rendered again and
// checked; nothing is planned unless it renders as intended. A chart without such a container (one that
// does not deploy this manager, or deploys it retrofitted already) yields nothing and no error.
//
// It reads the chart's resources through Manifests, so NOTES.txt and templates that render no
// Kubernetes object do not matter. A chart that cannot be rendered with its default values yields a
// *NotRenderedError (errors.Is(err, ErrNotRendered)).
//
// warnings name what it leaves to a person: monitor templates that still scrape that port over plain
// HTTP without credentials (often disabled by default, so they render to nothing here), and, when it
// finds no manager to patch, the containers passing the flag that it leaves alone (the flag in their
// command, a DaemonSet, a subchart's template).
func (c *Chart) Patch(oldFlag string) (changes []Change, warnings []string, err error) {
	if oldFlag == "" {
		return nil, nil, nil
	}
	manifests, err := c.Manifests()
	if err != nil {
		return nil, nil, err
	}
	flag := "--" + oldFlag
	var manager *container
	var oldValue string
	var unpatched []string // containers passing the flag where Patch does not edit it
	for _, ct := range containers(manifests) {
		v, inArgs := arg(ct.Args, flag, true)
		_, inCommand := arg(ct.Command, flag, false)
		switch {
		case (inArgs || inCommand) && ct.kind == "DaemonSet":
			// A manager elects a leader; a DaemonSet passing the flag is more likely another binary.
			unpatched = append(unpatched, fmt.Sprintf("%s: container %s of DaemonSet %s passes %s; diagkit patches a manager deployed by a Deployment or StatefulSet only: if it runs this manager, pass --diagnostics-address=:8443 --insecure-diagnostics=false and expose port 8443 by hand",
				c.File(ct.template), ct.Name, ct.workload, flag))
		case inArgs:
			manager, oldValue = ct, v
		case inCommand:
			unpatched = append(unpatched, fmt.Sprintf("%s: container %s of %s %s passes %s in its command, which diagkit does not patch: move it to args, or pass --diagnostics-address=:8443 --insecure-diagnostics=false and expose port 8443 by hand",
				c.File(ct.template), ct.Name, ct.kind, ct.workload, flag))
		}
	}
	if manager == nil {
		return nil, unpatched, nil
	}
	managerTemplate := manager.template
	if c.Source(managerTemplate) == nil {
		return nil, []string{fmt.Sprintf("%s: container %s passes %s from a subchart's template, which diagkit does not patch: retrofit the subchart (%s)",
			c.Dir, manager.Name, flag, managerTemplate)}, nil
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
	servicesReachOld := false
	for _, s := range servicesReaching(manifests, oldPort) {
		servicesReachOld = true
		if s.portName != "" {
			portName = s.portName
		}
		es, err := retargetService(c.File(s.template), c.Source(s.template), oldPort)
		if err != nil {
			return nil, nil, err
		}
		plan(s.template, fmt.Sprintf("Service port %s targets the manager's 8443 instead of %s", s.portName, oldPort), es...)
	}

	// A kube-rbac-proxy sidecar beside the manager goes, as in config/: the manager authenticates callers
	// itself on 8443, and takes over the sidecar's port name so that Services naming it keep working.
	for _, sc := range containers(manifests) {
		if sc.template != managerTemplate || sc.workload != manager.workload || !isProxy(sc) {
			continue
		}
		es, err := removeContainer(c.File(managerTemplate), c.Source(managerTemplate), sc.Name)
		if err != nil {
			return nil, nil, err
		}
		for _, p := range sc.Ports {
			if p.ContainerPort == "8443" && p.Name != "" && !servicesReachOld {
				portName = p.Name
			}
		}
		plan(managerTemplate, fmt.Sprintf("remove the %s sidecar (the manager authenticates callers itself)", sc.Name), es...)
	}

	src := c.Source(managerTemplate)
	es, err := secureArgs(c.File(managerTemplate), src, flag, portName)
	if err != nil {
		return nil, nil, err
	}
	plan(managerTemplate, fmt.Sprintf("container %s: pass --diagnostics-address=:8443 --insecure-diagnostics=false instead of %s, expose 8443 as %s", manager.Name, flag, portName), es...)

	if name, ok := lacksReviews(manifests); ok {
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
func (c *Chart) verify(flag, name string) error {
	manifests, err := c.Manifests()
	if err != nil {
		return err
	}
	var errs []error
	found := false
	for _, ct := range containers(manifests) {
		if ct.Name != name {
			continue
		}
		found = true
		if v, ok := arg(ct.Args, manifest.AddressFlag, true); !ok || v != ":8443" {
			errs = append(errs, fmt.Errorf("%s: container %s: --diagnostics-address is %q", ct.template, name, v))
		}
		if v, ok := arg(ct.Args, manifest.InsecureFlag, false); !ok || v != "false" {
			errs = append(errs, fmt.Errorf("%s: container %s: --insecure-diagnostics is %q", ct.template, name, v))
		}
		if _, ok := arg(ct.Args, flag, true); ok {
			errs = append(errs, fmt.Errorf("%s: container %s still passes %s", ct.template, name, flag))
		}
		has := false
		seen := map[string]bool{}
		for _, p := range ct.Ports {
			has = has || p.ContainerPort == "8443"
			if p.Name != "" && seen[p.Name] {
				errs = append(errs, fmt.Errorf("%s: container %s has two ports named %s", ct.template, name, p.Name))
			}
			seen[p.Name] = true
		}
		if !has {
			errs = append(errs, fmt.Errorf("%s: container %s has no port 8443", ct.template, name))
		}
	}
	if !found {
		errs = append(errs, fmt.Errorf("container %s is gone", name))
	}
	on8443 := map[string][]string{} // workload → containers with a port 8443
	for _, ct := range containers(manifests) {
		if isProxy(ct) {
			errs = append(errs, fmt.Errorf("%s: the %s sidecar is still there", ct.template, ct.Name))
		}
		for _, p := range ct.Ports {
			if p.ContainerPort == "8443" {
				on8443[ct.workload] = append(on8443[ct.workload], ct.Name)
			}
		}
	}
	for workload, names := range on8443 {
		if len(names) > 1 {
			errs = append(errs, fmt.Errorf("%s: containers %s all listen on 8443", workload, strings.Join(names, ", ")))
		}
	}
	if _, lacks := lacksReviews(manifests); lacks {
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
func servicesReaching(manifests map[string][]byte, oldPort string) []serviceRef {
	if oldPort == "" {
		return nil
	}
	var refs []serviceRef
	for _, name := range names(manifests) {
		dec := yamlv3.NewDecoder(bytes.NewReader(manifests[name]))
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
			var node yamlv3.Node
			if err := dec.Decode(&node); err != nil {
				break // EOF: Manifests returns YAML only
			}
			if len(node.Content) == 0 || node.Content[0].Decode(&svc) != nil || svc.Kind != "Service" {
				continue
			}
			for _, p := range svc.Spec.Ports {
				if p.TargetPort == oldPort {
					refs = append(refs, serviceRef{template: name, portName: p.Name})
				}
			}
		}
	}
	return refs
}

var (
	portLine = regexp.MustCompile(`^(\s*-?\s*)(port|targetPort):\s*(\S+)\s*$`)
	// The args key, also as a container's first key: "- args:".
	argsKeyLine    = regexp.MustCompile(`^(\s*(?:- )?)args:\s*$`)
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

// secureArgs replaces the line passing flag (with the next item, its value, when the flag is bare, as in
// "- --metrics-addr" then "- :8080") with the diagnostics flags, and gives the container port 8443 named
// portName: the container's port of that name moves to 8443 (so Services targeting it by name follow),
// one on 8443 is kept, else a new item goes under the container's ports: key, or under a new ports: key
// after the args list.
func secureArgs(file string, src []byte, flag, portName string) ([]edit.Edit, error) {
	l := linesOf(file, src)
	at := -1
	for i, line := range l.lines {
		if listItemIndent.MatchString(line) {
			item := itemValue(line)
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
	last := at // the last line of the flag's items
	if itemValue(l.lines[at]) == flag && at+1 < len(l.lines) && strings.HasPrefix(l.lines[at+1], item+"- ") && !strings.HasPrefix(itemValue(l.lines[at+1]), "-") {
		last = at + 1
	}
	es := []edit.Edit{{Start: l.at[at], End: l.at[last] + len(l.lines[last]), Text: item + "- --diagnostics-address=:8443\n" + item + "- --insecure-diagnostics=false\n"}}

	// The container's ports: key, a sibling of args: below the flag.
	argsIndent := ""
	for i := at; i >= 0; i-- {
		if m := argsKeyLine.FindStringSubmatch(strings.TrimRight(l.lines[i], "\n")); m != nil {
			argsIndent = strings.Repeat(" ", len(m[1])) // "- args:": its siblings stand under "args"
			break
		}
	}
	for i := last + 1; i < len(l.lines); i++ {
		line := strings.TrimRight(l.lines[i], "\n")
		if strings.TrimSpace(line) != "" && len(indentOf(line)) < len(argsIndent) {
			break // past the container
		}
		if m := portsKeyLine.FindStringSubmatch(line); m != nil && m[1] == argsIndent && i+1 < len(l.lines) {
			port, err := portEdit(l, i, portName)
			if err != nil || port == nil {
				return es, err
			}
			return append(es, *port), nil
		}
	}
	// No ports: key: one after the args list.
	end := last
	for end+1 < len(l.lines) && strings.HasPrefix(l.lines[end+1], item+"- ") {
		end++
	}
	return append(es, l.insertAfter(end, argsIndent+"ports:\n"+item+"- containerPort: 8443\n"+item+"  name: "+portName+"\n"+item+"  protocol: TCP\n")), nil
}

var (
	containerPortLine = regexp.MustCompile(`^(\s*-?\s*)containerPort:\s*(\S+)\s*$`)
	portNameLine      = regexp.MustCompile(`^\s*-?\s*name:\s*["']?([^"'\s]+)["']?\s*$`)
)

// portEdit gives port 8443 named name to the ports list whose key is line key: nil when a port is 8443
// already, the containerPort line of the port named name changed, else a new item after the key.
func portEdit(l lineEdits, key int, name string) (*edit.Edit, error) {
	keyIndent, itemIndent := indentOf(l.lines[key]), indentOf(l.lines[key+1])
	// The list's lines: deeper than the key, or items at the key's indent.
	var items [][]int // line numbers of each item
	for i := key + 1; i < len(l.lines); i++ {
		line := strings.TrimRight(l.lines[i], "\n")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if len(indentOf(line)) < len(keyIndent) || len(indentOf(line)) == len(keyIndent) && !strings.HasPrefix(line, keyIndent+"- ") {
			break
		}
		if strings.HasPrefix(line, itemIndent+"- ") || len(items) == 0 {
			items = append(items, nil)
		}
		items[len(items)-1] = append(items[len(items)-1], i)
	}
	for _, item := range items {
		for _, i := range item {
			if m := containerPortLine.FindStringSubmatch(strings.TrimRight(l.lines[i], "\n")); m != nil && strings.Trim(m[2], `"'`) == "8443" {
				return nil, nil
			}
		}
	}
	for _, item := range items {
		named, number := -1, -1
		for _, i := range item {
			line := strings.TrimRight(l.lines[i], "\n")
			if containerPortLine.MatchString(line) {
				number = i
			}
			if m := portNameLine.FindStringSubmatch(line); m != nil && m[1] == name {
				named = i
			}
		}
		if named < 0 {
			continue
		}
		if number < 0 {
			return nil, &edit.PositionError{File: l.file, Line: named + 1, Expected: "a plain containerPort line in the port named " + name, Found: "none, or a templated one"}
		}
		m := containerPortLine.FindStringSubmatch(strings.TrimRight(l.lines[number], "\n"))
		e := l.replace(number, m[1]+"containerPort: 8443\n")
		return &e, nil
	}
	e := l.insertAfter(key, itemIndent+"- containerPort: 8443\n"+itemIndent+"  name: "+name+"\n"+itemIndent+"  protocol: TCP\n")
	return &e, nil
}

// itemValue is the value of a list item line, unquoted.
func itemValue(line string) string {
	return strings.Trim(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "-")), `"'`)
}

// lacksReviews reports whether no rendered ClusterRole grants the reviews, and which template holds the
// ClusterRole to add them to: the one named like the manager's role, else the first.
func lacksReviews(manifests map[string][]byte) (string, bool) {
	var rules []rbacrole.Rule
	first, managerRole := "", ""
	for _, name := range names(manifests) {
		roles, _ := rbacrole.ParseRoles(name, manifests[name], func(string) bool { return true })
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

// isProxy says whether a container is a kube-rbac-proxy sidecar, by name or image.
func isProxy(ct *container) bool {
	return ct.Name == "kube-rbac-proxy" || strings.Contains(ct.Image, "kube-rbac-proxy")
}

var nameLine = regexp.MustCompile(`^(\s*)(- )?name:\s*["']?([^"'\s]+)["']?\s*$`)

// removeContainer deletes the lines of the container item named name: from its "- " line (above the name:
// key, or the name: line itself) to the next item of the list or the end of the list.
func removeContainer(file string, src []byte, name string) ([]edit.Edit, error) {
	l := linesOf(file, src)
	for i, line := range l.lines {
		m := nameLine.FindStringSubmatch(strings.TrimRight(line, "\n"))
		if m == nil || m[3] != name {
			continue
		}
		dash := len(m[1]) // the item's "- " column
		if m[2] == "" {
			dash -= 2
		}
		if dash < 0 {
			continue
		}
		start := i
		for start >= 0 && !strings.HasPrefix(l.lines[start], strings.Repeat(" ", dash)+"- ") {
			start--
		}
		if start < 0 {
			continue
		}
		end := start + 1
		for end < len(l.lines) {
			t := strings.TrimRight(l.lines[end], "\n")
			if strings.TrimSpace(t) != "" && len(indentOf(t)) <= dash {
				break
			}
			end++
		}
		return []edit.Edit{{Start: l.at[start], End: l.at[end-1] + len(l.lines[end-1])}}, nil
	}
	return nil, &edit.PositionError{File: file, Line: 1, Expected: "a container item with name: " + name + " on a line of its own", Found: "none"}
}
