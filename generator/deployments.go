// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/diagkit/diagkit/generator/gobuild"
	"github.com/diagkit/diagkit/generator/manifest"
)

// binaries returns the names of the binaries the repository builds from the package in dir: the
// Makefile's go build commands and those of the Dockerfiles at the root, or else, as the go command
// names a binary, the directory's name.
func (t *Target) binaries(dir string) []string {
	var builds []gobuild.Build
	if t.Make != nil {
		builds = append(builds, t.Make.GoBuilds...)
	}
	for _, file := range t.dockerfiles() {
		if src, err := t.readFile(file); err == nil {
			builds = append(builds, gobuild.FromDockerfile(file, src)...)
		}
	}
	var names []string
	for _, b := range builds {
		if name := b.Binary(); name != "" && b.Builds(dir, t.Module.File.Module.Mod.Path) && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	if len(names) == 0 && dir != "." {
		names = append(names, path.Base(dir))
	}
	return names
}

// dockerfiles are the repository's top-level Dockerfile, Dockerfile.* and *.Dockerfile.
func (t *Target) dockerfiles() []string {
	entries, err := os.ReadDir(t.Root)
	if err != nil {
		return nil
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && (name == "Dockerfile" || strings.HasPrefix(name, "Dockerfile.") || strings.HasSuffix(name, ".Dockerfile")) {
			files = append(files, filepath.ToSlash(name))
		}
	}
	return files
}

// runningContainer returns the container, in the YAML files the kustomizations name (and manager.yaml),
// whose command — or first argument, without one — runs a binary built from the package in dir; nil
// when none or several Deployments do. Of several, the one in manager.yaml wins.
func (t *Target) runningContainer(dir string) *manifest.Container {
	binaries := t.binaries(dir)
	files := slices.Clone(t.Kustomize.Files())
	if !slices.Contains(files, DefaultManagerManifest) {
		files = append(files, DefaultManagerManifest)
	}
	var found []*manifest.Container
	for _, rel := range files {
		if !isYAML(rel) {
			continue
		}
		src, err := t.readFile(rel)
		if err != nil {
			continue
		}
		containers, err := manifest.FindAll(rel, src)
		if err != nil {
			continue // not a file of Deployments; retrofit reads the one it patches and reports its errors
		}
		for _, c := range containers {
			if runs(c, binaries) {
				found = append(found, c)
			}
		}
	}
	if len(found) > 1 {
		i := slices.IndexFunc(found, func(c *manifest.Container) bool { return c.Path == DefaultManagerManifest })
		if i < 0 {
			return nil
		}
		found = found[i : i+1]
	}
	if len(found) == 0 {
		return nil
	}
	return found[0]
}

// runs says whether the container runs one of binaries: its command's, or else its first argument's
// name when that is no flag; with neither, its image's name (fluxcd/source-controller runs the
// source-controller its Dockerfile builds and makes the entrypoint).
func runs(c *manifest.Container, binaries []string) bool {
	if entry := c.Command(); len(entry) > 0 {
		return slices.Contains(binaries, path.Base(entry[0]))
	}
	if args := c.Args(); len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return slices.Contains(binaries, path.Base(args[0]))
	}
	return slices.Contains(binaries, imageName(c.Image()))
}

// imageName is the last element of an image reference's repository: registry, tag and digest dropped.
func imageName(image string) string {
	image, _, _ = strings.Cut(image, "@")
	name := path.Base(image)
	if i := strings.LastIndex(name, ":"); i >= 0 {
		name = name[:i]
	}
	return name
}
