// SPDX-License-Identifier: Apache-2.0

package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/diagkit/diagkit/generator/edit"
)

// The layouts the edits must follow: where a container's keys sit (right of its dash, not at the line's
// indentation) and where a sequence's dashes sit relative to its key.

// kubebuilder: two-space indentation, dashes at their key's column.
const kbHead = `apiVersion: v1
kind: Namespace
metadata:
  name: system
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: controller-manager
  namespace: system
spec:
  template:
    metadata:
      labels:
        control-plane: controller-manager
    spec:
      containers:
`

const kbTail = `      serviceAccountName: controller-manager
      terminationGracePeriodSeconds: 10
`

// indented: two-space indentation, dashes two columns right of their key (yamlfmt, Nutanix today).
const inHead = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: controller-manager
spec:
  template:
    spec:
      containers:
`

const inTail = `      serviceAccountName: controller-manager
---
apiVersion: v1
kind: Service
metadata:
  name: controller-manager-metrics-service
spec:
  ports:
    - name: https
      port: 8443
      targetPort: https
`

// four: four-space indentation, dashes four columns right of their key.
const fourHead = `apiVersion: apps/v1
kind: Deployment
metadata:
    name: controller-manager
spec:
    template:
        spec:
            containers:
`

const fourTail = `            serviceAccountName: controller-manager
`

// wide: four-space indentation, dashes at their key's column and items four columns right of them.
const wideHead = `apiVersion: apps/v1
kind: Deployment
metadata:
    name: controller-manager
spec:
    template:
        spec:
            containers:
`

const wideTail = `            terminationGracePeriodSeconds: 10
`

const oldFlag = "metrics-bind-address"

// TestPatchLayouts patches manager containers of each layout: with and without args (the old flag among
// them or not), with and without ports, and with the first key on the dash line.
func TestPatchLayouts(t *testing.T) {
	tests := []struct{ name, src string }{
		{"kubebuilder: args with the old flag, no ports", kbHead + `      - command:
        - /manager
        args:
        - --leader-elect
        - --metrics-bind-address=127.0.0.1:8080
        image: controller:latest
        name: manager
        livenessProbe:
          httpGet:
            path: /healthz
            port: 8081
` + kbTail},
		{"kubebuilder: no args, no ports", kbHead + `      - command:
        - /manager
        image: controller:latest
        name: manager
` + kbTail},
		{"kubebuilder: args and ports", kbHead + `      - name: manager
        image: controller:latest
        args:
        - "--leader-elect"
        ports:
        - containerPort: 9440
          name: webhook-server
          protocol: TCP
        env:
        - name: TINKERBELL_IP
          value: ${TINKERBELL_IP:=''}
` + kbTail},
		{"kubebuilder: no args, ports; a second container", kbHead + `      - name: manager
        image: controller:latest
        ports:
        - containerPort: 9440
          name: webhook-server

      # Collects the logs.
      - name: logs
        image: fluent-bit
` + kbTail},
		{"indented, args first: args with the old flag, no ports (Nutanix)", inHead + `        - args:
            - --leader-elect
            - --metrics-bind-address=127.0.0.1:8080
          image: controller
          imagePullPolicy: IfNotPresent
          name: manager
          env:
            - name: POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
` + inTail},
		{"indented, args first: args and ports", inHead + `        - args:
            - --leader-elect
          ports:
            - containerPort: 9440
              name: webhook-server
          image: controller
          name: manager
` + inTail},
		{"indented, args first: args ending the file without a newline", inHead + `        - args:
            - --leader-elect
            - --metrics-bind-address=:8080`},
		{"indented, name first: args with the old flag, ports", inHead + `        - name: manager
          image: controller:latest
          args:
            - --metrics-bind-address=127.0.0.1:8080
          ports:
            - name: webhook-server
              containerPort: 9443
` + inTail},
		{"indented, name first: no args, no ports, no sequence in the container", inHead + `        - name: manager
          image: controller:latest
          resources:
            limits:
              cpu: 500m
