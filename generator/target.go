// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/gomodule"
	"github.com/diagkit/diagkit/generator/gosource"
	"github.com/diagkit/diagkit/generator/helmchart"
	"github.com/diagkit/diagkit/generator/kustomization"
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
	// Describe goes on whatever it cannot analyse about the manager — not found, several, a shape retrofit
	// does not know — so that diagkit detect can print everything else: Target.ManagerErr says why.
	Describe bool
	// Manifest is the file of the Deployment that runs the manager, relative to the repository. Empty
	// chooses the one whose container runs the binary the Makefile or a Dockerfile builds from the
	// manager's package, or else config/manager/manager.yaml.
	Manifest string

	// overlay holds files as an earlier plan leaves them (by slash path relative to the repository),
	// read instead of the disk: RetrofitRepository plans each manager on top of the ones before.
	overlay map[string][]byte
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
	// RBACOthers are the other invocations that write the same role (a test target's, say).
	RBACOthers []*makefile.RBAC
	// Make is the parsed Makefile (nil without one).
	Make *makefile.Tools

	ManagerManifest string
	Container       *manifest.Container
	// ProxyPatches are files under config/ that add a kube-rbac-proxy sidecar.
	ProxyPatches []string
	RolePath     string
	RoleName     string
	Role         *rbacrole.Role

	// Kustomize is the repository's kustomize tree under config/ (nil without one); Charts the
	// directories of its Helm charts.
	Kustomize *kustomization.Tree
	Charts    []string
	// Deployed is the manager as each kustomization deploys it, by directory: only the trees that render
	// and hold the manager's Deployment.
	Deployed map[string]*kustomization.Deployed
	// rendered is what each kustomization that renders built to, as Detect read the repository.
	rendered map[string][]byte

	files   map[string]snapshot
	overlay map[string][]byte
	rbacErr error
	index   *moduleIndex
	markers []MarkerPackage
}

type snapshot struct {
	data []byte
}

// Detect reads the repository at root.
func Detect(root string, opts DetectOptions) (*Target, error) {
	t := &Target{Root: root, files: map[string]snapshot{}, overlay: opts.overlay}
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
	var refused error
	if semver.Compare(cr, minControllerRuntime) < 0 {
		refused = edit.Refusedf("controller-runtime %s has no Metrics server options (ctrl.Options.MetricsBindAddress was replaced by Metrics in %s); upgrade to controller-runtime %s or later first",
			cr, minControllerRuntime, minControllerRuntime)
		if !opts.Describe {
			return t, refused
		}
	}
	t.ClusterAPI, t.ClusterAPIReplace, _ = t.Module.Version(clusterAPIModule)

	if t.index, err = indexModule(root, t.Module.File.Module.Mod.Path, t.overlay); err != nil {
		return nil, fmt.Errorf("read the module's Go files: %w", err)
	}
	if err := t.detectManager(opts); err != nil {
		if !opts.Describe {
			return nil, err
		}
		t.ManagerErr = err
	}

	if err := t.detectRBAC(); err != nil {
		if !opts.Describe {
			return nil, err
		}
		t.rbacErr = err // printed, and returned once everything else is read
	}
	if t.Kustomize, err = kustomization.ReadOverlay(root, t.overlay); err != nil {
		return nil, err
	}
	if err := t.detectManifest(opts.Manifest); err != nil {
		return nil, err
	}
	// Only files a kustomization names deploy anything: a sidecar patch mentioned only in a comment does not.
	if t.ProxyPatches, err = t.findProxyPatches(); err != nil {
		return nil, err
	}
	if t.Charts, err = helmchart.Find(root); err != nil {
		return nil, err
	}
	t.rendered = renderTrees(t.Kustomize)
	if t.Deployed, err = deployedTrees(t.rendered, t.Container); err != nil {
		return nil, err
	}
	if refused == nil {
		refused = t.rbacErr
	}
	return t, refused
}

// detectManifest finds the manager's container: in the file given, or in the one whose container runs
// the binary built from the manager's package, or in config/manager/manager.yaml.
func (t *Target) detectManifest(file string) error {
	var running *manifest.Container
	if file == "" && t.MainPackage != nil {
		running = t.runningContainer(t.MainPackage.Dir)
	}
	switch {
	case running != nil:
		file = running.Path
	case file == "":
		file = DefaultManagerManifest
	}
	src, err := t.read(file)
	if errors.Is(err, fs.ErrNotExist) && file == DefaultManagerManifest {
		return nil // no manifest to patch: retrofit says so
	}
	if err != nil {
		return fmt.Errorf("the manager's manifest: %w", err)
	}
	t.ManagerManifest = file
	if running != nil {
		t.Container, err = manifest.FindNamed(file, src, running.Deployment, running.Name)
	} else {
		t.Container, err = manifest.Find(file, src)
	}
	return err
}

