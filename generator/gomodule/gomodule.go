// SPDX-License-Identifier: Apache-2.0

package gomodule

import (
	"bytes"
	"fmt"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/diagkit/diagkit/generator/edit"
)

// Module is a parsed go.mod.
type Module struct {
	Path string
	Src  []byte
	File *modfile.File
}

// Parse parses the go.mod at path.
func Parse(path string, src []byte) (*Module, error) {
	f, err := modfile.Parse(path, src, nil)
	if err != nil {
		return nil, &edit.PositionError{File: path, Expected: "a valid go.mod", Found: err.Error()}
	}
	return &Module{Path: path, Src: src, File: f}, nil
}

// Version returns the version of mod the build uses: a version replace wins over the requirement; a
// replace by a directory leaves the required version. ok is false when mod is not required.
func (m *Module) Version(mod string) (version, replacedBy string, ok bool) {
	for _, r := range m.File.Require {
		if r.Mod.Path == mod {
			version, ok = r.Mod.Version, true
		}
	}
	for _, r := range m.File.Replace {
		if r.Old.Path == mod && (r.Old.Version == "" || r.Old.Version == version) {
			replacedBy = r.New.Path
			if r.New.Version != "" {
				version, ok = r.New.Version, true
				if r.New.Path != mod {
					replacedBy = r.New.Path + "@" + r.New.Version
				} else {
					replacedBy = ""
				}
			}
		}
	}
	return version, replacedBy, ok
}

// GoVersion returns the go directive.
func (m *Module) GoVersion() string {
	if m.File.Go == nil {
		return ""
	}
	return m.File.Go.Version
}

// Require returns the file with a requirement of mod at version added, or the file unchanged when mod is
// already required.
func (m *Module) Require(mod, version string) ([]byte, error) {
	if _, _, ok := m.Version(mod); ok {
		return m.Src, nil
	}
	f, err := modfile.Parse(m.Path, m.Src, nil)
	if err != nil {
		return nil, err
	}
	// A direct requirement goes into the first block of direct requirements, not the indirect one.
	reqs := []*modfile.Require{{Mod: module.Version{Path: mod, Version: version}}}
	for _, r := range f.Require {
		reqs = append(reqs, &modfile.Require{Mod: r.Mod, Indirect: r.Indirect})
	}
	f.SetRequireSeparateIndirect(reqs)
	f.Cleanup()
	out, err := f.Format()
	if err != nil {
		return nil, fmt.Errorf("%s: format: %w", m.Path, err)
	}
	if bytes.Equal(out, m.Src) {
		return m.Src, nil
	}
	return out, nil
}