` + inTail},
		{"indented, name first: an args key without items", inHead + `        - name: manager
          image: controller:latest
          args:
          ports:
            - containerPort: 9440
` + inTail},
		{"four spaces: args with the old flag, no ports", fourHead + `                - name: manager
                  image: controller:latest
                  args:
                      - --leader-elect
                      - --metrics-bind-address=127.0.0.1:8080
` + fourTail},
		{"four spaces: no args, ports", fourHead + `                - name: manager
                  image: controller:latest
                  ports:
                      - containerPort: 9440
                        name: webhook-server
` + fourTail},
		{"four spaces, wide items: args with the old flag, no ports", wideHead + `            -   name: manager
                image: controller:latest
                args:
                -   --leader-elect
                -   --metrics-bind-address=127.0.0.1:8080
` + wideTail},
		{"four spaces, wide items: no args, no ports", wideHead + `            -   name: manager
                image: controller:latest
` + wideTail},
		{"kubebuilder, image first: no args, no ports", kbHead + `      - image: controller:latest
        name: manager
` + kbTail},
		{"kubebuilder, image first: no args, ports", kbHead + `      - image: controller:latest
        ports:
        - containerPort: 9440
        name: manager
` + kbTail},
		{"indented, image first: no args, no ports", inHead + `        - image: controller:latest
          name: manager
          env:
            - name: A
              value: b
` + inTail},
		{"indented, image first: no args, ports", inHead + `        - image: controller:latest
          ports:
            - containerPort: 9440
              name: webhook-server
` + inTail},
		{"indented, a lone dash: no args, no ports", inHead + `        -
          image: controller:latest
          name: manager
` + inTail},
		// Found by FuzzPatch: the port went into the new args, inserted at the same place.
		{"kubebuilder: a ports key without items right before image, no args", kbHead + `      - ports:
        image: controller:latest
        name: manager
` + kbTail},
		// Found by FuzzPatch: the new keys went between name: and its value, below a comment.
		{"kubebuilder, name last: its value below a comment at the key's column", kbHead + `      - command:
        - /manager
        name:
        # set by the release
          manager
` + kbTail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := []byte(tt.src)
			c, err := Find("manager.yaml", src)
			if err != nil {
				t.Fatal(err)
			}
			edits, _, err := c.Patch(oldFlag)
			if err != nil {
				t.Fatal(err)
			}
			out := applyChecked(t, src, edits)
			checkManager(t, out, true, PortName)
			want := decodeAll(t, src)
			patchExpected(want, c.Clusterctl)
			if d := cmp.Diff(want, decodeAll(t, out)); d != "" {
				t.Errorf("documents (-want +got):\n%s\nin:\n%s", d, out)
			}
			checkPatchedAgain(t, out)
		})
	}
}

// TestRemoveProxyLayouts removes sidecars of each layout: from an overlay patch that has nothing else,
// from one that also sets the manager's args, and from manager.yaml itself (patched at the same time).
func TestRemoveProxyLayouts(t *testing.T) {
	tests := []struct {
		name, src    string
		patchManager bool
	}{
		{"kubebuilder: sidecar-only patch", kbHead + `      - name: kube-rbac-proxy
        image: gcr.io/kubebuilder/kube-rbac-proxy:v0.8.0
        args:
        - --secure-listen-address=0.0.0.0:8443
        - --upstream=http://127.0.0.1:8080/
        ports:
        - containerPort: 8443
          protocol: TCP
          name: https
`, true},
		{"kubebuilder: patch with the manager's args", kbHead + `      - name: kube-rbac-proxy
        image: gcr.io/kubebuilder/kube-rbac-proxy:v0.8.0
        ports:
        - containerPort: 8443
          name: https
      - name: manager
        args:
        - "--health-probe-bind-address=:8081"
        - "--metrics-bind-address=127.0.0.1:8080"