// renderTrees builds every kustomization once, keeping the output of those that render.
func renderTrees(tree *kustomization.Tree) map[string][]byte {
	rendered := map[string][]byte{}
	for _, dir := range tree.Dirs {
		if out, err := tree.Render(dir, nil); err == nil {
			rendered[dir] = out
		} // a tree that does not render deploys nothing diagkit can judge
	}
	return rendered
}

// deployedTrees keeps the rendered trees that deploy the manager container c.
func deployedTrees(rendered map[string][]byte, c *manifest.Container) (map[string]*kustomization.Deployed, error) {
	deployed := map[string]*kustomization.Deployed{}
	if c == nil {
		return deployed, nil
	}
	for dir, out := range rendered {
		d, err := kustomization.FindDeployed(out, c.Deployment, c.Name)
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
		}
		if d != nil {
			deployed[dir] = d
		}
	}
	return deployed, nil
}

// detectManager finds the manager's file and package and analyses the ctrl.NewManager call.
func (t *Target) detectManager(opts DetectOptions) error {
	mainFile := opts.Main
	if mainFile == "" {
		var err error
		found, err := t.findManagers()
		if err != nil {
			return err
		}
		if len(found) > 1 {
			return &SeveralManagersError{Files: found}
		}
		mainFile = found[0]
	}
	mainFile = filepath.ToSlash(filepath.Clean(mainFile))
	pkg, err := gosource.LoadPackageOverlay(t.Root, path.Dir(mainFile), t.overlay)
	if err != nil {
		return fmt.Errorf("load the manager's package: %w", err)
	}
	t.MainPackage = pkg
	var file *gosource.File
	for _, f := range t.MainPackage.Files {
		t.keep(f.Path, f.Src)
		if f.Path == mainFile {
			file = f
		}
	}
	if file == nil {
		return fmt.Errorf("%s: no such Go file", mainFile)
	}
	calls := gosource.FindManagerCall(file)
	if len(calls) != 1 {
		return &edit.PositionError{File: mainFile, Expected: "one ctrl.NewManager call", Found: fmt.Sprint(len(calls))}
	}
	commands, err := t.commandPackages(t.MainPackage.Dir)
	if err != nil {
		return err
	}
	if t.Manager, err = gosource.Analyze(t.MainPackage, file, calls[0], commands...); err != nil {
		if !opts.Partial && !opts.Describe {
			return err
		}
		t.ManagerErr = err
	}
	return nil
}

// overlays are the rendered trees that deploy the manager, except manager.yaml's own directory: the
// overlays a cluster receives (config/default and its siblings).
func (t *Target) overlays() []*kustomization.Deployed {
	var ds []*kustomization.Deployed
	for _, dir := range slices.Sorted(maps.Keys(t.Deployed)) {
		if t.ManagerManifest == "" || dir != path.Dir(t.ManagerManifest) {
			ds = append(ds, t.Deployed[dir])
		}
	}
	return ds
}

// OverlaysServeDiagnostics says whether every overlay deploying the manager already passes the
// diagnostics address, declares its port and runs no kube-rbac-proxy: the manifests are done, whatever
// manager.yaml alone says (Nutanix sets the args in a config/default patch).
func (t *Target) OverlaysServeDiagnostics() bool {
	ds := t.overlays()
	for _, d := range ds {
		if ok, _ := d.ServesDiagnostics(); !ok {
			return false
		}
	}
	return len(ds) > 0
}

// overlaysPassAddress says whether every overlay deploying the manager passes the diagnostics address.
func (t *Target) overlaysPassAddress() bool {
	ds := t.overlays()
	for _, d := range ds {
		if _, _, ok := d.Manager.Arg(manifest.AddressFlag, true); !ok {
			return false
		}
	}
	return len(ds) > 0
}

