// SPDX-License-Identifier: Apache-2.0

package manifest

import (
	"fmt"
	"slices"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/diagkit/diagkit/generator/edit"
)

// IsProxy says whether a container is a kube-rbac-proxy sidecar, by name or image.
func (c *Container) IsProxy() bool {
	return strings.Contains(c.Name, "kube-rbac-proxy") || strings.Contains(c.Image(), "kube-rbac-proxy")
}

// RemoveProxy returns the edits that take the kube-rbac-proxy sidecars out of the Deployments (or
// Deployment patches) in src, now that the manager authenticates its callers itself on 8443:
//
//   - the sidecar goes, and with it its upstream (the manager's old plain-HTTP metrics address);
//   - the manager container of the same Deployment, when patchManager and the file has one with args,
//     gets --diagnostics-address=:8443 and --insecure-diagnostics=false in place of the old metrics flag,
//     a loopback --diagnostics-address or an insecure setting (a patch that replaces the whole args list
//     would otherwise undo manager.yaml);
//   - the manager gets container port 8443 under the sidecar's port name, so a Service or monitor that
//     named that port ("https") reaches the manager now; where the file has no manager container, one is
//     added with just that port, for the strategic merge.
//
// RBAC files are left: the sidecar's tokenreviews/subjectaccessreviews role is what the manager needs too.
func RemoveProxy(path string, src []byte, manager, oldFlag string, patchManager bool) ([]edit.Edit, []string, error) {
	containers, err := FindAll(path, src)
	if err != nil {
		return nil, nil, err
	}
	var edits []edit.Edit
	var why []string
	added := map[*yamlv3.Node]bool{} // the Deployments given a manager in place of a sidecar
	for _, proxy := range containers {
		if !proxy.IsProxy() {
			continue
		}
		portName := "https"
		if ports := proxy.Ports(); len(ports) > 0 && ports[0].Name != "" {
			portName = ports[0].Name
		}
		// The manager of the same Deployment document: documents may share a name, or have none.
		var mgr *Container
		for _, c := range containers {
			if c.doc == proxy.doc && c.Name == manager && c.node != proxy.node {
				mgr = c
			}
		}
		start, end, err := proxy.span()
		if err != nil {
			return nil, nil, err
		}
		switch {
		case mgr == nil && !added[proxy.doc]:
			added[proxy.doc] = true
			edits = append(edits, edit.Edit{Start: start, End: end, Text: proxy.managerWithPort(manager, portName)})
			why = append(why, fmt.Sprintf("replace the kube-rbac-proxy sidecar with the manager's port 8443 named %s (the manager authenticates callers itself)", portName))
			continue
		case mgr == nil || !patchManager:
			edits = append(edits, edit.Edit{Start: start, End: end})
			why = append(why, "remove the kube-rbac-proxy sidecar (the manager authenticates callers itself)")
			continue
		}
		edits = append(edits, edit.Edit{Start: start, End: end})
		why = append(why, "remove the kube-rbac-proxy sidecar (the manager authenticates callers itself)")
		argEdits, argWhy, err := mgr.secureArgs(oldFlag)
		if err != nil {
			return nil, nil, err
		}
		edits, why = append(edits, argEdits...), append(why, argWhy...)
		portEdits, portWhy, err := mgr.patchPortNamed(portName)
		if err != nil {
			return nil, nil, err
		}
		edits, why = append(edits, portEdits...), append(why, portWhy...)
	}
	return endLines(src, itemsFirst(edits)), why, nil
}

// span returns the bytes of the container in its list, from its dash line on.
func (c *Container) span() (int, int, error) {
	if isFlow(c.seq) {
		return 0, 0, &edit.PositionError{File: c.Path, Line: c.seq.Line, Expected: "containers as a block sequence (one \"- \" item a line)", Found: "a flow sequence [...]"}
	}
	return c.itemSpan(c.seq, c.node)
}

// managerWithPort writes, in place of the container, a manager container with just port 8443 named
// name, laid out as the container was.
func (c *Container) managerWithPort(manager, name string) string {
	dash, gap := c.seq.Column-1, c.gap()
	return items(dash, gap, [][]string{{"name: " + manager}}) + c.newSeq(dash+gap, "ports", portEntry(name))
}

// secureArgs rewrites, in a container that sets args, what served metrics behind a proxy: the old metrics
// flag, a non-default --diagnostics-address and an insecure setting; and adds what is missing.
func (c *Container) secureArgs(oldFlag string) ([]edit.Edit, []string, error) {
	args := walk(c.node, "args")
	if args == nil || args.Kind != yamlv3.SequenceNode || len(args.Content) == 0 {
		return nil, nil, nil
	}
	address, insecure := AddressFlag+"=:8443", InsecureFlag+"=false"
	hasAddress, hasInsecure := c.hasArg(AddressFlag), c.hasArg(InsecureFlag)
	type replacement struct {
		n    *yamlv3.Node
		with string // "" drops the argument
	}
	var replace []replacement
	var old []*yamlv3.Node
	if oldFlag != "" {
		old = flagItems(args, "--"+oldFlag)
	}
	for _, n := range args.Content {
		v := n.Value
		switch {
		case slices.Contains(old, n):
			// The first item of the old flag's becomes the address; the others, its value among them, go.
			if hasAddress || !isFlag(v, "--"+oldFlag) {
				replace = append(replace, replacement{n, ""})
			} else {
				replace = append(replace, replacement{n, address})
				hasAddress = true
			}
		case strings.HasPrefix(v, AddressFlag+"=") && v != address && !strings.Contains(v, "${"):
			replace = append(replace, replacement{n, address})
		case v == InsecureFlag || (strings.HasPrefix(v, InsecureFlag+"=") && v != insecure && !strings.Contains(v, "${")):
			replace = append(replace, replacement{n, insecure})
		}
	}
	var add []string
	if !hasAddress {
		add = append(add, address)
	}
	if !hasInsecure {
		add = append(add, insecure)
	}
	if len(replace) == 0 && len(add) == 0 {
		return nil, nil, nil
	}
	if _, _, err := c.blockSeq("args"); err != nil {
		return nil, nil, err
	}
	var edits []edit.Edit
	var why []string
	for _, r := range replace {
		start, end, err := c.itemSpan(args, r.n)
		if err != nil {
			return nil, nil, err
		}
		text := ""
		if r.with != "" {
			text = items(args.Column-1, c.itemGap(args, r.n), scalarEntries([]string{r.with}, r.n.Style))
			why = append(why, fmt.Sprintf("pass %s instead of %s", r.with, r.n.Value))
		} else {
			why = append(why, "drop "+r.n.Value)
		}
		edits = append(edits, edit.Edit{Start: start, End: end, Text: text})
	}
	if len(add) > 0 {
		e, err := c.appendItems(args, scalarEntries(add, args.Content[len(args.Content)-1].Style))
		if err != nil {
			return nil, nil, err
		}
		edits, why = append(edits, e), append(why, "pass "+strings.Join(add, " "))
	}
	return edits, why, nil
}

// portEntry is the lines of a container port 8443 named name.
func portEntry(name string) [][]string {
	return [][]string{{"containerPort: 8443", "name: " + name, "protocol: TCP"}}
}
