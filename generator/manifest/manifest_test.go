// SPDX-License-Identifier: Apache-2.0

package manifest

import (
	"strings"
	"testing"

	"github.com/diagkit/diagkit/generator/edit"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: controller-manager
spec:
  template:
    spec:
      containers:
      - name: manager
        image: controller:latest
        args:
        - "--leader-elect"
        - "--metrics-addr=127.0.0.1:8080"
        env:
        - name: TINKERBELL_IP
          value: ${TINKERBELL_IP:=''}
`

func TestPatchFollowsTheFileConventions(t *testing.T) {
	c, err := Find("manager.yaml", []byte(deployment))
	if err != nil {
		t.Fatal(err)
	}
	edits, _, err := c.Patch("metrics-addr")
	if err != nil {
		t.Fatal(err)
	}
	out, err := edit.Apply([]byte(deployment), edits)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`        - "--diagnostics-address=${CAPI_DIAGNOSTICS_ADDRESS:=:8443}"` + "\n", // quoted like its siblings, clusterctl defaults
		`        - "--insecure-diagnostics=${CAPI_INSECURE_DIAGNOSTICS:=false}"` + "\n",
		"        ports:\n        - containerPort: 8443\n          name: metrics\n          protocol: TCP\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "--metrics-addr") {
		t.Errorf("old metrics flag kept:\n%s", out)
	}
	again, err := Find("manager.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	if edits, _, _ := again.Patch("metrics-addr"); len(edits) != 0 {
		t.Errorf("second patch edits again: %v", edits)
	}
}

func TestFindNamesWhatIsMissing(t *testing.T) {
	two := strings.Replace(deployment, "      - name: manager\n", "      - name: proxy\n        image: p\n      - name: other\n", 1)
	_, err := Find("config/manager/manager.yaml", []byte(two))
	if err == nil || !strings.Contains(err.Error(), `config/manager/manager.yaml:9: expected a container named "manager" or a single container`) {
		t.Errorf("got %v", err)
	}
}