// addressFromOverlays says whether every overlay deploying the manager passes the diagnostics address
// while manager.yaml does not: a patch of theirs adds it (kubebuilder v4's metrics patch, which targets
// every Deployment, rewritten for the manager planned before this one).
func (t *Target) addressFromOverlays() bool {
	if t.Container == nil {
		return false
	}
	if _, _, ok := t.Container.Arg(manifest.AddressFlag, true); ok {
		return false
	}
	return t.overlaysPassAddress()
}

// OverlaysGrantReviews says whether every overlay deploying the manager binds its ServiceAccount to
// a role besides the one controller-gen writes (a kube-rbac-proxy era proxy-role, say) that grants the
// TokenReviews and SubjectAccessReviews diagnostics makes. Rules in the generated role do not count:
// the next regeneration drops them unless markers grant them.
func (t *Target) OverlaysGrantReviews() bool {
	ds := t.overlays()
	for _, d := range ds {
		var rules []rbacrole.Rule
		for name, rs := range d.Rules {
			if name != t.RoleName && !strings.HasSuffix(name, "-"+t.RoleName) {
				rules = append(rules, rs...)
			}
		}
		if !rbacrole.Grants(rules, rbacrole.DiagnosticsRules) {
			return false
		}
	}
	return len(ds) > 0
}

// AccountsWithoutReviews are the overlays deploying the manager whose ServiceAccount is bound neither
// to the role controller-gen writes (which the retrofit makes grant the reviews) nor to another role
// granting them: an operator's second command (a webhook server) that runs as the namespace's default
// account, say. The diagnostics endpoint of such a Deployment refuses every caller.
func (t *Target) AccountsWithoutReviews() []UnboundAccount {
	var unbound []UnboundAccount
	for _, dir := range slices.Sorted(maps.Keys(t.Deployed)) {
		d := t.Deployed[dir]
		if t.ManagerManifest != "" && dir == path.Dir(t.ManagerManifest) {
			continue // manager.yaml's own directory binds nothing: not what a cluster receives
		}
		generated := slices.ContainsFunc(d.Bound, func(name string) bool { return name == t.RoleName || strings.HasSuffix(name, "-"+t.RoleName) })
		var others []rbacrole.Rule
		for name, rs := range d.Rules {
			if name != t.RoleName && !strings.HasSuffix(name, "-"+t.RoleName) {
				others = append(others, rs...)
			}
		}
		if !generated && !rbacrole.Grants(others, rbacrole.DiagnosticsRules) {
			unbound = append(unbound, UnboundAccount{Dir: dir, Deployment: d.Manager.Deployment, ServiceAccount: d.ServiceAccount})
		}
	}
	return unbound
}

// UnboundAccount is a rendered tree whose manager runs as an account no role grants the reviews.
type UnboundAccount struct {
	Dir, Deployment, ServiceAccount string
}

// isChartFile says whether the file belongs to one of the repository's Helm charts.
func (t *Target) isChartFile(file string) bool {
	for _, dir := range t.Charts {
		if dir == "." || strings.HasPrefix(file, dir+"/") {
			return true
		}
	}
	return false
}

// findProxyPatches lists manager.yaml and the YAML files the kustomizations name that mention a
// kube-rbac-proxy container.
func (t *Target) findProxyPatches() ([]string, error) {
	files := t.Kustomize.Files()
	if t.ManagerManifest != "" && !t.Kustomize.Referenced(t.ManagerManifest) {
		files = append(files, t.ManagerManifest)
	}
	var found []string
	for _, rel := range files {
		if !isYAML(rel) {
			continue
		}
		src, err := t.readFile(rel)
		if errors.Is(err, fs.ErrNotExist) {
			continue // a kustomization naming a missing file: kustomize reports it
		}
		if err != nil {
			return nil, err
		}
		if bytes.Contains(src, []byte("kube-rbac-proxy")) && bytes.Contains(src, []byte("containers:")) {
			found = append(found, rel)
		}
	}
	return found, nil
}

// read reads a file into the snapshot.
func (t *Target) read(rel string) ([]byte, error) {
	data, err := t.readFile(rel)
	if err != nil {
		return nil, err
	}
	t.keep(rel, data)
	return data, nil
}

// readFile reads a file from the overlay or else the disk.
func (t *Target) readFile(rel string) ([]byte, error) {
	if data, ok := t.overlay[rel]; ok {
		return data, nil
	}
	return os.ReadFile(filepath.Join(t.Root, filepath.FromSlash(rel)))
}

func (t *Target) keep(rel string, data []byte) {
	t.files[rel] = snapshot{data: data}
}