`, true},
		{"kubebuilder: sidecar in manager.yaml", kbHead + `      - command:
        - /manager
        args:
        - --metrics-bind-address=127.0.0.1:8080
        image: controller:latest
        name: manager
      - name: kube-rbac-proxy
        image: gcr.io/kubebuilder/kube-rbac-proxy:v0.8.0
` + kbTail, false},
		{"indented, args first: sidecar-only patch", inHead + `        - args:
            - --secure-listen-address=0.0.0.0:8443
            - --upstream=http://127.0.0.1:8080/
          image: gcr.io/kubebuilder/kube-rbac-proxy:v0.8.0
          name: kube-rbac-proxy
          ports:
            - containerPort: 8443
              name: https
`, true},
		{"indented, args first: patch with the manager's args", inHead + `        - args:
            - --secure-listen-address=0.0.0.0:8443
            - --upstream=http://127.0.0.1:8080/
          image: gcr.io/kubebuilder/kube-rbac-proxy:v0.8.0
          name: kube-rbac-proxy
          ports:
            - containerPort: 8443
              name: https
        - args:
            - --health-probe-bind-address=:8081
            - --diagnostics-address=127.0.0.1:8080
            - --insecure-diagnostics
            - --leader-elect
          name: manager
`, true},
		{"indented, args first: sidecar in manager.yaml, before the manager", inHead + `        - args:
            - --upstream=http://127.0.0.1:8080/
          image: gcr.io/kubebuilder/kube-rbac-proxy:v0.8.0
          name: kube-rbac-proxy
        - args:
            - --leader-elect
          image: controller
          name: manager
` + inTail, false},
		{"indented, name first: patch with the manager's args and a port of that name", inHead + `        - name: kube-rbac-proxy
          image: gcr.io/kubebuilder/kube-rbac-proxy:v0.8.0
          ports:
            - containerPort: 8443
              name: https
        - name: manager
          args:
            - --metrics-bind-address=127.0.0.1:8080
          ports:
            - name: https
              containerPort: "8080"
`, true},
		{"indented, name first: sidecar in manager.yaml", inHead + `        - name: manager
          image: controller:latest
        - name: kube-rbac-proxy
          image: gcr.io/kubebuilder/kube-rbac-proxy:v0.8.0
          args:
            - --upstream=http://127.0.0.1:8080/
` + inTail, false},
		{"four spaces: sidecar-only patch", fourHead + `                - name: kube-rbac-proxy
                  image: gcr.io/kubebuilder/kube-rbac-proxy:v0.8.0
                  ports:
                      - containerPort: 8443
                        name: https
`, true},
		{"four spaces: patch with the manager's args", fourHead + `                - name: kube-rbac-proxy
                  image: gcr.io/kubebuilder/kube-rbac-proxy:v0.8.0
                - name: manager
                  args:
                      - --metrics-bind-address=127.0.0.1:8080
`, true},
		{"four spaces, wide items: sidecar in manager.yaml", wideHead + `            -   name: manager
                image: controller:latest
                args:
                -   --leader-elect
            -   name: kube-rbac-proxy
                image: gcr.io/kubebuilder/kube-rbac-proxy:v0.8.0
` + wideTail, false},
		{"kubebuilder: a flow-style port of that name, after other text", kbHead + `      - name: kube-rbac-proxy
        ports:
        - containerPort: 8443
          name: métriques
      - name: manager
        ports:
        - {name: métriques, containerPort: 8080}
        args:
        - "--leader-elect"
`, true},
		{"image first: sidecar-only patch", inHead + `        - image: gcr.io/kubebuilder/kube-rbac-proxy:v0.8.0
          args:
            - --upstream=http://127.0.0.1:8080/
          ports:
            - containerPort: 8443
              name: metrics-https
`, true},
		{"image first: patch with a manager without args", kbHead + `      - image: gcr.io/kubebuilder/kube-rbac-proxy:v0.8.0
        name: kube-rbac-proxy
      - image: controller:latest
        name: manager
`, true},
		{"image first: sidecar in manager.yaml", inHead + `        - image: controller:latest
          name: manager
        - image: gcr.io/kubebuilder/kube-rbac-proxy:v0.8.0
          name: kube-rbac-proxy
