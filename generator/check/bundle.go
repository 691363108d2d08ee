// SPDX-License-Identifier: Apache-2.0

package check

import (
	"fmt"
	"strings"

	"github.com/diagkit/diagkit/generator/manifest"
	"github.com/diagkit/diagkit/generator/rbacrole"
)

// checkBundles reports committed, rendered bundles that lack what config/ gives the manager: upstream
// eks-anywhere added the diagnostics args and port to config/manifest/eksa-components.yaml but not the
// review rules, so a cluster installed from the bundle fails every scrape.
func checkBundles(r *repo) error {
	config := r.t.Container
	for _, b := range r.manifests.bundles {
		fix, err := r.bundleFix(b.path)
		if err != nil {
			return err
		}
		if config != nil {
			if lacks := bundleLacks(r, config, b.manager); len(lacks) > 0 {
				r.report(Finding{
					ID: BundleOutOfStep, File: b.path, Line: b.manager.Line(),
					Message: fmt.Sprintf("container %s of Deployment %s lacks %s, which %s has: installing from this file does not serve diagnostics as configured",
						b.manager.Name, b.manager.Deployment, strings.Join(lacks, ", "), config.Path),
					Fix: fix,
				})
			}
		}
		if r.t.Role == nil || len(uncovered(r.t.Role.Rules, rbacrole.DiagnosticsRules)) > 0 {
			continue
		}
		for _, role := range b.roles {
			if missing := uncovered(role.Rules, rbacrole.DiagnosticsRules); len(missing) > 0 {
				r.report(Finding{
					ID: BundleOutOfStep, File: b.path, Line: role.RulesLine(),
					Message: fmt.Sprintf("ClusterRole %s lacks %s, which %s grants: a manager installed from this file cannot review its callers",
						role.Name, permissions(missing), r.t.RolePath),
					Fix: fix,
				})
			}
		}
	}
	return nil
}

// bundleLacks lists the diagnostics arguments and port of config that bundled lacks.
func bundleLacks(r *repo, config, bundled *manifest.Container) []string {
	var lacks []string
	if v, _, ok := config.Arg(manifest.AddressFlag, true); ok {
		if got, _, ok := bundled.Arg(manifest.AddressFlag, true); !ok || resolve(got) != resolve(v) {
			lacks = append(lacks, manifest.AddressFlag+"="+resolve(v))
		}
	}
	if v, _, ok := config.Arg(manifest.InsecureFlag, false); ok {
		if got, _, ok := bundled.Arg(manifest.InsecureFlag, false); !ok || isTrue(got) != isTrue(v) {
			lacks = append(lacks, fmt.Sprintf("%s=%t", manifest.InsecureFlag, isTrue(v)))
		}
	}
	if addr, on := diagnosticsAddress(config); on && r.diagnostics && declares(r.manifests.managers, addr.port) && !declares([]*manifest.Container{bundled}, addr.port) {
		lacks = append(lacks, "container port "+addr.port)
	}
	return lacks
}

func declares(containers []*manifest.Container, port string) bool {
	for _, c := range containers {
		for _, p := range c.Ports() {
			if p.Number == port {
				return true
			}
		}
	}
	return false
}

// bundleFix names the make target whose recipe writes the bundle (the phony target a person runs, and
// the overlay it builds from), or says that nothing regenerates it: etcdadm's 2021 bundles at the top
// level are leftovers no target writes.
func (r *repo) bundleFix(file string) (string, error) {
	if r.t.Make != nil {
		if w, ok := r.t.Make.WriterOf(file); ok {
			from := ""
			if w.Source != "" {
				from = " from " + w.Source
			}
			return fmt.Sprintf("run `make %s` (%s:%d builds it%s) and commit %s", r.t.Make.EntryTarget(w.Target), w.Path, w.Line, from, file), nil
		}
	}
	return "no make target writes " + file + ": it is a leftover nothing regenerates — delete it if nothing installs from it, or rebuild it by hand (`kustomize build config/default > " + file + "`) and commit it", nil
}
