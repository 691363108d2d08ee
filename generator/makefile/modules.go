// SPDX-License-Identifier: Apache-2.0

package makefile

import (
	"golang.org/x/mod/modfile"
)

const (
	controllerTools = "sigs.k8s.io/controller-tools"
	controllerGen   = controllerTools + "/cmd/controller-gen"
)

// ToolsModules are the go.mod files that pin build tools apart from the main module, in the order
// ControllerGenFromModules looks at them.
var ToolsModules = []string{"hack/tools/go.mod", "tools/go.mod", "hack/go.mod", "internal/tools/go.mod"}

// ControllerGenFromModules returns the controller-tools version pinned outside the Makefile and the
// go.mod pinning it: the first of ToolsModules requiring sigs.k8s.io/controller-tools (a replacement
// by version counts), else the root go.mod when it declares `tool sigs.k8s.io/controller-tools/cmd/controller-gen`
// (Go 1.24 tool directive) and requires the module. read returns a file given its slash path relative to
// the repository; a file it cannot return is skipped. A root go.mod requiring controller-tools without
// the tool directive is not taken as a pin: the module may be a library dependency there.
func ControllerGenFromModules(read func(path string) ([]byte, error)) (version, where string) {
	for _, name := range ToolsModules {
		if f := parseMod(read, name); f != nil {
			if v := requiredVersion(f); v != "" {
				return v, name
			}
		}
	}
	if f := parseMod(read, "go.mod"); f != nil {
		for _, t := range f.Tool {
			if t.Path == controllerGen {
				if v := requiredVersion(f); v != "" {
					return v, "go.mod"
				}
			}
		}
	}
	return "", ""
}

func parseMod(read func(string) ([]byte, error), name string) *modfile.File {
	data, err := read(name)
	if err != nil {
		return nil
	}
	f, err := modfile.Parse(name, data, nil)
	if err != nil {
		// A go.mod this x/mod cannot parse strictly (a newer directive): requirements still count.
		if f, err = modfile.ParseLax(name, data, nil); err != nil {
			return nil
		}
	}
	return f
}

// requiredVersion returns the version of controller-tools f requires, replaced if f replaces it by a
// version.
func requiredVersion(f *modfile.File) string {
	version := ""
	for _, r := range f.Require {
		if r.Mod.Path == controllerTools {
			version = r.Mod.Version
		}
	}
	if version == "" {
		return ""
	}
	for _, r := range f.Replace {
		if r.Old.Path == controllerTools && (r.Old.Version == "" || r.Old.Version == version) && r.New.Path == controllerTools && r.New.Version != "" {
			return r.New.Version
		}
	}
	return version
}
