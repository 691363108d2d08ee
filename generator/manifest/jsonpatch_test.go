// SPDX-License-Identifier: Apache-2.0

package manifest

import (
	"strings"
	"testing"

	"github.com/diagkit/diagkit/generator/edit"
)

// TestRewriteJSONPatchArgs: kubebuilder v4 enables metrics with a JSON 6902 patch adding the address
// argument; the rewrite changes that value, quoted as it was, and nothing else.
func TestRewriteJSONPatchArgs(t *testing.T) {
	tests := []struct {
		name, src, want, wantErr string
	}{
		{name: "kubebuilder v4's patch",
			src:  "# adds the metrics address\n- op: add\n  path: /spec/template/spec/containers/0/args/0\n  value: --metrics-bind-address=:8443\n",
			want: "# adds the metrics address\n- op: add\n  path: /spec/template/spec/containers/0/args/0\n  value: --diagnostics-address=:8443\n"},
		{name: "double-quoted, replace, among other operations",
			src:  "- op: replace\n  path: /spec/template/spec/containers/0/args/1\n  value: \"--metrics-bind-address=127.0.0.1:8080\"\n- op: add\n  path: /spec/template/spec/containers/0/args/-\n  value: --leader-elect\n",
			want: "- op: replace\n  path: /spec/template/spec/containers/0/args/1\n  value: \"--diagnostics-address=:8443\"\n- op: add\n  path: /spec/template/spec/containers/0/args/-\n  value: --leader-elect\n"},
		{name: "single-quoted",
			src:  "- {op: add, path: /spec/template/spec/containers/0/args/0, value: '--metrics-bind-address=:8443'}\n",
			want: "- {op: add, path: /spec/template/spec/containers/0/args/0, value: '--diagnostics-address=:8443'}\n"},
		{name: "another flag is left alone",
			src: "- op: add\n  path: /spec/template/spec/containers/0/args/0\n  value: --metrics-addr=:8443\n"},
		{name: "a value outside the args is left alone",
			src: "- op: add\n  path: /metadata/annotations/x\n  value: --metrics-bind-address=:8443\n"},
		{name: "a Deployment is not a JSON patch",
			src: "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: manager\n        args: [--metrics-bind-address=:8443]\n"},
		{name: "a folded value is refused, naming the line",
			src:     "- op: add\n  path: /spec/template/spec/containers/0/args/0\n  value: >-\n    --metrics-bind-address=:8443\n",
			wantErr: "patch.yaml:3: expected the value of a JSON patch argument on one line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edits, why, err := RewriteJSONPatchArgs("patch.yaml", []byte(tt.src), "metrics-bind-address")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := edit.Apply([]byte(tt.src), edits)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == "" {
				want = tt.src
			}
			if string(got) != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			if (len(why) > 0) != (tt.want != "") {
				t.Errorf("reasons %q for %d edits", why, len(edits))
			}
		})
	}
}
