// SPDX-License-Identifier: Apache-2.0

package manifest

import (
	"fmt"
	"strings"

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
	for _, proxy := range containers {
		if !proxy.IsProxy() {
			continue
		}
		portName := "https"
		if ports := proxy.Ports(); len(ports) > 0 && ports[0].Name != "" {
			portName = ports[0].Name
		}
		var mgr *Container
		for _, c := range containers {
			if c.Deployment == proxy.Deployment && c.Name == manager && c.node.Line != proxy.node.Line {
				mgr = c
			}
		}
		start, end := proxy.itemSpan(proxy.node)
		switch {
		case mgr == nil:
			indent := proxy.indentOf(proxy.node)
			edits = append(edits, edit.Edit{Start: start, End: end, Text: indent + "- name: " + manager + "\n" +
				indent + "  ports:\n" + portItemNamed(indent+"  ", portName)})
			why = append(why, fmt.Sprintf("replace the kube-rbac-proxy sidecar with the manager's port 8443 named %s (the manager authenticates callers itself)", portName))
			continue
		case !patchManager:
			edits = append(edits, edit.Edit{Start: start, End: end})
			why = append(why, "remove the kube-rbac-proxy sidecar (the manager authenticates callers itself)")
			continue
		}
		edits = append(edits, edit.Edit{Start: start, End: end})
		why = append(why, "remove the kube-rbac-proxy sidecar (the manager authenticates callers itself)")
		argEdits, argWhy := mgr.secureArgs(oldFlag)
		edits, why = append(edits, argEdits...), append(why, argWhy...)
		portEdits, portWhy, err := mgr.patchPortNamed(portName)
		if err != nil {
			return nil, nil, err
		}
		edits, why = append(edits, portEdits...), append(why, portWhy...)
	}
	return edits, why, nil
}

// secureArgs rewrites, in a container that sets args, what served metrics behind a proxy: the old metrics
// flag, a non-default --diagnostics-address and an insecure setting; and adds what is missing.
func (c *Container) secureArgs(oldFlag string) ([]edit.Edit, []string) {
	args := walk(c.node, "args")
	if args == nil || len(args.Content) == 0 {
		return nil, nil
	}
	address, insecure := AddressFlag+"=:8443", InsecureFlag+"=false"
	hasAddress, hasInsecure := c.hasArg(AddressFlag), c.hasArg(InsecureFlag)
	var edits []edit.Edit
	var why []string
	replace := func(i int, with string) {
		n := args.Content[i]
		start, end := c.itemSpan(n)
		text := ""
		if with != "" {
			text = c.indentOf(n) + "- " + quoteLike(with, n.Style) + "\n"
			why = append(why, fmt.Sprintf("pass %s instead of %s", with, n.Value))
		} else {
			why = append(why, "drop "+n.Value)
		}
		edits = append(edits, edit.Edit{Start: start, End: end, Text: text})
	}
	for i, n := range args.Content {
		v := n.Value
		switch {
		case oldFlag != "" && (v == "--"+oldFlag || strings.HasPrefix(v, "--"+oldFlag+"=")):
			if hasAddress {
				replace(i, "")
			} else {
				replace(i, address)
				hasAddress = true
			}
		case strings.HasPrefix(v, AddressFlag+"=") && v != address && !strings.Contains(v, "${"):
			replace(i, address)
		case v == InsecureFlag || (strings.HasPrefix(v, InsecureFlag+"=") && v != insecure && !strings.Contains(v, "${")):
			replace(i, insecure)
		}
	}
	var add []string
	if !hasAddress {
		add = append(add, address)
	}
	if !hasInsecure {
		add = append(add, insecure)
	}
	if len(add) > 0 {
		last := args.Content[len(args.Content)-1]
		_, end := c.itemSpan(last)
		var b strings.Builder
		for _, a := range add {
			b.WriteString(c.indentOf(last) + "- " + quoteLike(a, last.Style) + "\n")
		}
		edits = append(edits, edit.Insert(end, b.String()))
		why = append(why, "pass "+strings.Join(add, " "))
	}
	return edits, why
}

func portItemNamed(indent, name string) string {
	return indent + "- containerPort: 8443\n" + indent + "  name: " + name + "\n" + indent + "  protocol: TCP\n"
}
