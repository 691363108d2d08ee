// SPDX-License-Identifier: Apache-2.0

package manifest

import (
	"testing"

	"github.com/diagkit/diagkit/generator/edit"
)

// TestEmptyFlowSequences: "ports: []" or "args: []" (cass-operator's manager.yaml has the former) take
// the new items in place of the brackets; a flow sequence with items is still refused.
func TestEmptyFlowSequences(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"ports: []",
			"kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - args:\n        - --leader-elect\n        name: manager\n        ports: []\n        image: x\n",
			"kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - args:\n        - --leader-elect\n        - --diagnostics-address=:8443\n        - --insecure-diagnostics=false\n        name: manager\n        ports:\n        - containerPort: 8443\n          name: metrics\n          protocol: TCP\n        image: x\n"},
		{"args: [] and ports: [] ",
			"kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: manager\n        args: []\n        ports: [] \n",
			"kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: manager\n        args:\n        - --diagnostics-address=:8443\n        - --insecure-diagnostics=false\n        ports:\n        - containerPort: 8443\n          name: metrics\n          protocol: TCP\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Find("manager.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			es, _, err := c.Patch("metrics-bind-address")
			if err != nil {
				t.Fatal(err)
			}
			got, err := edit.Apply([]byte(tt.src), es)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	c, err := Find("manager.yaml", []byte("kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: manager\n        ports: [{containerPort: 8081}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Patch(""); err == nil {
		t.Error("a flow sequence with items was patched")
	}
}
