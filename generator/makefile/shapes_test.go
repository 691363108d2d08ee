// SPDX-License-Identifier: Apache-2.0

package makefile

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/diagkit/diagkit/generator/edit"
)

// want is what a test expects of one invocation.
type want struct {
	target     string
	line       int
	paths      []string
	role       string
	out        string
	unresolved bool
}

func checkInvocations(t *testing.T, got []*RBAC, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		for _, r := range got {
			t.Logf("got %s:%d %s %v", r.Path, r.Line, r.Target, r.Paths)
		}
		t.Fatalf("%d invocations, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		r := got[i]
		if r.Target != w.target || r.Line != w.line || !reflect.DeepEqual(r.Paths, w.paths) || r.RoleName != w.role || r.OutputDir != w.out || r.Unresolved != w.unresolved {
			t.Errorf("invocation %d = target %q line %d paths %q role %q out %q unresolved %v\nwant       target %q line %d paths %q role %q out %q unresolved %v",
				i, r.Target, r.Line, r.Paths, r.RoleName, r.OutputDir, r.Unresolved, w.target, w.line, w.paths, w.role, w.out, w.unresolved)
		}
	}
}

func reader(files map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, fs.ErrNotExist
	}
}

// addPath applies AddPathEdit(dir) to src and returns the result.
func addPath(t *testing.T, src []byte, r *RBAC, dir string) []byte {
	t.Helper()
	e, err := r.AddPathEdit(dir)
	if err != nil {
		t.Fatalf("AddPathEdit(%s): %v", dir, err)
	}
	out, err := edit.Apply(src, []edit.Edit{e})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lineAt returns line n (1-based) of src.
func lineAt(src []byte, n int) string { return strings.Split(string(src), "\n")[n-1] }

// A CloudStack-shaped Makefile: the RBAC invocation is the recipe of a flag file rule reached from the
// phony generate-manifests, and a second one, for test fakes, comes last.
const cloudstackLike = `CONTROLLER_TOOLS_VERSION ?= v0.16.5
TOOLS_BIN_DIR := hack/tools/bin
CONTROLLER_GEN ?= $(TOOLS_BIN_DIR)/controller-gen
GEN_INPUTS = $(shell find ./api ./controllers -type f -name "*.go")

all: build test

build:
	go build ./...

.PHONY: generate-manifests
# Regenerate when the image changed.
$(shell grep -qs "$(IMG)" config/default/image_patch_edited.yaml || rm -f config/.flag.mk)
generate-manifests: config/.flag.mk ## Generate CRDs, webhooks and RBAC.
config/.flag.mk: $(CONTROLLER_GEN) $(GEN_INPUTS)
	sed -e 's@image: .*@image: '"$(IMG)"'@' config/default/image_patch.yaml > config/default/image_patch_edited.yaml
	$(CONTROLLER_GEN) crd:crdVersions=v1 rbac:roleName=manager-role webhook paths="{./api/...,./controllers/...}" output:crd:artifacts:config=config/crd/bases
	@touch config/.flag.mk

GEN_TEST_INPUTS = $(shell find ./test/fakes -type f)
$(shell mkdir -p test/fakes)
.PHONY: generate-manifest-test
generate-manifest-test: config/.flag-test.mk
config/.flag-test.mk: $(CONTROLLER_GEN) $(GEN_TEST_INPUTS)
	$(CONTROLLER_GEN) crd:crdVersions=v1 rbac:roleName=manager-role webhook paths="./test/fakes" output:crd:artifacts:config=test/fakes
	@touch $@

.PHONY: test
test: generate-manifest-test
	go test ./...
`

func TestCloudStackLikeTwoInvocations(t *testing.T) {
	src := []byte(cloudstackLike)
	tools := Parse("Makefile", src)
	checkInvocations(t, tools.Invocations, []want{
		{target: "config/.flag.mk", line: 17, paths: []string{"api/...", "controllers/..."}, role: "manager-role", out: "config/rbac"},
		{target: "config/.flag-test.mk", line: 25, paths: []string{"test/fakes"}, role: "manager-role", out: "config/rbac"},
	})
	if tools.RBAC != tools.Invocations[1] {
		t.Errorf("RBAC is not the last invocation: %+v", tools.RBAC)
	}
	if tools.ControllerGenVersion != "v0.16.5" {
		t.Errorf("version %q", tools.ControllerGenVersion)
	}

	reach := []struct {
		from, to string
		want     bool
	}{
		{"generate-manifests", "config/.flag.mk", true},
		{"generate-manifests", "config/.flag-test.mk", false},
		{"generate-manifest-test", "config/.flag-test.mk", true},
		{"test", "config/.flag-test.mk", true},
		{"all", "config/.flag-test.mk", true},
		{"all", "config/.flag.mk", false},
		{"config/.flag.mk", "hack/tools/bin/controller-gen", true},
		{"config/.flag.mk", "config/.flag.mk", true},
		{"nonexistent", "config/.flag.mk", false},
	}
	for _, tt := range reach {
		if got := tools.Reaches(tt.from, tt.to); got != tt.want {
			t.Errorf("Reaches(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
	entries := map[string]string{
		"config/.flag.mk":      "generate-manifests",
		"config/.flag-test.mk": "generate-manifest-test",
		"generate-manifests":   "generate-manifests",
		"build":                "build",
	}
	for rule, want := range entries {
		if got := tools.EntryTarget(rule); got != want {
			t.Errorf("EntryTarget(%s) = %s, want %s", rule, got, want)
		}
	}
	if !tools.Phony("generate-manifests") || tools.Phony("config/.flag.mk") {
		t.Error("phony targets wrong")
	}
	if r := tools.Rule("generate-manifests"); r == nil || r.Doc != "Generate CRDs, webhooks and RBAC." || r.Line != 14 {
		t.Errorf("rule generate-manifests = %+v", r)
	}
	wantTargets := []string{"all", "build", "generate-manifests", "config/.flag.mk", "generate-manifest-test", "config/.flag-test.mk", "test"}
	if got := tools.Targets(); !reflect.DeepEqual(got, wantTargets) {
		t.Errorf("Targets() = %q, want %q", got, wantTargets)
	}

	// Adding to the first invocation changes its line only, quoted like its paths=.
	out := addPath(t, src, tools.Invocations[0], "cmd/manager")
	if got, want := lineAt(out, 17), "\t$(CONTROLLER_GEN) crd:crdVersions=v1 rbac:roleName=manager-role webhook paths=\"{./api/...,./controllers/...}\" paths=\"./cmd/manager\" output:crd:artifacts:config=config/crd/bases"; got != want {
		t.Errorf("after AddPath:\n%s\nwant\n%s", got, want)
	}
	again := Parse("Makefile", out)
	if !again.Invocations[0].Scans("cmd/manager") || again.Invocations[1].Scans("cmd/manager") {
		t.Errorf("after AddPath: %v / %v", again.Invocations[0].Paths, again.Invocations[1].Paths)
	}
	if w, ok := WriterOf(src, "config/default/image_patch_edited.yaml"); !ok || w.Target != "config/.flag.mk" || w.Line != 16 {
		t.Errorf("WriterOf(image patch) = %+v, %v", w, ok)
	}
}

// A vSphere-shaped generate-manifests: one CRD pass and four RBAC passes in one recipe, with paths and
// output directories built from variables; only one writes config/rbac.
const vsphereLike = `MANIFEST_ROOT ?= ./config
CRD_ROOT ?= $(MANIFEST_ROOT)/crd/bases
RBAC_ROOT ?= $(MANIFEST_ROOT)/rbac
SUPERVISOR_DIR := pkg/supervisor
SUPERVISOR_RBAC_ROOT ?= $(SUPERVISOR_DIR)/config/rbac
NETOP_DIR := pkg/services/netop
NETOP_RBAC_ROOT ?= $(NETOP_DIR)/config/rbac
VMOP_RBAC_ROOT ?= $(MANIFEST_ROOT)/vmop/rbac
CONTROLLER_GEN_VER := v0.15.0
CONTROLLER_GEN_BIN := controller-gen
CONTROLLER_GEN := $(abspath hack/tools/bin/$(CONTROLLER_GEN_BIN)-$(CONTROLLER_GEN_VER))

.PHONY: generate-manifests
generate-manifests: $(CONTROLLER_GEN) ## Generate manifests e.g. CRD, RBAC etc.
	$(MAKE) clean-generated-yaml SRC_DIRS="$(CRD_ROOT)"
	$(CONTROLLER_GEN) \
		paths=./apis/... \
		crd:crdVersions=v1 \
		output:crd:dir=$(CRD_ROOT)
	$(CONTROLLER_GEN) \
		paths=./ \
		paths=./internal/controllers/... \
		output:rbac:dir=$(RBAC_ROOT) \
		rbac:roleName=manager-role
	$(CONTROLLER_GEN) \
		paths=./$(SUPERVISOR_DIR)/... \
		output:rbac:dir=$(SUPERVISOR_RBAC_ROOT) \
		rbac:roleName=supervisor-role
	$(CONTROLLER_GEN) \
		paths=./$(NETOP_DIR)/... \
		output:rbac:dir=$(NETOP_RBAC_ROOT) \
		rbac:roleName=netop-role
	$(CONTROLLER_GEN) \
		paths=./pkg/services/vmoperator/... \
		output:rbac:dir=$(VMOP_RBAC_ROOT) \
		rbac:roleName=vmop-role

.PHONY: clean-generated-yaml
clean-generated-yaml:
	rm -f $(SRC_DIRS)/*.yaml
`

func TestVSphereLikeFourInvocationsInOneRecipe(t *testing.T) {
	src := []byte(vsphereLike)
	tools := Parse("Makefile", src)
	checkInvocations(t, tools.Invocations, []want{
		{target: "generate-manifests", line: 20, paths: []string{".", "internal/controllers/..."}, role: "manager-role", out: "config/rbac"},
		{target: "generate-manifests", line: 25, paths: []string{"pkg/supervisor/..."}, role: "supervisor-role", out: "pkg/supervisor/config/rbac"},
		{target: "generate-manifests", line: 29, paths: []string{"pkg/services/netop/..."}, role: "netop-role", out: "pkg/services/netop/config/rbac"},
		{target: "generate-manifests", line: 33, paths: []string{"pkg/services/vmoperator/..."}, role: "vmop-role", out: "config/vmop/rbac"},
	})
	if tools.RBAC != tools.Invocations[3] {
		t.Errorf("RBAC = %+v, want the last invocation", tools.RBAC)
	}
	if tools.ControllerGenVersion != "v0.15.0" {
		t.Errorf("version %q", tools.ControllerGenVersion)
	}
	if !tools.Reaches("generate-manifests", "clean-generated-yaml") || !tools.Reaches("generate-manifests", "hack/tools/bin/controller-gen-v0.15.0") {
		t.Errorf("generate-manifests reaches %+v", tools.Rule("generate-manifests"))
	}

	// The supervisor pass takes paths from a variable inside a literal paths= argument.
	out := addPath(t, src, tools.Invocations[1], "cmd/supervisor")
	if !Parse("Makefile", out).Invocations[1].Scans("cmd/supervisor") {
		t.Errorf("after AddPath:\n%s", out)
	}
	if _, err := tools.Invocations[1].AddPathEdit("pkg/supervisor/api"); !errors.Is(err, ErrCannotAddPath) {
		t.Errorf("AddPathEdit of a scanned package: %v, want ErrCannotAddPath", err)
	}
	if got, want := lineAt(out, 26), "\t\tpaths=./$(SUPERVISOR_DIR)/... paths=./cmd/supervisor \\"; got != want {
		t.Errorf("line 26 = %q, want %q", got, want)
	}
}

func TestArgumentsFromVariables(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []want
		// AddPathEdit("cmd") on the last invocation: the line it should leave, or "" for an error.
		addLine int
		added   string
	}{
		{
			name: "paths list in a variable",
			src: "CONTROLLER_GEN_PATHS := paths=./controllers/... paths=./\n" +
				"manifests:\n\t@$(CONTROLLER_GEN) rbac:roleName=manager-role $(CONTROLLER_GEN_PATHS) output:rbac:dir=config/rbac\n",
			want:    []want{{target: "manifests", line: 3, paths: []string{"controllers/...", "."}, role: "manager-role", out: "config/rbac"}},
			addLine: 3,
			added:   "\t@$(CONTROLLER_GEN) rbac:roleName=manager-role $(CONTROLLER_GEN_PATHS) paths=./cmd output:rbac:dir=config/rbac",
		},
		{
			name: "every argument in a recursive variable, quoted paths",
			src: "RBAC_ARGS = rbac:roleName=$(ROLE) paths=\"./api/...\" output:rbac:dir=$(OUT)\nROLE = operator-role\nOUT = deploy/rbac\n" +
				"rbac:\n\t-$(CONTROLLER_GEN_BIN) $(RBAC_ARGS)\n",
			want:    []want{{target: "rbac", line: 5, paths: []string{"api/..."}, role: "operator-role", out: "deploy/rbac"}},
			addLine: 5,
			added:   "\t-$(CONTROLLER_GEN_BIN) $(RBAC_ARGS) paths=\"./cmd\"",
		},
		{
			name: "a directory variable inside paths=",
			src: "EXP_DIR ?= exp\n" +
				"generate-rbac:\n\t+controller-gen rbac:roleName=manager-role paths=./controllers/... paths=./$(EXP_DIR)/controllers/...\n",
			want:    []want{{target: "generate-rbac", line: 3, paths: []string{"controllers/...", "exp/controllers/..."}, role: "manager-role", out: "config/rbac"}},
			addLine: 3,
			added:   "\t+controller-gen rbac:roleName=manager-role paths=./controllers/... paths=./$(EXP_DIR)/controllers/... paths=./cmd",
		},
		{
			name:    "go run with a version, several commands on the line",
			src:     "manifests:\n\tmkdir -p config/rbac && go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.14.0 rbac:roleName=r paths=./internal/... ; echo done\n",
			want:    []want{{target: "manifests", line: 2, paths: []string{"internal/..."}, role: "r", out: "config/rbac"}},
			addLine: 2,
			added:   "\tmkdir -p config/rbac && go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.14.0 rbac:roleName=r paths=./internal/... paths=./cmd ; echo done",
		},
		{
			name: "a cd before the command",
			src:  "manifests:\n\tcd operator && $(CONTROLLER_GEN) rbac:roleName=r paths=./controllers/... output:rbac:dir=config/rbac\n",
			want: []want{{target: "manifests", line: 2, paths: []string{"operator/controllers/..."}, role: "r", out: "operator/config/rbac"}},
			// cmd is outside operator/: it cannot be added.
		},
		{
			name: "a cd before the command, default output",
			src:  "manifests:\n\t(cd operator; controller-gen rbac:roleName=r paths=./...) && controller-gen rbac:roleName=s paths=./api/...\n",
			want: []want{
				{target: "manifests", line: 2, paths: []string{"operator/..."}, role: "r", out: "operator/config/rbac"},
				{target: "manifests", line: 2, paths: []string{"api/..."}, role: "s", out: "config/rbac"}, // the subshell's cd is over
			},
			addLine: 2,
			added:   "\t(cd operator; controller-gen rbac:roleName=r paths=./...) && controller-gen rbac:roleName=s paths=./api/... paths=./cmd",
		},
		{
			name: "a reference that does not expand",
			src:  "manifests:\n\t$(CONTROLLER_GEN) rbac:roleName=r paths=./$(API_DIR)/... $(EXTRA_ARGS)\n",
			want: []want{{target: "manifests", line: 2, paths: []string{"./$(API_DIR)/..."}, role: "r", out: "config/rbac", unresolved: true}},
			// Appending stays well-formed even though the paths did not expand.
			addLine: 2,
			added:   "\t$(CONTROLLER_GEN) rbac:roleName=r paths=./$(API_DIR)/... paths=./cmd $(EXTRA_ARGS)",
		},
		{
			name: "paths only from a variable that does not expand",
			src:  "manifests:\n\t$(CONTROLLER_GEN) rbac:roleName=r $(GEN_PATHS)\n",
			want: []want{{target: "manifests", line: 2, role: "r", out: "config/rbac", unresolved: true}},
		},
		{
			name: "a comment after the command, not an RBAC pass, a CRD pass",
			src: "manifests:\n\t$(CONTROLLER_GEN) crd paths=./api/... output:crd:dir=config/crd # no rbac: here\n" +
				"\t$(CONTROLLER_GEN) rbac:roleName=r paths=./... # rbac:roleName=other paths=./x\n",
			want: []want{{target: "manifests", line: 3, paths: []string{"./..."}, role: "r", out: "config/rbac"}},
			// ./... scans cmd already: nothing to add.
		},
		{
			// Found by FuzzParse: what follows the reference runs after the command, not in it.
			name: "paths from a variable whose value ends the command",
			src:  "GEN_PATHS = paths=./api/... && echo done\nmanifests:\n\t$(CONTROLLER_GEN) rbac:roleName=r $(GEN_PATHS)\n",
			want: []want{{target: "manifests", line: 3, paths: []string{"api/..."}, role: "r", out: "config/rbac"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := []byte(tt.src)
			tools := Parse("Makefile", src)
			checkInvocations(t, tools.Invocations, tt.want)
			last := tools.Invocations[len(tools.Invocations)-1]
			e, err := last.AddPathEdit("cmd")
			if tt.added == "" {
				if !errors.Is(err, ErrCannotAddPath) {
					t.Errorf("AddPathEdit(cmd) = %+v, %v; want ErrCannotAddPath", e, err)
				}
				if e := last.AddPath("cmd"); e != (edit.Edit{}) {
					t.Errorf("AddPath(cmd) = %+v, want no change", e)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out, err := edit.Apply(src, []edit.Edit{e})
			if err != nil {
				t.Fatal(err)
			}
			if got := lineAt(out, tt.addLine); got != tt.added {
				t.Errorf("after AddPath(cmd):\n%q\nwant\n%q", got, tt.added)
			}
			if again := Parse("Makefile", out).Invocations; !again[len(again)-1].Scans("cmd") {
				t.Errorf("after AddPath(cmd) cmd is not scanned: %v", again[len(again)-1].Paths)
			}
		})
	}
}

func TestIncludedFiles(t *testing.T) {
	makefile := "include hack/tools.mk\n-include .local.mk\ninclude $(NOWHERE)/x.mk\n\n" +
		".PHONY: manifests\nmanifests: tools-rbac\n" +
		"\t$(CONTROLLER_GEN) rbac:roleName=manager-role paths=./$(API_DIR)/... output:rbac:dir=$(RBAC_DIR)\n"
	tools := "CONTROLLER_GEN_VERSION ?= v0.17.1\nCONTROLLER_GEN ?= $(TOOLS_BIN)/controller-gen\nTOOLS_BIN := hack/tools/bin\n" +
		"API_DIR := api\nRBAC_DIR = $(CONFIG)/rbac\nCONFIG := config/base\n\n" +
		"tools-rbac:\n\t$(CONTROLLER_GEN) rbac:roleName=tools-role paths=./hack/tools/... output:rbac:dir=hack/rbac\n"
	read := reader(map[string]string{"hack/tools.mk": tools})

	t.Run("read", func(t *testing.T) {
		got := ParseWith("Makefile", []byte(makefile), read)
		checkInvocations(t, got.Invocations, []want{
			{target: "tools-rbac", line: 9, paths: []string{"hack/tools/..."}, role: "tools-role", out: "hack/rbac"},
			{target: "manifests", line: 7, paths: []string{"api/..."}, role: "manager-role", out: "config/base/rbac"},
		})
		if got.Invocations[0].Path != "hack/tools.mk" || got.Invocations[1].Path != "Makefile" {
			t.Errorf("paths %s, %s", got.Invocations[0].Path, got.Invocations[1].Path)
		}
		wantIncludes := []Include{
			{Path: "hack/tools.mk", From: "Makefile", Line: 1, Loaded: true},
			{Path: ".local.mk", From: "Makefile", Line: 2, Optional: true},
			{Path: "$(NOWHERE)/x.mk", From: "Makefile", Line: 3},
		}
		if !reflect.DeepEqual(got.Includes, wantIncludes) {
			t.Errorf("Includes = %+v\nwant %+v", got.Includes, wantIncludes)
		}
		if got.ControllerGenVersion != "v0.17.1" {
			t.Errorf("version %q", got.ControllerGenVersion)
		}
		if !got.Reaches("manifests", "tools-rbac") {
			t.Error("manifests does not reach tools-rbac")
		}
		// An invocation in an included file is edited in that file.
		out := addPath(t, []byte(tools), got.Invocations[0], "cmd")
		if got := lineAt(out, 9); got != "\t$(CONTROLLER_GEN) rbac:roleName=tools-role paths=./hack/tools/... paths=./cmd output:rbac:dir=hack/rbac" {
			t.Errorf("included file after AddPath: %q", got)
		}
		if v, ok := got.Expand("$(RBAC_DIR)/role.yaml"); !ok || v != "config/base/rbac/role.yaml" {
			t.Errorf("Expand = %q, %v", v, ok)
		}
	})
	t.Run("not read", func(t *testing.T) {
		got := Parse("Makefile", []byte(makefile))
		checkInvocations(t, got.Invocations, []want{
			{target: "manifests", line: 7, paths: []string{"./$(API_DIR)/..."}, role: "manager-role", out: "$(RBAC_DIR)", unresolved: true},
		})
		if got.ControllerGenVersion != "" || got.Includes[0].Loaded {
			t.Errorf("version %q includes %+v", got.ControllerGenVersion, got.Includes)
		}
	})
}

func TestMakeRecursionReaches(t *testing.T) {
	src := `.PHONY: all generate manifests generate-go fmt
all: generate

generate:
	$(MAKE) manifests
	$(MAKE) -C . generate-go
	@make -s --no-print-directory -j 4 fmt GOFLAGS=-mod=mod
	$(MAKE) -C hack/tools controller-gen
	cd docs && $(MAKE) book
	$(MAKE) -f other.mk lint

manifests: $(CONTROLLER_GEN)
	$(CONTROLLER_GEN) rbac:roleName=r paths=./...
generate-go:
	go generate ./...
fmt:
	gofmt -w .
controller-gen book lint:
	true
release: ; $(MAKE) generate
`
	tools := Parse("Makefile", []byte(src))
	tests := []struct {
		from, to string
		want     bool
	}{
		{"all", "manifests", true},
		{"generate", "generate-go", true},
		{"generate", "fmt", true},
		{"generate", "controller-gen", false}, // another Makefile
		{"generate", "book", false},           // after cd
		{"generate", "lint", false},           // another Makefile
		{"generate", "GOFLAGS=-mod=mod", false},
		{"manifests", "generate", false},
		{"release", "manifests", true}, // a recipe on the rule line
	}
	for _, tt := range tests {
		if got := tools.Reaches(tt.from, tt.to); got != tt.want {
			t.Errorf("Reaches(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
	if got := tools.Rule("generate").Makes; !reflect.DeepEqual(got, []string{"manifests", "generate-go", "fmt"}) {
		t.Errorf("generate makes %q", got)
	}
	if got, want := tools.Targets(), []string{"all", "generate", "manifests", "generate-go", "fmt", "controller-gen", "book", "lint", "release"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Targets() = %q, want %q", got, want)
	}
}

func TestEntryTarget(t *testing.T) {
	src := `.PHONY: manifests generate
generate: manifests
manifests: out/.stamp
out/.stamp: out/gen.yaml
	touch $@
out/gen.yaml:
	echo > $@
docs/index.html: ## Build the docs page.
	echo > $@
bin/tool:
	go build -o $@ ./tool
all: bin/tool
`
	tools := Parse("Makefile", []byte(src))
	for rule, want := range map[string]string{
		"out/gen.yaml":     "manifests", // two steps from manifests, three from generate
		"out/.stamp":       "manifests",
		"manifests":        "manifests",
		"docs/index.html":  "docs/index.html", // documented
		"bin/tool":         "all",             // not phony, but named like a command
		"unknown/file.txt": "unknown/file.txt",
	} {
		if got := tools.EntryTarget(rule); got != want {
			t.Errorf("EntryTarget(%s) = %s, want %s", rule, got, want)
		}
	}
}

// An eks-anywhere-shaped Makefile: targets reading the bundle come before release-manifests, which
// writes it from an overlay.
const eksaLike = `KUSTOMIZE ?= hack/tools/bin/kustomize
RELEASE_DIR := config/manifest
CONFIG_DIR ?= config/prod

.PHONY: lint-manifests
lint-manifests: ## Check the bundle.
	yq eval '.' config/manifest/eksa-components.yaml > /dev/null
	kubectl apply --dry-run=client -f config/manifest/eksa-components.yaml 2>&1
	cat config/manifest/eksa-components.yaml | grep -c kind > out/kinds.txt

.PHONY: release-manifests
release-manifests: $(KUSTOMIZE) ## Build the component bundle.
	mkdir -p $(RELEASE_DIR)
	$(KUSTOMIZE) build config/prod > config/manifest/eksa-components.yaml

.PHONY: release-variables
release-variables:
	$(KUSTOMIZE) build $(CONFIG_DIR) > $(RELEASE_DIR)/eksa-variables.yaml

dev-bundle:
	$(KUSTOMIZE) build config/dev | sed 's/a/b/' | tee out/dev.yaml
	cp out/dev.yaml out/copy.yaml
	mv -f out/dev.yaml out/old/
	cd config/dev && kustomize build --load-restrictor LoadRestrictionsNone -o ../../out/dev-o.yaml
	kubectl kustomize config/kubectl >> out/kubectl.yaml

config/generated.yaml: $(KUSTOMIZE)
	$(KUSTOMIZE) build config/gen > $@
`

func TestWriterOfShapes(t *testing.T) {
	src := []byte(eksaLike)
	tests := []struct {
		file string
		want Writer
		ok   bool
	}{
		{"config/manifest/eksa-components.yaml", Writer{Target: "release-manifests", Path: "Makefile", Line: 14, Source: "config/prod"}, true},
		{"./config/manifest/eksa-components.yaml", Writer{Target: "release-manifests", Path: "Makefile", Line: 14, Source: "config/prod"}, true},
		{"config/manifest/eksa-variables.yaml", Writer{Target: "release-variables", Path: "Makefile", Line: 18, Source: "config/prod"}, true},
		{"out/kinds.txt", Writer{Target: "lint-manifests", Path: "Makefile", Line: 9}, true},
		{"out/dev.yaml", Writer{Target: "dev-bundle", Path: "Makefile", Line: 21, Source: "config/dev"}, true}, // tee at the end of a pipeline
		{"out/copy.yaml", Writer{Target: "dev-bundle", Path: "Makefile", Line: 22}, true},
		{"out/old/dev.yaml", Writer{Target: "dev-bundle", Path: "Makefile", Line: 23}, true},
		{"out/dev-o.yaml", Writer{Target: "dev-bundle", Path: "Makefile", Line: 24, Source: "config/dev"}, true},
		{"out/kubectl.yaml", Writer{Target: "dev-bundle", Path: "Makefile", Line: 25, Source: "config/kubectl"}, true},
		{"config/generated.yaml", Writer{Target: "config/generated.yaml", Path: "Makefile", Line: 28, Source: "config/gen"}, true},
		{"config/dev", Writer{}, false}, // read, not written
		{"1", Writer{}, false},          // 2>&1 duplicates a descriptor
		{"hack/tools/bin/kustomize", Writer{}, false},
	}
	for _, tt := range tests {
		w, ok := WriterOf(src, tt.file)
		if ok != tt.ok || w != tt.want {
			t.Errorf("WriterOf(%s) = %+v, %v; want %+v, %v", tt.file, w, ok, tt.want, tt.ok)
		}
	}
}

func TestConditionalsAndAssignments(t *testing.T) {
	src := `OS := linux
ifeq ($(OS),darwin)
	SED := gsed
else
	SED := sed
endif
ifeq ($(shell uname -m),arm64)
ARCH_DIR ?= arm
else
ARCH_DIR ?= amd
endif
ifdef NOT_SET
PATHS := paths=./never/...
endif
ifndef PATHS
PATHS := paths=./controllers/...
endif
PATHS += paths=./webhooks/...
define HELP
	not a recipe: $(CONTROLLER_GEN) rbac:roleName=x paths=./help
endef
ifdef NOT_SET
export define SKIPPED
endif
PATHS := paths=./skipped/...
endef
endif
override OUT_DIR = config/$(ROLE_DIR)
export ROLE_DIR := rbac
VERSION_NAME != git describe

manifests: ## comment with a colon: here
ifeq ($(OS),linux)
	$(CONTROLLER_GEN) rbac:roleName=r $(PATHS) output:rbac:dir=$(OUT_DIR)
else
	$(CONTROLLER_GEN) rbac:roleName=never paths=./never/...
endif
`
	tools := Parse("Makefile", []byte(src))
	checkInvocations(t, tools.Invocations, []want{
		{target: "manifests", line: 34, paths: []string{"controllers/...", "webhooks/..."}, role: "r", out: "config/rbac"},
	})
	for expr, want := range map[string]string{
		"$(SED)":          "sed",
		"$(ARCH_DIR)":     "arm", // an undecidable condition: the first definition is kept
		"$(VERSION_NAME)": "$(shell git describe)",
		"${OUT_DIR}":      "config/rbac",
		"$$HOME":          "$$HOME",
		"$(CURDIR)/bin":   "./bin",
	} {
		got, _ := tools.Expand(expr)
		if got != want {
			t.Errorf("Expand(%s) = %q, want %q", expr, got, want)
		}
	}
	if r := tools.Rule("manifests"); r == nil || r.Doc != "comment with a colon: here" {
		t.Errorf("manifests = %+v", r)
	}
}

func TestControllerGenVersionInMakefile(t *testing.T) {
	tests := []struct{ src, want string }{
		{"CONTROLLER_TOOLS_VERSION ?= v0.16.5\n", "v0.16.5"},
		{"export CONTROLLER_GEN_VERSION := v0.13.0 # pinned\n", "v0.13.0"},
		{"CTRL_VER = v0.12.1\ncontroller-gen:\n\tgo install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CTRL_VER)\n", "v0.12.1"},
		{"controller-gen:\n\tGOBIN=$(PWD)/bin go install sigs.k8s.io/controller-tools/cmd/controller-gen@v0.9.2\n", "v0.9.2"},
		{"CONTROLLER_TOOLS_VERSION ?= main\n", ""},
	}
	for _, tt := range tests {
		if got := Parse("Makefile", []byte(tt.src)).ControllerGenVersion; got != tt.want {
			t.Errorf("version of %q = %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestControllerGenFromModules(t *testing.T) {
	const toolsMod = "module example.com/tools\n\ngo 1.22\n\nrequire (\n\tsigs.k8s.io/controller-tools v0.16.5\n\tsigs.k8s.io/kustomize/kustomize/v5 v5.4.3\n)\n"
	tests := []struct {
		name          string
		files         map[string]string
		version, from string
	}{
		{"hack/tools module", map[string]string{"hack/tools/go.mod": toolsMod, "go.mod": "module example.com/x\n\ngo 1.22\n"}, "v0.16.5", "hack/tools/go.mod"},
		{"tools module", map[string]string{"tools/go.mod": toolsMod}, "v0.16.5", "tools/go.mod"},
		{"hack module, indirect", map[string]string{"hack/go.mod": "module h\n\ngo 1.21\n\nrequire sigs.k8s.io/controller-tools v0.14.0 // indirect\n"}, "v0.14.0", "hack/go.mod"},
		{"replaced by another version", map[string]string{"internal/tools/go.mod": toolsMod + "\nreplace sigs.k8s.io/controller-tools => sigs.k8s.io/controller-tools v0.17.0\n"}, "v0.17.0", "internal/tools/go.mod"},
		{"tool directive", map[string]string{"go.mod": "module example.com/x\n\ngo 1.24\n\ntool sigs.k8s.io/controller-tools/cmd/controller-gen\n\nrequire sigs.k8s.io/controller-tools v0.18.0 // indirect\n"}, "v0.18.0", "go.mod"},
		{"root requirement without the tool directive", map[string]string{"go.mod": "module example.com/x\n\ngo 1.24\n\nrequire sigs.k8s.io/controller-tools v0.18.0\n"}, "", ""},
		{"tools module without controller-tools", map[string]string{"hack/tools/go.mod": "module t\n\ngo 1.22\n\nrequire golang.org/x/tools v0.20.0\n"}, "", ""},
		{"nothing", map[string]string{}, "", ""},
	}
	for _, tt := range tests {
		version, from := ControllerGenFromModules(reader(tt.files))
		if version != tt.version || from != tt.from {
			t.Errorf("%s: got %q from %q, want %q from %q", tt.name, version, from, tt.version, tt.from)
		}
	}
}

func TestMakefileInASubdirectory(t *testing.T) {
	src := "include common.mk\nbundle:\n\tkustomize build overlay > $(OUT)/bundle.yaml\n"
	tools := ParseWith("deploy/Makefile", []byte(src), reader(map[string]string{"deploy/common.mk": "OUT := out\n"}))
	if want := []Include{{Path: "deploy/common.mk", From: "deploy/Makefile", Line: 1, Loaded: true}}; !reflect.DeepEqual(tools.Includes, want) {
		t.Errorf("Includes = %+v, want %+v", tools.Includes, want)
	}
	w, ok := tools.WriterOf("deploy/out/bundle.yaml")
	if want := (Writer{Target: "bundle", Path: "deploy/Makefile", Line: 3, Source: "deploy/overlay"}); !ok || w != want {
		t.Errorf("WriterOf = %+v, %v; want %+v", w, ok, want)
	}
}
