// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/gomodule"
	"github.com/diagkit/diagkit/generator/gosource"
	"github.com/diagkit/diagkit/generator/makefile"
	"github.com/diagkit/diagkit/generator/manifest"
	"github.com/diagkit/diagkit/generator/rbacrole"
)

// Module paths whose versions decide what the generator can do.
const (
	controllerRuntimeModule = "sigs.k8s.io/controller-runtime"
	clusterAPIModule        = "sigs.k8s.io/cluster-api"
	// minControllerRuntime added ctrl.Options.Metrics and the metrics server filters.
	minControllerRuntime = "v0.16.0"
	// minClusterAPI added util/flags.AddManagerOptions/GetManagerOptions.
	minClusterAPI = "v1.8.0"
)

// Default file locations of a kubebuilder layout.
const (
	DefaultManagerManifest = "config/manager/manager.yaml"
	DefaultRoleDir         = "config/rbac"
	DefaultRoleName        = "manager-role"
)

// DetectOptions overrides what Detect would find by itself.
type DetectOptions struct {
	// Main is the file that creates the manager, relative to the repository.
	Main string
	// Partial accepts a manager whose options retrofit could not patch (already served securely some
	// other way, for example): Target.Manager then holds what the analysis found and ManagerErr why it
	// stopped. For readers such as diagkit check; Retrofit needs a complete analysis.
	Partial bool
}

// Target is a read-only snapshot of a repository and the facts found in it.
type Target struct {
	Root string

	Module            *gomodule.Module
	GoVersion         string
	ControllerRuntime string
	ClusterAPI        string // "" when not required
	ClusterAPIReplace string // a fork replacing it, if any

	MainPackage *gosource.Package
	Manager     *gosource.Manager
	// ManagerErr is why the analysis of the manager stopped early (only with DetectOptions.Partial).
	ManagerErr error

	Makefile             string // "" when there is none
	ControllerGenVersion string
	RBAC                 *makefile.RBAC

	ManagerManifest string
	Container       *manifest.Container
	// ProxyPatches are files under config/ that add a kube-rbac-proxy sidecar.
	ProxyPatches []string
	RolePath     string
	RoleName     string
	Role         *rbacrole.Role

	files map[string]snapshot
}

type snapshot struct {
	data []byte
	hash [32]byte
}

