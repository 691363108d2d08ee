// SPDX-License-Identifier: Apache-2.0

package kustomization

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Tree is every kustomization under a repository's config/ directory.
type Tree struct {
	Root string
	// Dirs are the kustomization directories, slash-separated and relative to Root, sorted.
	Dirs []string
	// referenced are the files (slash paths relative to Root) some kustomization names as a resource,
	// patch or component file.
	referenced map[string]bool
	// errs are the kustomizations that could not be read, by directory.
	errs map[string]error
	// overlay holds files read instead of the disk's, by slash path relative to Root.
	overlay map[string][]byte
}

// Read finds the kustomizations under root/config, skipping test data and hidden directories.
func Read(root string) (*Tree, error) { return ReadOverlay(root, nil) }

// ReadOverlay is Read with the files overlay holds (slash paths relative to root) read from it instead
// of the disk, now and in every Render: the tree as an earlier plan leaves it.
func ReadOverlay(root string, overlay map[string][]byte) (*Tree, error) {
	t := &Tree{Root: root, referenced: map[string]bool{}, errs: map[string]error{}, overlay: overlay}
	err := filepath.WalkDir(filepath.Join(root, "config"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "testdata" || strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !slices.Contains(konfig.RecognizedKustomizationFileNames(), d.Name()) {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		dir := filepath.ToSlash(rel)
		t.Dirs = append(t.Dirs, dir)
		k, err := t.readKustomization(p)
		if err != nil {
			t.errs[dir] = err
			return nil
		}
		for _, f := range referencedFiles(k) {
			t.referenced[path.Clean(path.Join(dir, f))] = true
		}
		return nil
	})
	slices.Sort(t.Dirs)
	return t, err
}

func (t *Tree) readKustomization(file string) (*types.Kustomization, error) {
	rel, _ := filepath.Rel(t.Root, file)
	src, ok := t.overlay[filepath.ToSlash(rel)]
	if !ok {
		var err error
		if src, err = os.ReadFile(file); err != nil {
			return nil, err
		}
	}
	var k types.Kustomization
	if err := yaml.Unmarshal(src, &k); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	k.FixKustomization()
	return &k, nil
}

// referencedFiles are the paths a kustomization names, relative to its directory: directories among
// them (bases) name no file and are harmless.
func referencedFiles(k *types.Kustomization) []string {
	files := slices.Clone(k.Resources)
	files = append(files, k.Components...)
	files = append(files, k.Crds...)
	files = append(files, k.Configurations...)
	for _, p := range k.Patches {
		if p.Path != "" {
			files = append(files, p.Path)
		}
	}
	// Deprecated fields are read on purpose: the repositories diagkit retrofits still use them, and
	// FixKustomization leaves them where they are.
	//lint:ignore SA1019 see above
	for _, p := range k.PatchesStrategicMerge {
		if s := string(p); !strings.Contains(s, "\n") {
			files = append(files, s)
		}
	}
	//lint:ignore SA1019 see above
	for _, p := range k.PatchesJson6902 {
		if p.Path != "" {
			files = append(files, p.Path)
		}
	}
	return files
}

// Files are the files the tree's kustomizations name, sorted (bases, which are directories, among them).
func (t *Tree) Files() []string { return slices.Sorted(maps.Keys(t.referenced)) }

// Referenced reports whether some kustomization of the tree names the file (slash path relative to
// Root). A file no kustomization names reaches no cluster through config/.
func (t *Tree) Referenced(file string) bool { return t.referenced[path.Clean(file)] }

// Render is `kustomize build --load-restrictor LoadRestrictionsNone` of dir, reading the files of
// overlay (slash paths relative to Root), and those of the tree's own overlay, from them instead of the
// disk. It returns the objects as one YAML stream.
func (t *Tree) Render(dir string, overlay map[string][]byte) ([]byte, error) {
	if err := t.errs[dir]; err != nil {
		return nil, err
	}
	root, err := filepath.Abs(t.Root)
	if err != nil {
		return nil, err
	}
	fsys := overlayFS{FileSystem: filesys.MakeFsOnDisk(), files: map[string][]byte{}}
	for _, o := range []map[string][]byte{t.overlay, overlay} {
		for rel, data := range o {
			fsys.files[filepath.Join(root, filepath.FromSlash(rel))] = data
		}
	}
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsNone
	restore := quietStderr()
	m, err := krusty.MakeKustomizer(opts).Run(fsys, filepath.Join(root, filepath.FromSlash(dir)))
	restore()
	if err != nil {
		return nil, err
	}
	return m.AsYaml()
}

// stderrMu serialises renders while os.Stderr is swapped.
var stderrMu sync.Mutex

// quietStderr points os.Stderr at the null device until the returned func runs: krusty prints a
// "# Warning: … is deprecated" line per deprecated field straight to os.Stderr, and diagkit renders
// every kustomization several times, so a repository written for kustomize v3 would bury its output.
func quietStderr() (restore func()) {
	stderrMu.Lock()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		stderrMu.Unlock()
		return func() {}
	}
	saved := os.Stderr
	os.Stderr = null
	return func() {
		os.Stderr = saved
		null.Close()
		stderrMu.Unlock()
	}
}

// overlayFS is the disk with some files' contents replaced.
type overlayFS struct {
	filesys.FileSystem
	files map[string][]byte // by absolute path
}

func (o overlayFS) ReadFile(p string) ([]byte, error) {
	if data, ok := o.files[filepath.Clean(p)]; ok {
		return data, nil
	}
	return o.FileSystem.ReadFile(p)
}

func (o overlayFS) Open(p string) (filesys.File, error) {
	if _, ok := o.files[filepath.Clean(p)]; ok {
		return nil, fmt.Errorf("open %s: read it with ReadFile", p)
	}
	return o.FileSystem.Open(p)
}
