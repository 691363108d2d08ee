// SPDX-License-Identifier: Apache-2.0

package makefile

import (
	"fmt"
	"slices"
	"testing"

	"github.com/diagkit/diagkit/generator/edit"
)

func TestRBACInvocation(t *testing.T) {
	src := []byte("CONTROLLER_GEN_VER := v0.19.0\nRBAC_ROOT ?= $(MANIFEST_ROOT)/rbac\nMANIFEST_ROOT ?= config\n\n" +
		"generate-manifests:\n\t$(CONTROLLER_GEN) \\\n\t\tpaths=./controller/... \\\n\t\toutput:rbac:dir=$(RBAC_ROOT) \\\n\t\trbac:roleName=manager-role\n")
	tools := Parse("Makefile", src)
	r := tools.RBAC
	if tools.ControllerGenVersion != "v0.19.0" || r == nil || r.OutputDir != "config/rbac" || r.RoleName != "manager-role" || r.Target != "generate-manifests" {
		t.Fatalf("parsed %+v %+v", tools, r)
	}
	tests := []struct {
		dir  string
		want bool
	}{{"controller", true}, {"controller/machine", true}, {".", false}, {"cmd", false}}
	for _, tt := range tests {
		if got := r.Scans(tt.dir); got != tt.want {
			t.Errorf("Scans(%q) = %v, want %v", tt.dir, got, tt.want)
		}
	}
	out, err := edit.Apply(src, []edit.Edit{r.AddPath(".")})
	if err != nil {
		t.Fatal(err)
	}
	if again := Parse("Makefile", out).RBAC; !again.Scans(".") {
		t.Errorf("after AddPath the root package is still not scanned:\n%s", out)
	}
}

func TestWriterOfFindsTheTargetWritingAFile(t *testing.T) {
	src := []byte("release-manifests: ## Build the bundle.\n\t$(KUSTOMIZE) build config/default > config/manifest/eksa-components.yaml\n\nother:\n\techo config/manifest\n")
	tests := []struct {
		file   string
		target string
		ok     bool
	}{
		{"config/manifest/eksa-components.yaml", "release-manifests", true},
		{"./config/manifest/eksa-components.yaml", "release-manifests", true},
		{"config/manifest/other.yaml", "", false},
	}
	for _, tt := range tests {
		w, ok := WriterOf(src, tt.file)
		if ok != tt.ok || w.Target != tt.target || (ok && w.Line != 2) {
			t.Errorf("WriterOf(%s) = %+v, %v; want %s at line 2", tt.file, w, ok, tt.target)
		}
	}
}

// TestGoBuilds: the go build commands of the recipes, variables expanded, in the directory a cd moves them to.
func TestGoBuilds(t *testing.T) {
	src := []byte("GO ?= go\nBIN := bin\nFLAGS = -trimpath\n\nbuild:\n\t$(GO) build $(FLAGS) -o $(BIN)/manager cmd/main.go\n" +
		"\tcd tools && CGO_ENABLED=0 go build -o ../$(BIN)/helper ./cmd/helper\n\tgo test ./...\n")
	var got []string
	for _, b := range Parse("Makefile", src).GoBuilds {
		got = append(got, fmt.Sprintf("%s:%d %s in %s from %v", b.File, b.Line, b.Binary(), b.Dir, b.Packages))
	}
	want := []string{"Makefile:6 manager in . from [cmd/main.go]", "Makefile:7 helper in tools from [./cmd/helper]"}
	if !slices.Equal(got, want) {
		t.Errorf("builds\n%q\nwant\n%q", got, want)
	}
}
