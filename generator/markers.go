// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"maps"
	"slices"

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
// +kubebuilder:rbac marker, sorted by directory, each marked Scanned when the chosen RBAC invocation
// reads it. Only files mentioning the marker are parsed, so a large module costs one read per Go file.
func (t *Target) RBACMarkerPackages() ([]MarkerPackage, error) {
	pkgs, err := t.markerPackages()
	if err != nil {
		return nil, err
	}
	out := slices.Clone(pkgs)
	for i := range out {
		out[i].Scanned = t.RBAC != nil && t.RBAC.Scans(out[i].Dir)
	}
	return out, nil
}

// markerPackages loads the packages with RBAC markers once.
func (t *Target) markerPackages() ([]MarkerPackage, error) {
	if t.markers != nil {
		return t.markers, nil
	}
	dirs := map[string]bool{}
	if t.MainPackage != nil {
		dirs[t.MainPackage.Dir] = true
	}
	for dir, pkg := range t.index.pkgs {
		if len(pkg.RBAC) > 0 {
			dirs[dir] = true
		}
	}
	pkgs := []MarkerPackage{}
	for _, dir := range slices.Sorted(maps.Keys(dirs)) {
		pkg := t.MainPackage
		if pkg == nil || dir != pkg.Dir {
			var err error
			if pkg, err = gosource.LoadPackageOverlay(t.Root, dir, t.overlay); err != nil {
				return nil, err
			}
		}
		collected, ignored := gosource.PackageMarkers(pkg)
		pkgs = append(pkgs, MarkerPackage{Dir: dir, Collected: collected, Ignored: ignored})
	}
	t.markers = pkgs
	return pkgs, nil
}
