// SPDX-License-Identifier: Apache-2.0

package helmchart

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/diagkit/diagkit/generator/manifest"
)

// MetricsFlags are the names (without dashes) of the metrics flags a manager is known to take; a chart's
// manager is the container passing one of them, or --diagnostics-address once retrofitted.
var MetricsFlags = []string{"metrics-bind-address", "metrics-addr", "metrics-bind-addr"}

// ErrNotRendered marks the errors of charts that cannot be rendered with their default values (they
// call required, fail or lookup on what only an install provides): such a chart cannot be analysed,
// which is not a failure of the analysis. Test with errors.Is.
var ErrNotRendered = errors.New("chart cannot be rendered with its default values")

// NotRenderedError is the error of a chart that cannot be rendered with its default values; it is
// ErrNotRendered and unwraps to Helm's error.
type NotRenderedError struct {
	Dir string
	Err error
}

func (e *NotRenderedError) Error() string {
	return fmt.Sprintf("chart %s cannot be rendered with its default values: %v", e.Dir, e.Err)
}

// Is makes errors.Is(err, ErrNotRendered) true.
func (e *NotRenderedError) Is(target error) bool { return target == ErrNotRendered }

func (e *NotRenderedError) Unwrap() error { return e.Err }

// Manifests renders the chart (Render) and returns, by template name, the Kubernetes objects each
// template renders: its YAML documents that are mappings with an apiVersion and a kind, separated by
// "---" lines. What `helm template` does not print as a resource is left out: NOTES.txt (of the chart
// and its subcharts), partials, and output that is empty, only whitespace or only comments. So is what
// is not a Kubernetes object, such as a text or JSON file among the templates, or a document that is
// not YAML: the chart's readers skip it rather than fail. Templates rendering no object are absent.
//
// Every reader of rendered output in this package goes through it. A render error is a
// *NotRenderedError.
func (c *Chart) Manifests() (map[string][]byte, error) {
	rendered, err := c.Render()
	if err != nil {
		return nil, &NotRenderedError{Dir: c.Dir, Err: err}
	}
	out := map[string][]byte{}
	for name, text := range rendered {
		if !isManifestTemplate(name) {
			continue
		}
		var objs [][]byte
		for _, doc := range splitDocuments(text) {
			if isObject(doc) {
				objs = append(objs, doc)
			}
		}
		if len(objs) > 0 {
			out[name] = bytes.Join(objs, []byte("---\n"))
		}
	}
	return out, nil
}

// isManifestTemplate reports whether a rendered template's output may hold resources: not NOTES.txt,
// at the top of any chart's templates or below, and not a partial.
func isManifestTemplate(name string) bool {
	base := name[strings.LastIndex(name, "/")+1:]
	return base != "NOTES.txt" && !strings.HasPrefix(base, "_")
}

// splitDocuments cuts rendered text at its document markers, lines starting with "---" followed by
// nothing, a space or a tab, as YAML and Helm do. A bare marker line is dropped; a marker followed by
// content ("--- # comment", "--- !tag") stays at the start of its document. Every document ends with a
// newline.
func splitDocuments(text string) [][]byte {
	var docs [][]byte
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			s := cur.String()
			if !strings.HasSuffix(s, "\n") {
				s += "\n"
			}
			docs = append(docs, []byte(s))
			cur.Reset()
		}
	}
	for _, line := range strings.SplitAfter(text, "\n") {
		trimmed := strings.TrimRight(line, "\r\n")
		if trimmed == "---" || strings.HasPrefix(trimmed, "--- ") || strings.HasPrefix(trimmed, "---\t") {
			flush()
			if strings.TrimSpace(trimmed) == "---" {
				continue
			}
		}
		cur.WriteString(line)
	}
	flush()
	return docs
}

