// SPDX-License-Identifier: Apache-2.0

package makefile

import (
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
