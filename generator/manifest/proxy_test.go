// SPDX-License-Identifier: Apache-2.0

package manifest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/diagkit/diagkit/generator/edit"
)

const proxyHead = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: controller-manager
spec:
  template:
    spec:
      containers:
`

const proxyContainer = `      - name: kube-rbac-proxy
        image: gcr.io/kubebuilder/kube-rbac-proxy:v0.8.0
        args:
        - --secure-listen-address=0.0.0.0:8443
        - --upstream=http://127.0.0.1:8080/
        ports:
        - containerPort: 8443
          name: https
`

// TestRemoveProxy covers the shapes targets.md records: a sidecar-only overlay patch (CloudStack), a patch
// that also replaces the manager's args with the old flag (packages, Nutanix before diagnostics), one that
// runs insecure diagnostics behind the proxy (Nutanix before #529), and a sidecar in manager.yaml itself.
func TestRemoveProxy(t *testing.T) {
	tests := []struct {
		name, src    string
		patchManager bool
		want         string
	}{
		{"sidecar-only patch: the manager takes the port name", proxyHead + proxyContainer, true,
			proxyHead + `      - name: manager
        ports:
        - containerPort: 8443
          name: https
          protocol: TCP
`},
		{"patch replacing the args, old flag", proxyHead + proxyContainer + `      - name: manager
        args:
        - "--health-probe-bind-address=:8081"
        - "--metrics-bind-address=127.0.0.1:8080"
        - "--leader-elect"
`, true, proxyHead + `      - name: manager
        args:
        - "--health-probe-bind-address=:8081"
        - "--diagnostics-address=:8443"
        - "--leader-elect"
        - "--insecure-diagnostics=false"
        ports:
        - containerPort: 8443
          name: https
          protocol: TCP
`},
		{"insecure diagnostics behind the proxy", proxyHead + proxyContainer + `      - name: manager
        args:
        - --health-probe-bind-address=:8081
        - --diagnostics-address=127.0.0.1:8080
        - --insecure-diagnostics
        - --leader-elect
`, true, proxyHead + `      - name: manager
        args:
        - --health-probe-bind-address=:8081
        - --diagnostics-address=:8443
        - --insecure-diagnostics=false
        - --leader-elect
        ports:
        - containerPort: 8443
          name: https
          protocol: TCP
`},
		{"sidecar in manager.yaml: only the sidecar goes (the manager is patched on its own)", proxyHead + `      - name: manager
        image: controller:latest
` + proxyContainer, false, proxyHead + `      - name: manager
        image: controller:latest
`},
		{"no sidecar: nothing", proxyHead + "      - name: manager\n        image: controller:latest\n", true,
			proxyHead + "      - name: manager\n        image: controller:latest\n"},
		// Found by FuzzRemoveProxy: each sidecar became a manager, two containers of one name.
		{"two sidecars, no manager: one manager in the first one's place", proxyHead + proxyContainer + "      - name: logs\n" +
			strings.ReplaceAll(proxyContainer, "name: kube-rbac-proxy", "name: kube-rbac-proxy-2"), true,
			proxyHead + "      - name: manager\n        ports:\n        - containerPort: 8443\n          name: https\n          protocol: TCP\n      - name: logs\n"},
		// Documents are told apart by node, not by name: the second Deployment's manager is not the first's.
		{"two unnamed Deployments, the manager in the second", "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n" + proxyContainer +
			"---\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: manager\n", true,
			"kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: manager\n        ports:\n        - containerPort: 8443\n          name: https\n          protocol: TCP\n" +
				"---\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: manager\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edits, _, err := RemoveProxy("patch.yaml", []byte(tt.src), "manager", "metrics-bind-address", tt.patchManager)
			if err != nil {
				t.Fatal(err)
			}
			got, err := edit.Apply([]byte(tt.src), edits)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, string(got)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			// What it writes is a state RemoveProxy leaves alone.
			again, _, err := RemoveProxy("patch.yaml", got, "manager", "metrics-bind-address", tt.patchManager)
			if err != nil || len(again) != 0 {
				t.Errorf("second pass: %v, %d edits", err, len(again))
			}
		})
	}
}
