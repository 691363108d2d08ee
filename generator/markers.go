// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/diagkit/diagkit/generator/gosource"
)

// MarkerPackage is a package of the module with +kubebuilder:rbac markers, as controller-gen sees it.
type MarkerPackage struct {
	Dir string // slash-separated, relative to the repository; "." for the root
	// Collected are the markers controller-gen reads, Ignored those it drops (gosource.PackageMarkers).
	Collected, Ignored []gosource.Marker
	// Scanned says whether the Makefile's RBAC controller-gen invocation reads the package.
	Scanned bool
}

// rbacMarker is what a file must contain for any of its markers to be an RBAC rule.
var rbacMarker = []byte("+kubebuilder:rbac")

// RBACMarkerPackages returns the manager's package and every other package of the module with a
// +kubebuilder:rbac marker, sorted by directory. Only files mentioning the marker are parsed, so a large
// module costs one read per Go file.
func (t *Target) RBACMarkerPackages() ([]MarkerPackage, error) {
	dirs := map[string]bool{t.MainPackage.Dir: true}
	err := walkGoFiles(t.Root, func(rel string) error {
		dir := path.Dir(rel)
		if dirs[dir] {
			return nil
		}
		src, err := os.ReadFile(filepath.Join(t.Root, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		if bytes.Contains(src, rbacMarker) {
			dirs[dir] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var pkgs []MarkerPackage
	for dir := range dirs {
		pkg := t.MainPackage
		if dir != t.MainPackage.Dir {
			if pkg, err = gosource.LoadPackage(t.Root, dir); err != nil {
				return nil, err
			}
		}
		collected, ignored := gosource.PackageMarkers(pkg)
		pkgs = append(pkgs, MarkerPackage{Dir: dir, Collected: collected, Ignored: ignored, Scanned: t.RBAC != nil && t.RBAC.Scans(dir)})
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Dir < pkgs[j].Dir })
	return pkgs, nil
}