// Detect reads the repository at root.
func Detect(root string, opts DetectOptions) (*Target, error) {
	t := &Target{Root: root, files: map[string]snapshot{}}
	gomod, err := t.read("go.mod")
	if err != nil {
		return nil, fmt.Errorf("%s is not a Go module root: %w", root, err)
	}
	if t.Module, err = gomodule.Parse("go.mod", gomod); err != nil {
		return nil, err
	}
	t.GoVersion = t.Module.GoVersion()
	cr, _, ok := t.Module.Version(controllerRuntimeModule)
	if !ok {
		return nil, &edit.PositionError{File: "go.mod", Expected: "a requirement of " + controllerRuntimeModule, Found: "none"}
	}
	t.ControllerRuntime = cr
	if semver.Compare(cr, minControllerRuntime) < 0 {
		return t, edit.Refusedf("controller-runtime %s has no Metrics server options (ctrl.Options.MetricsBindAddress was replaced by Metrics in %s); upgrade to controller-runtime %s or later first",
			cr, minControllerRuntime, minControllerRuntime)
	}
	t.ClusterAPI, t.ClusterAPIReplace, _ = t.Module.Version(clusterAPIModule)

	mainFile := opts.Main
	if mainFile == "" {
		if mainFile, err = findManager(root); err != nil {
			return nil, err
		}
	}
	mainFile = filepath.ToSlash(filepath.Clean(mainFile))
	if t.MainPackage, err = gosource.LoadPackage(root, path.Dir(mainFile)); err != nil {
		return nil, fmt.Errorf("load the manager's package: %w", err)
	}
	var file *gosource.File
	for _, f := range t.MainPackage.Files {
		t.keep(f.Path, f.Src)
		if f.Path == mainFile {
			file = f
		}
	}
	if file == nil {
		return nil, fmt.Errorf("%s: no such Go file", mainFile)
	}
	calls := gosource.FindManagerCall(file)
	if len(calls) != 1 {
		return nil, &edit.PositionError{File: mainFile, Expected: "one ctrl.NewManager call", Found: fmt.Sprint(len(calls))}
	}
	commands, err := commandPackages(root, t.MainPackage.Dir)
	if err != nil {
		return nil, err
	}
	if t.Manager, err = gosource.Analyze(t.MainPackage, file, calls[0], commands...); err != nil {
		if !opts.Partial {
			return nil, err
		}
		t.ManagerErr = err
	}

	if src, err := t.read("Makefile"); err == nil {
		t.Makefile = "Makefile"
		tools := makefile.Parse("Makefile", src)
		t.ControllerGenVersion, t.RBAC = tools.ControllerGenVersion, tools.RBAC
	}
	roleDir := DefaultRoleDir
	t.RoleName = DefaultRoleName
	if t.RBAC != nil {
		roleDir = t.RBAC.OutputDir
		if t.RBAC.RoleName != "" {
			t.RoleName = t.RBAC.RoleName
		}
	}
	t.RolePath = path.Join(roleDir, "role.yaml")
	if src, err := t.read(t.RolePath); err == nil {
		if t.Role, err = rbacrole.ParseRole(t.RolePath, src, t.RoleName); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if src, err := t.read(DefaultManagerManifest); err == nil {
		t.ManagerManifest = DefaultManagerManifest
		if t.Container, err = manifest.Find(t.ManagerManifest, src); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	t.ProxyPatches = findProxyPatches(root)
	return t, nil
}

// findProxyPatches lists the YAML files under config/ that mention a kube-rbac-proxy container.
func findProxyPatches(root string) []string {
	var found []string
	_ = filepath.WalkDir(filepath.Join(root, "config"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return nil
		}
		if src, err := os.ReadFile(p); err == nil && bytes.Contains(src, []byte("kube-rbac-proxy")) && bytes.Contains(src, []byte("containers:")) {
			rel, _ := filepath.Rel(root, p)
			found = append(found, filepath.ToSlash(rel))
		}
		return nil
	})
	return found
}

// read reads a file into the snapshot.
func (t *Target) read(rel string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(t.Root, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	t.keep(rel, data)
	return data, nil
}

func (t *Target) keep(rel string, data []byte) {
	t.files[rel] = snapshot{data: data, hash: sha256.Sum256(data)}
}

// walkGoFiles calls fn with the slash path of every non-test Go file of the module at root, skipping
// vendor, testdata, hidden and underscore directories and nested modules, as the go command does.
func walkGoFiles(root string, fn func(rel string) error) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (name == "vendor" || name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || exists(filepath.Join(p, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		return fn(filepath.ToSlash(rel))
	})
}

// commandPackages loads the module's main packages other than skip: where a manager wrapper's options
// may be filled in.
func commandPackages(root, skip string) ([]*gosource.Package, error) {
	dirs := map[string]bool{}
	err := walkGoFiles(root, func(rel string) error {
		if dir := path.Dir(rel); dir != skip && !dirs[dir] {
			src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
			if err != nil {
				return err
			}
			if !bytes.Contains(src, []byte("\nfunc main()")) {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), rel, src, parser.PackageClauseOnly)
			if err == nil && f.Name.Name == "main" {
				dirs[dir] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var pkgs []*gosource.Package
	for _, dir := range slices.Sorted(maps.Keys(dirs)) {
		p, err := gosource.LoadPackage(root, dir)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", dir, err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// findManager returns the one non-test Go file of the module that creates a controller-runtime manager.
func findManager(root string) (string, error) {
	var found []string
	err := walkGoFiles(root, func(rel string) error {
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		// ctrl.NewManager, or New of controller-runtime's manager package under any import name.
		if err != nil || !bytes.Contains(src, []byte("NewManager(")) && !bytes.Contains(src, []byte(`"sigs.k8s.io/controller-runtime/pkg/manager"`)) {
			return err
		}
		f, err := gosource.ParseSource(rel, src)
		if err != nil {
			return err
		}
		if len(gosource.FindManagerCall(f)) > 0 {
			found = append(found, f.Path)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(found)
	switch len(found) {
	case 0:
		return "", edit.Refusedf("no ctrl.NewManager call found in %s (pass --main if it is hidden)", root)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("several files create a manager (%s); choose one with --main", strings.Join(found, ", "))
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Describe writes what Detect found, one fact per line.
func (t *Target) Describe(w *strings.Builder) {
	line := func(k, v string) {
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(w, "%-24s %s\n", k+":", v)
	}
	line("module", t.Module.File.Module.Mod.Path)
	line("go", t.GoVersion)
	line("controller-runtime", t.ControllerRuntime)
	capi := t.ClusterAPI
	if t.ClusterAPIReplace != "" {
		capi += " (replaced by " + t.ClusterAPIReplace + ")"
	}
	line("cluster-api", capi)
	if m := t.Manager; m != nil {
		line("main", fmt.Sprintf("%s:%d (%s)", m.File.Path, m.File.Line(m.Call.Pos()), m.Func.Name.Name))
		line("options", m.OptionsStyle())
		if m.Retrofitted {
			line("metrics", "already served from diagnostics options")
		} else {
			r := m.Registration
			line("flags", fmt.Sprintf("%s, --%s registered at %s:%d", r.Library, r.FlagName, r.File.Path, r.File.Line(r.Call.Pos())))
			line("metrics", fmt.Sprintf("--%s (default %q) into %s", r.FlagName, r.Default, m.File.Text(m.BindAddress)))
		}
	}
	line("controller-gen", t.ControllerGenVersion)
	if t.RBAC != nil {
		line("rbac generation", fmt.Sprintf("%s:%d paths=%s role %s → %s", t.RBAC.Path, t.RBAC.Line, strings.Join(t.RBAC.Paths, ","), t.RoleName, t.RBAC.OutputDir))
	} else {
		line("rbac generation", "")
	}
	if t.Role != nil {
		line("role", fmt.Sprintf("%s (%s, %d rules)", t.RolePath, t.Role.Name, len(t.Role.Rules)))
	} else {
		line("role", "")
	}
	if t.Container != nil {
		line("manager manifest", fmt.Sprintf("%s (deployment %s, container %s)", t.ManagerManifest, t.Container.Deployment, t.Container.Name))
	} else {
		line("manager manifest", "")
	}
}