// isObject reports whether doc is YAML holding Kubernetes objects only: at least one mapping, each with
// a string apiVersion and kind. Empty, whitespace-only and comment-only documents are not.
func isObject(doc []byte) bool {
	dec := yamlv3.NewDecoder(bytes.NewReader(doc))
	n := 0
	for {
		var node yamlv3.Node
		if err := dec.Decode(&node); err != nil {
			return errors.Is(err, io.EOF) && n > 0
		}
		if len(node.Content) == 0 {
			continue // comments only
		}
		root := node.Content[0]
		if root.Kind != yamlv3.MappingNode {
			return false
		}
		var head struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
		}
		if err := root.Decode(&head); err != nil || head.APIVersion == "" || head.Kind == "" {
			return false
		}
		n++
	}
}

// workloadKinds are the kinds whose pods may run the manager.
var workloadKinds = []string{"Deployment", "StatefulSet", "DaemonSet"}

// container is a container of a rendered workload.
type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Ports   []struct {
		ContainerPort string `yaml:"containerPort"`
		Name          string `yaml:"name"`
	} `yaml:"ports"`

	template, kind, workload string
}

// arg finds flag ("--name") among the arguments as --name=value or a bare --name; when takesValue, a
// bare --name takes the next argument as its value, as pflag does for non-boolean flags.
func arg(args []string, flag string, takesValue bool) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v, true
		}
		if a == flag {
			if takesValue && i+1 < len(args) {
				return args[i+1], true
			}
			return "", true
		}
	}
	return "", false
}

// containers returns the containers of the Deployments, StatefulSets and DaemonSets in manifests,
// sorted by template and in file order. A document of another shape is skipped.
func containers(manifests map[string][]byte) []*container {
	var all []*container
	for _, name := range names(manifests) {
		dec := yamlv3.NewDecoder(bytes.NewReader(manifests[name]))
		for {
			var w struct {
				Kind     string `yaml:"kind"`
				Metadata struct {
					Name string `yaml:"name"`
				} `yaml:"metadata"`
				Spec struct {
					Template struct {
						Spec struct {
							Containers []*container `yaml:"containers"`
						} `yaml:"spec"`
					} `yaml:"template"`
				} `yaml:"spec"`
			}
			var node yamlv3.Node
			if err := dec.Decode(&node); err != nil {
				break // EOF: Manifests returns YAML only
			}
			if len(node.Content) == 0 || node.Content[0].Decode(&w) != nil || !slices.Contains(workloadKinds, w.Kind) {
				continue
			}
			for _, ct := range w.Spec.Template.Spec.Containers {
				if ct != nil {
					ct.template, ct.kind, ct.workload = name, w.Kind, w.Metadata.Name
					all = append(all, ct)
				}
			}
		}
	}
	return all
}

// managerFlags are the flags marking the manager: flags (names without dashes; MetricsFlags when
// empty) and --diagnostics-address.
func managerFlags(flags []string) []string {
	if len(flags) == 0 {
		flags = MetricsFlags
	}
	out := make([]string, 0, len(flags)+1)
	for _, f := range flags {
		if f = strings.TrimLeft(f, "-"); f != "" {
			out = append(out, "--"+f)
		}
	}
	return append(out, manifest.AddressFlag)
}

// DeploysManager reports whether the chart, rendered with its default values, deploys the manager: a
// Deployment, StatefulSet or DaemonSet with a container whose command or args pass one of flags (names
// without dashes, such as "metrics-bind-address"; MetricsFlags when empty) or --diagnostics-address. A
// chart that deploys something else (another module's controller, CRDs only, a migration Job) is not
// the manager's deployment.
//
// A chart that cannot be rendered with its default values yields false and a *NotRenderedError
// (errors.Is(err, ErrNotRendered)): it could not be analysed.
func (c *Chart) DeploysManager(flags []string) (bool, error) {
	manifests, err := c.Manifests()
	if err != nil {
		return false, err
	}
	want := managerFlags(flags)
	for _, ct := range containers(manifests) {
		for _, f := range want {
			if _, ok := arg(ct.Command, f, false); ok {
				return true, nil
			}
			if _, ok := arg(ct.Args, f, false); ok {
				return true, nil
			}
		}
	}
	return false, nil
}