// commandPackages loads the module's main packages other than skip: where a manager wrapper's options
// may be filled in.
func (t *Target) commandPackages(skip string) ([]*gosource.Package, error) {
	var pkgs []*gosource.Package
	for _, dir := range t.index.mainDirs() {
		if dir == skip {
			continue
		}
		p, err := gosource.LoadPackageOverlay(t.Root, dir, t.overlay)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", dir, err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// findManagers returns the non-test Go files that create the controller-runtime manager of a command
// of the module: in a main package, or in a package a main package links (Cluster API providers build
// theirs in pkg/manager). Of several, those nearest to a main package win; files that only tests link,
// such as an envtest harness, are never managers. Several at the same distance are the managers of
// several commands (an operator and its webhook server, say).
func (t *Target) findManagers() ([]string, error) {
	dist := t.index.distances()
	var found, unlinked []string
	nearest := -1
	for _, dir := range t.index.dirs() {
		for _, rel := range t.index.pkgs[dir].Manager {
			src, err := t.readFile(rel)
			if err != nil {
				return nil, err
			}
			f, err := gosource.ParseSource(rel, src)
			if err != nil {
				return nil, err
			}
			if len(gosource.FindManagerCall(f)) == 0 {
				continue
			}
			d, linked := dist[dir]
			switch {
			case !linked:
				unlinked = append(unlinked, rel)
			case nearest < 0 || d < nearest:
				found, nearest = []string{rel}, d
			case d == nearest:
				found = append(found, rel)
			}
		}
	}
	if len(found) == 0 {
		if len(unlinked) > 0 {
			return nil, edit.Refusedf("no command of the module creates a manager: %s create one but no main package links them (pass --main to choose one)", strings.Join(unlinked, ", "))
		}
		return nil, edit.Refusedf("no ctrl.NewManager call found in %s (pass --main if it is hidden)", t.Root)
	}
	return found, nil
}

// SeveralManagersError says that several commands create a manager and Detect was not told which one
// to read. RetrofitRepository retrofits each; detect and check describe each.
type SeveralManagersError struct {
	Files []string
}

func (e *SeveralManagersError) Error() string {
	return fmt.Sprintf("several commands create a manager (%s): retrofit and check take each in turn, or pass --main FILE[=MANIFEST] for the ones to read",
		strings.Join(e.Files, ", "))
}

// Is makes it a refusal for Detect's callers that read one manager: not an error in the repository.
func (e *SeveralManagersError) Is(target error) bool { return target == edit.ErrRefused }

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
	switch m := t.Manager; {
	case m == nil && t.ManagerErr != nil:
		line("main", "not analysed: "+t.ManagerErr.Error())
	case m != nil:
		where := "package level"
		if m.Func != nil {
			where = m.Func.Name.Name
		}
		line("main", fmt.Sprintf("%s:%d (%s)", m.File.Path, m.File.Line(m.Call.Pos()), where))
		line("options", m.OptionsStyle())
		switch r := m.Registration; {
		case m.Retrofitted:
			line("metrics", "already served from diagnostics options")
		case t.ManagerErr != nil:
			line("metrics", "not analysed: "+t.ManagerErr.Error())
		case m.Parse != nil:
			line("flags", fmt.Sprintf("%s, parsed at %s:%d", m.Parse.Library, m.Parse.File.Path, m.Parse.File.Line(m.Parse.Stmt.Pos())))
			line("metrics", "no Metrics options: controller-runtime's default, plain HTTP on :8080")
		case r != nil:
			line("flags", fmt.Sprintf("%s, --%s registered at %s:%d", r.Library, r.FlagName, r.File.Path, r.File.Line(r.Call.Pos())))
			how := "into " + m.File.Text(m.BindAddress)
			if m.Wrap {
				how += ", options wrapped in diagnostics.Apply: " + m.File.Text(m.Metrics.Value)
			}
			line("metrics", fmt.Sprintf("--%s (default %q) %s", r.FlagName, r.Default, how))
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
	} else if t.rbacErr != nil {
		line("role", "not analysed: "+t.rbacErr.Error())
	} else {
		line("role", "")
	}
	if t.Container != nil {
		line("manager manifest", fmt.Sprintf("%s (deployment %s, container %s)", t.ManagerManifest, t.Container.Deployment, t.Container.Name))
	} else {
		line("manager manifest", "")
	}
}