` + inTail, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := []byte(tt.src)
			var edits []edit.Edit
			if !tt.patchManager {
				// As retrofit does: manager.yaml's manager is patched in the same pass.
				c, err := Find("manager.yaml", src)
				if err != nil {
					t.Fatal(err)
				}
				if edits, _, err = c.Patch(oldFlag); err != nil {
					t.Fatal(err)
				}
			}
			proxyEdits, _, err := RemoveProxy("patch.yaml", src, "manager", oldFlag, tt.patchManager)
			if err != nil {
				t.Fatal(err)
			}
			edits = append(edits, proxyEdits...)
			out := applyChecked(t, src, edits)
			portName := proxyPortName(t, src)
			if !tt.patchManager {
				portName = PortName
			}
			// A manager whose args the patch sets gets the diagnostics ones; a patch without them leaves
			// manager.yaml's.
			mgr := managerIn(t, src)
			checkManager(t, out, !tt.patchManager || mgr != nil && len(mgr.Args()) > 0, portName)
			want := decodeAll(t, src)
			removeProxyExpected(want, portName)
			got := decodeAll(t, out)
			if tt.patchManager {
				stripArgs(want)
				stripArgs(got)
			} else {
				patchExpected(want, false)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("documents (-want +got):\n%s\nin:\n%s", d, out)
			}
			if again, _, err := RemoveProxy("patch.yaml", out, "manager", oldFlag, tt.patchManager); err != nil || len(again) != 0 {
				t.Errorf("second pass: %v, %v", err, again)
			}
			if !tt.patchManager {
				checkPatchedAgain(t, out)
			}
		})
	}
}

// TestFlowStyleIsReported: flow collections cannot take new lines; they are named rather than broken,
// and left alone when they need nothing.
func TestFlowStyleIsReported(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"args in flow style", inHead + `        - name: manager
          image: controller:latest
          args: [--leader-elect]
`, "manager.yaml:11: expected args of container manager as a block sequence"},
		{"ports in flow style without 8443", inHead + `        - name: manager
          args: ["--diagnostics-address=:8443", "--insecure-diagnostics=false"]
          ports: [{containerPort: 9440, name: webhook-server}]
`, "manager.yaml:11: expected ports of container manager as a block sequence"},
		{"a container in flow style", inHead + `        - {name: manager, image: controller:latest}
`, "manager.yaml:9: expected container manager as a block mapping"},
		{"an explicit null", kbHead + `      - name: manager
        args: null
`, `manager.yaml:19: expected args of container manager as a sequence, found "null"`},
		// Found by FuzzPatch: 8443 went right after the colon, "containerPort:8443".
		{"a port with an empty number", inHead + `        - name: manager
          args: ["--diagnostics-address=:8443", "--insecure-diagnostics=false"]
          ports:
            - containerPort: 
              name: metrics
`, "manager.yaml:12: expected a containerPort in port metrics of container manager"},
		{"a port without a number", inHead + `        - name: manager
          args: ["--diagnostics-address=:8443", "--insecure-diagnostics=false"]
          ports:
            - name: metrics
`, "manager.yaml:12: expected a containerPort in port metrics of container manager"},
		{"flow style with nothing to add", inHead + `        - name: manager
          args: ["--diagnostics-address=:8443", "--insecure-diagnostics=false"]
          ports: [{containerPort: 8443, name: metrics}]
