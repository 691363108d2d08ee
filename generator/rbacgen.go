// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"errors"
	"io/fs"
	"path"
	"slices"

	"github.com/diagkit/diagkit/generator/makefile"
	"github.com/diagkit/diagkit/generator/rbacrole"
)

// entryTargets are the targets a person runs to regenerate manifests in kubebuilder and Cluster API
// Makefiles; an invocation they reach is the repository's own, not a test's.
var entryTargets = []string{"manifests", "generate-manifests", "generate", "generate-rbac"}

// detectRBAC reads the Makefile (and the files it includes), chooses the controller-gen invocation that
// writes the manager's role and reads that role. controller-gen's version comes from the Makefile or,
// failing that, from a tools module (hack/tools/go.mod) or the root go.mod's tool directive.
func (t *Target) detectRBAC() error {
	if src, err := t.read("Makefile"); err == nil {
		t.Makefile = "Makefile"
		t.Make = makefile.ParseWith("Makefile", src, t.read)
		t.ControllerGenVersion = t.Make.ControllerGenVersion
	}
	if t.ControllerGenVersion == "" {
		t.ControllerGenVersion, _ = makefile.ControllerGenFromModules(t.read)
	}
	t.RoleName = DefaultRoleName
	t.RolePath = path.Join(DefaultRoleDir, "role.yaml")
	if t.Make != nil && len(t.Make.Invocations) > 0 {
		pkgs, err := t.markerPackages()
		if err != nil {
			return err
		}
		t.RBAC, t.RBACOthers = t.chooseRBAC(pkgs)
		if t.RBAC.RoleName != "" {
			t.RoleName = t.RBAC.RoleName
		}
		t.RolePath = path.Join(t.RBAC.OutputDir, "role.yaml")
	}
	src, err := t.read(t.RolePath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if t.RBAC == nil {
		// No Makefile invocation names the role (Velero generates it from a script, as velero-perms): the
		// only ClusterRole of role.yaml is the generated one.
		if all, err := rbacrole.ParseRoles(t.RolePath, src, func(string) bool { return true }); err == nil && len(all) == 1 {
			t.RoleName = all[0].Name
		}
	}
	t.Role, err = rbacrole.ParseRole(t.RolePath, src, t.RoleName)
	return err
}

// chooseRBAC returns the invocation that writes the manager's role, and the others that write the same
// file. Of the invocations writing config/rbac (all, if none does), it takes the one whose regeneration
// reproduces the committed role best, then one the usual manifest targets reach, then the first: a
// test-only invocation that also writes config/rbac (CloudStack's generate-manifest-test) or one writing a
// test component's role (vSphere's vcsim) is never the manager's.
func (t *Target) chooseRBAC(pkgs []MarkerPackage) (*makefile.RBAC, []*makefile.RBAC) {
	candidates := slices.DeleteFunc(slices.Clone(t.Make.Invocations), func(r *makefile.RBAC) bool { return r.OutputDir != DefaultRoleDir })
	if len(candidates) == 0 {
		candidates = t.Make.Invocations
	}
	best, bestScore := candidates[0], -1
	for _, r := range candidates {
		score := t.regenerationDrift(r, pkgs)
		if score < 0 {
			score = 1 << 20 // no role file to compare with
		}
		if bestScore < 0 || score < bestScore || score == bestScore && t.reachedFromEntry(r) && !t.reachedFromEntry(best) {
			best, bestScore = r, score
		}
	}
	var others []*makefile.RBAC
	for _, r := range t.Make.Invocations {
		// One recipe running two (Tinkerbell's: CRDs from api/, then RBAC from controller/) leaves the
		// last one's role: only another target's invocation replaces it behind the chosen one's back.
		if r != best && r.OutputDir == best.OutputDir && r.Target != best.Target {
			others = append(others, r)
		}
	}
	return best, others
}

// regenerationDrift is how many permissions regenerating the committed role with r would add or remove;
// -1 when r's role file does not exist or cannot be read.
func (t *Target) regenerationDrift(r *makefile.RBAC, pkgs []MarkerPackage) int {
	missing, extra, err := t.RegenerationDifference(r, pkgs)
	if err != nil {
		return -1
	}
	return len(missing) + len(extra)
}

// RegenerationDifference compares the role r writes, as committed, with what r would write from the
// markers of the packages it scans: permissions regeneration adds (missing) and removes (extra).
func (t *Target) RegenerationDifference(r *makefile.RBAC, pkgs []MarkerPackage) (missing, extra []rbacrole.Permission, err error) {
	roleName := r.RoleName
	if roleName == "" {
		roleName = DefaultRoleName
	}
	file := path.Join(r.OutputDir, "role.yaml")
	src, ok := t.files[file]
	if !ok {
		data, err := t.read(file)
		if err != nil {
			return nil, nil, err
		}
		src = snapshot{data: data}
	}
	role, err := rbacrole.ParseRole(file, src.data, roleName)
	if err != nil {
		return nil, nil, err
	}
	var want []rbacrole.Rule
	for _, pkg := range pkgs {
		if !r.Scans(pkg.Dir) {
			continue
		}
		rules, err := rbacrole.FromMarkers(pkg.Collected, roleName)
		if err != nil {
			return nil, nil, err
		}
		want = append(want, rules...)
	}
	missing, extra = rbacrole.Difference(want, role.Rules)
	return missing, extra, nil
}

func (t *Target) reachedFromEntry(r *makefile.RBAC) bool {
	for _, e := range entryTargets {
		if t.Make.Reaches(e, r.Target) {
			return true
		}
	}
	return false
}

// EntryTarget names the make target a person runs to regenerate with r (the phony target behind a file
// rule such as CloudStack's config/.flag.mk).
func (t *Target) EntryTarget(r *makefile.RBAC) string {
	if t.Make == nil {
		return r.Target
	}
	return t.Make.EntryTarget(r.Target)
}
