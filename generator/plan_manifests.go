// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"maps"
	"slices"
	"strings"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/kustomization"
	"github.com/diagkit/diagkit/generator/manifest"
)

// planManifests gives the manager container of manager.yaml the diagnostics args and port, and removes
// kube-rbac-proxy sidecars — in manager.yaml, patches and overlays — securing the manager's args in the
// same patch and moving the sidecar's port name to the manager's 8443 so Services keep working.
func planManifests(pl *planner) error {
	t := pl.t
	addressElsewhere, err := planJSONPatches(pl)
	if err != nil {
		return err
	}
	if err := planArgsPatches(pl, addressElsewhere); err != nil {
		return err
	}
	switch {
	case t.OverlaysServeDiagnostics():
		// Every overlay already deploys the manager serving diagnostics: manager.yaml is a base they complete.
	case t.Container != nil:
		t.Container.AddressElsewhere = addressElsewhere
		after, edits, why, err := pl.patchManagerManifest()
		if err != nil {
			return err
		}
		if !addressElsewhere && t.addressFromOverlays() && pl.rendersAddressTwice(after) {
			// A patch passes the address to every Deployment (kubebuilder v4's, rewritten for the manager
			// planned before this one) and keeps manager.yaml's args: the address is not repeated there.
			t.Container.AddressElsewhere = true
			if after, edits, why, err = pl.patchManagerManifest(); err != nil {
				return err
			}
		}
		pl.change(t.ManagerManifest, after, ranges(edits...), why...)
	default:
		pl.warn("%s not found; pass --diagnostics-address and expose port 8443 where the manager is deployed", DefaultManagerManifest)
	}
	for _, patch := range t.ProxyPatches {
		if patch == t.ManagerManifest {
			continue
		}
		src, err := t.read(patch)
		if err != nil {
			return err
		}
		edits, why, err := manifest.RemoveProxy(patch, src, pl.managerName, pl.oldFlag, true)
		if err != nil {
			return err
		}
		if err := pl.edit(patch, edits, why); err != nil {
			return err
		}
	}
	return nil
}

// patchManagerManifest gives the manager container its diagnostics args and port and removes a
// kube-rbac-proxy sidecar of manager.yaml itself.
func (pl *planner) patchManagerManifest() (after []byte, edits []edit.Edit, why []string, err error) {
	t := pl.t
	if edits, why, err = t.Container.Patch(pl.oldFlag); err != nil {
		return nil, nil, nil, err
	}
	if slices.Contains(t.ProxyPatches, t.ManagerManifest) {
		proxyEdits, proxyWhy, err := manifest.RemoveProxy(t.ManagerManifest, t.files[t.ManagerManifest].data, pl.managerName, pl.oldFlag, false)
		if err != nil {
			return nil, nil, nil, err
		}
		edits, why = append(edits, proxyEdits...), append(why, proxyWhy...)
	}
	after, err = edit.Apply(t.files[t.ManagerManifest].data, edits)
	return after, edits, why, err
}

// rendersAddressTwice says whether some overlay deploying the manager, rendered with manager.yaml as
// after and the changes planned so far, passes the diagnostics address more than once.
func (pl *planner) rendersAddressTwice(after []byte) bool {
	t := pl.t
	overlay := map[string][]byte{t.ManagerManifest: after}
	for file, c := range pl.changes {
		if file != t.ManagerManifest {
			overlay[file] = c.After
		}
	}
	for _, dir := range slices.Sorted(maps.Keys(t.Deployed)) {
		out, err := t.Kustomize.Render(dir, overlay)
		if err != nil {
			continue // verify reports a tree that no longer renders
		}
		if d, err := kustomization.FindDeployed(out, t.Container.Deployment, t.Container.Name); err == nil && d != nil && d.Manager.ArgCount(manifest.AddressFlag) > 1 {
			return true
		}
	}
	return false
}

// planArgsPatches gives the diagnostics arguments to the strategic-merge patches the kustomizations name
// that replace the manager container's args (JobSet's manager_config_patch.yaml passes --config and a
// log level): a list in a patch replaces the base's, so the overlay would drop the arguments manager.yaml
// gets. Patches adding a kube-rbac-proxy are secured with its removal instead. With addressElsewhere (a JSON
// patch passes the address) they get --insecure-diagnostics only; verify renders what results.
func planArgsPatches(pl *planner, addressElsewhere bool) error {
	t := pl.t
	if t.Container == nil {
		return nil
	}
	for _, rel := range pl.patchFiles() {
		src := t.files[rel].data
		containers, err := manifest.FindAll(rel, src)
		if err != nil {
			continue // not a file of Deployments (a JSON patch, a template): not one of these
		}
		for _, c := range containers {
			if c.Name != t.Container.Name || !(c.Deployment == t.Container.Deployment || strings.HasSuffix(c.Deployment, "-"+t.Container.Deployment)) || !c.HasArgs() {
				continue
			}
			if _, _, done := c.Arg(manifest.AddressFlag, true); done {
				break // it passes the address already (the insecure flag's default is secure)
			}
			// A JSON patch passing it comes on top (kubebuilder v4's): rewritten now, or before.
			c.AddressElsewhere = addressElsewhere || t.overlaysPassAddress()
			edits, why, err := c.PatchArgs(pl.oldFlag)
			if err != nil {
				return err
			}
			if err := pl.edit(rel, edits, why); err != nil {
				return err
			}
			break
		}
	}
	return nil
}

// planJSONPatches makes the JSON 6902 patches the kustomizations name pass the diagnostics address where
// they passed the old metrics flag (kubebuilder v4 enables metrics in config/default that way). It says
// whether one did, so that manager.yaml does not get a second address.
func planJSONPatches(pl *planner) (bool, error) {
	t := pl.t
	var rewrote bool
	for _, rel := range pl.patchFiles() {
		edits, why, err := manifest.RewriteJSONPatchArgs(rel, t.files[rel].data, pl.oldFlag)
		if err != nil {
			return rewrote, err
		}
		if len(edits) == 0 {
			continue
		}
		if err := pl.edit(rel, edits, why); err != nil {
			return rewrote, err
		}
		rewrote = true
	}
	return rewrote, nil
}

// patchFiles are the YAML files the kustomizations name besides manager.yaml and the kube-rbac-proxy
// patches, read into the snapshot: where patches of the manager's args may be.
func (pl *planner) patchFiles() []string {
	t := pl.t
	var files []string
	for _, rel := range t.Kustomize.Files() {
		if rel == t.ManagerManifest || !isYAML(rel) || slices.Contains(t.ProxyPatches, rel) {
			continue
		}
		if _, err := t.read(rel); err == nil { // else a directory, or a file the repository lacks
			files = append(files, rel)
		}
	}
	return files
}

// edit records the edits of a file of the snapshot.
func (pl *planner) edit(rel string, edits []edit.Edit, why []string) error {
	after, err := edit.Apply(pl.t.files[rel].data, edits)
	if err != nil {
		return err
	}
	pl.change(rel, after, ranges(edits...), why...)
	return nil
}