`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Find("manager.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			edits, _, err := c.Patch(oldFlag)
			if tt.want == "" {
				if err != nil || len(edits) != 0 {
					t.Errorf("got %v, %v", edits, err)
				}
				return
			}
			var pe *edit.PositionError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, %v; want %q", edits, err, tt.want)
			}
		})
	}
	flowArgs := kbHead + "      - name: kube-rbac-proxy\n      - name: manager\n        args: [--metrics-bind-address=:8080]\n"
	if _, _, err := RemoveProxy("patch.yaml", []byte(flowArgs), "manager", oldFlag, true); err == nil || !strings.Contains(err.Error(), "patch.yaml:20: expected args of container manager as a block sequence") {
		t.Errorf("flow args: got %v", err)
	}
	src := strings.TrimSuffix(kbHead, "\n") + " [{name: kube-rbac-proxy, image: p}, {name: manager}]\n"
	if _, _, err := RemoveProxy("patch.yaml", []byte(src), "manager", oldFlag, true); err == nil || !strings.Contains(err.Error(), "patch.yaml:17: expected containers as a block sequence") {
		t.Errorf("flow containers: got %v", err)
	}
}

// applyChecked applies edits and checks what every edit must leave: YAML, and every line the edits do
// not touch as it was.
func applyChecked(t *testing.T, src []byte, edits []edit.Edit) []byte {
	t.Helper()
	decodeAll(t, src)
	out, err := edit.Apply(src, edits)
	if err != nil {
		t.Fatal(err)
	}
	decodeAll(t, out)
	checkUntouched(t, src, out, edits)
	checkLayout(t, src, out)
	return out
}

// checkLayout: out lays out its block sequences only as src does, dashes as far right of their keys and
// items as far right of their dashes, where src shows how (not when its only items are below lone dashes).
func checkLayout(t *testing.T, src, out []byte) {
	t.Helper()
	want, got := layouts(t, src), layouts(t, out)
	shown := map[string]bool{}
	for l := range want {
		shown[l.what] = true
	}
	for l := range got {
		if shown[l.what] && !want[l] {
			t.Errorf("a sequence laid out as %s, not as in the input (%v):\n%s", l, want, out)
		}
	}
}

type layout struct {
	what string // "dash" right of the key, or "item" right of the dash
	cols int
}

func (l layout) String() string { return l.what + " +" + strconv.Itoa(l.cols) }

func layouts(t *testing.T, src []byte) map[layout]bool {
	t.Helper()
	found := map[layout]bool{}
	lines := strings.Split(string(src), "\n")
	var visit func(n *yamlv3.Node)
	visit = func(n *yamlv3.Node) {
		if n.Kind == yamlv3.MappingNode && n.Style&yamlv3.FlowStyle == 0 {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k, v := n.Content[i], n.Content[i+1]; v.Kind == yamlv3.SequenceNode && v.Style&yamlv3.FlowStyle == 0 {
					found[layout{"dash", v.Column - k.Column}] = true
				}
			}
		}
		if n.Kind == yamlv3.SequenceNode && n.Style&yamlv3.FlowStyle == 0 {
			for _, item := range n.Content {
				// An item below a lone dash, or an empty one, says nothing of the gap.
				empty := item.Kind == yamlv3.ScalarNode && item.Tag == "!!null" && item.Value == ""
				if line := lines[item.Line-1]; !empty && len(line) >= n.Column && line[n.Column-1] == '-' {
					found[layout{"item", item.Column - n.Column}] = true
				}
			}
		}
		for _, c := range n.Content {
			visit(c)
		}
	}
	dec := yamlv3.NewDecoder(bytes.NewReader(src))
	for {
		var doc yamlv3.Node
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return found
		} else if err != nil {
			t.Fatal(err)
		}
		visit(&doc)
	}
}

// checkUntouched finds each line of src that no edit overlaps (an insertion at its start does not) at
// its shifted place in out, and checks that edits insert whole lines.
func checkUntouched(t *testing.T, src, out []byte, edits []edit.Edit) {
	t.Helper()
	sorted := slices.Clone(edits)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Start < sorted[j].Start })
	atLine := func(off int) bool { return off == 0 || src[off-1] == '\n' || off == len(src) }
	for _, e := range sorted {
		inLine := !strings.Contains(e.Text, "\n") && !bytes.Contains(src[e.Start:e.End], []byte("\n"))
		// At the end of a file without a final newline, an insertion starts with one.
		wholeLines := atLine(e.Start) && atLine(e.End) && (e.Text == "" || strings.HasSuffix(e.Text, "\n") ||
			e.Start == len(src) && strings.HasPrefix(e.Text, "\n"))
		if !inLine && !wholeLines {
			t.Errorf("edit %+v splits a line", e)
		}
	}
	for _, start := range edit.LineOffsets(src) {
		line := edit.LineAt(src, start)
		end, shift, touched := start+len(line), 0, false
		for _, e := range sorted {
			switch {
			case e.End <= start && (e.Start < start || e.Start == e.End):
				shift += len(e.Text) - (e.End - e.Start)
			case e.Start < end && (e.End > start || e.Start > start):
				touched = true
			}
		}
		if at := start + shift; !touched && (at+len(line) > len(out) || !bytes.Equal(out[at:at+len(line)], line)) {
			t.Errorf("line %q moved or changed", line)
		}
	}
}

// checkManager finds the manager in out with port 8443 named port and, when args, the diagnostics
// arguments in place of the old flag; and no sidecar left.
func checkManager(t *testing.T, out []byte, args bool, port string) {
	t.Helper()
	containers, err := FindAll("manager.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	var mgr *Container
	for _, c := range containers {
		if c.IsProxy() {
			t.Errorf("sidecar %s left in:\n%s", c.Name, out)
		}
		if c.Name == "manager" || len(containers) == 1 {
			mgr = c
		}
	}
	if mgr == nil {
		t.Fatalf("no manager in:\n%s", out)
	}
	if !slices.Contains(mgr.Ports(), ContainerPort{Number: "8443", Name: port, Line: mgr.portLine("8443")}) {
		t.Errorf("ports %+v, want 8443 named %s in:\n%s", mgr.Ports(), port, out)
	}
	if !args {
		return
	}
	for _, flag := range []string{AddressFlag, InsecureFlag} {
		if !mgr.hasArg(flag) {
			t.Errorf("no %s in args %q of:\n%s", flag, mgr.Args(), out)
		}
	}
	if mgr.hasArg("--" + oldFlag) {
		t.Errorf("--%s kept in:\n%s", oldFlag, out)
	}
}

func (c *Container) portLine(number string) int {
	for _, p := range c.Ports() {
		if p.Number == number {
			return p.Line
		}
	}
	return 0
}

// checkPatchedAgain: what Patch writes is a state it leaves alone.
func checkPatchedAgain(t *testing.T, out []byte) {
	t.Helper()
	c, err := Find("manager.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	if edits, _, err := c.Patch(oldFlag); err != nil || len(edits) != 0 {
		t.Errorf("second patch: %v, %v", edits, err)
	}
}

func managerIn(t *testing.T, src []byte) *Container {
	t.Helper()
	containers, err := FindAll("patch.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range containers {
		if c.Name == "manager" {
			return c
		}
	}
	return nil
}

func proxyPortName(t *testing.T, src []byte) string {
	t.Helper()
	containers, err := FindAll("patch.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range containers {
		if ports := c.Ports(); c.IsProxy() && len(ports) > 0 && ports[0].Name != "" {
			return ports[0].Name
		}
	}
	return "https"
}

// The expected documents, built from the parsed input.

type object = map[string]any

func decodeAll(t *testing.T, src []byte) []any {
	t.Helper()
	var docs []any
	dec := yamlv3.NewDecoder(bytes.NewReader(src))
	for {
		var doc any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return docs
		} else if err != nil {
			t.Fatalf("%v in:\n%s", err, src)
		}
		docs = append(docs, doc)
	}
}

// podSpecs returns the pod spec of each Deployment.
func podSpecs(docs []any) []object {
	var specs []object
	for _, d := range docs {
		doc, _ := d.(object)
		if doc["kind"] != "Deployment" {
			continue
		}
		spec, _ := doc["spec"].(object)
		template, _ := spec["template"].(object)
		if s, ok := template["spec"].(object); ok {
			specs = append(specs, s)
		}
	}
	return specs
}

func containersOf(spec object) []object {
	var cs []object
	list, _ := spec["containers"].([]any)
	for _, c := range list {
		if c, ok := c.(object); ok {
			cs = append(cs, c)
		}
	}
	return cs
}

func setContainers(spec object, cs []object) {
	list := []any{}
	for _, c := range cs {
		list = append(list, c)
	}
	spec["containers"] = list
}

func isProxy(c object) bool {
	name, _ := c["name"].(string)
	image, _ := c["image"].(string)
	return strings.Contains(name, "kube-rbac-proxy") || strings.Contains(image, "kube-rbac-proxy")
}

// patchExpected does to the manager what Patch should: the diagnostics arguments after the others, the
// old flag gone, port 8443 named metrics after the other ports.
func patchExpected(docs []any, clusterctl bool) {
	spec := podSpecs(docs)[0]
	cs := containersOf(spec)
	mgr := cs[0]
	for _, c := range cs {
		if c["name"] == "manager" {
			mgr = c
		}
	}
	args := []any{}
	list, _ := mgr["args"].([]any)
	for _, a := range list {
		if !isFlag(a.(string), "--"+oldFlag) {
			args = append(args, a)
		}
	}
	address, insecure := ":8443", "false"
	if clusterctl {
		address, insecure = "${CAPI_DIAGNOSTICS_ADDRESS:=:8443}", "${CAPI_INSECURE_DIAGNOSTICS:=false}"
	}
	mgr["args"] = append(args, AddressFlag+"="+address, InsecureFlag+"="+insecure)
	addPort(mgr, PortName)
}

// removeProxyExpected takes the sidecars out, their port name moved to the manager, added where the
// Deployment has none.
func removeProxyExpected(docs []any, portName string) {
	for _, spec := range podSpecs(docs) {
		var kept []object
		var mgr object
		proxies := 0
		for _, c := range containersOf(spec) {
			switch {
			case isProxy(c):
				proxies++
			case c["name"] == "manager":
				mgr = c
				kept = append(kept, c)
			default:
				kept = append(kept, c)
			}
		}
		if proxies == 0 {
			continue
		}
		if mgr == nil {
			mgr = object{"name": "manager"}
			kept = append(kept, mgr)
		}
		addPort(mgr, portName)
		setContainers(spec, kept)
	}
}

// addPort gives c port 8443 named name: the port of that name moved, or a new one.
func addPort(c object, name string) {
	ports, _ := c["ports"].([]any)
	for _, p := range ports {
		if p, ok := p.(object); ok && (p["containerPort"] == 8443 || p["containerPort"] == "8443") {
			return
		}
	}
	move := func(p object) {
		if _, quoted := p["containerPort"].(string); quoted {
			p["containerPort"] = "8443"
		} else {
			p["containerPort"] = 8443
		}
	}
	for _, p := range ports {
		if p, ok := p.(object); ok && p["name"] == name {
			move(p)
			return
		}
	}
	// One metrics port of another name (http-prom, http-metrics) is moved, its name kept.
	if name == PortName {
		var metrics []object
		for _, p := range ports {
			if p, ok := p.(object); ok {
				if n := strings.ToLower(fmt.Sprint(p["name"])); strings.Contains(n, "metric") || strings.Contains(n, "prom") {
					metrics = append(metrics, p)
				}
			}
		}
		if len(metrics) == 1 {
			move(metrics[0])
			return
		}
	}
	c["ports"] = append(ports, object{"containerPort": 8443, "name": name, "protocol": "TCP"})
}

// stripArgs drops the args of every container: where RemoveProxy rewrites them, checkManager checks them.
func stripArgs(docs []any) {
	for _, spec := range podSpecs(docs) {
		for _, c := range containersOf(spec) {
			delete(c, "args")
		}
	}
}

func TestNewKeyNeedsAnAnchor(t *testing.T) {
	src := inHead + "        - command: [/manager]\n"
	c, err := Find("manager.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Patch(oldFlag)
	if err == nil || err.Error() != "manager.yaml:9: expected an image: or name: field in container , found none" {
		t.Errorf("got %v", err)
	}
}
