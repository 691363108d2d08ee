// SPDX-License-Identifier: Apache-2.0

package manifest

import (
	"fmt"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/diagkit/diagkit/generator/edit"
)

// RewriteJSONPatchArgs finds, in a kustomize JSON 6902 patch (a YAML list of operations), the add and
// replace operations on a container's args whose value is an argument of oldFlag — kubebuilder v4's
// config/default/manager_metrics_patch.yaml adds --metrics-bind-address=:8443 that way — and returns the
// edits that make each value the diagnostics address instead, quoted as it was. A file that is not such a
// patch gives no edits and no error.
func RewriteJSONPatchArgs(path string, src []byte, oldFlag string) (edits []edit.Edit, why []string, err error) {
	if oldFlag == "" {
		return nil, nil, nil
	}
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(src, &doc); err != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yamlv3.SequenceNode {
		return nil, nil, nil
	}
	f := &Container{Path: path, src: src, lines: edit.LineOffsets(src)}
	for _, op := range doc.Content[0].Content {
		if op.Kind != yamlv3.MappingNode {
			return nil, nil, nil // not a list of operations
		}
		kind, target := scalar(op, "op"), scalar(op, "path")
		if kind != "add" && kind != "replace" || !strings.Contains(target, "/args") {
			continue
		}
		v := walk(op, "value")
		if v == nil || v.Kind != yamlv3.ScalarNode || !isFlag(v.Value, "--"+oldFlag) {
			continue
		}
		if strings.Contains(v.Value, "\\") || v.Style&(yamlv3.LiteralStyle|yamlv3.FoldedStyle) != 0 {
			return nil, nil, &edit.PositionError{File: path, Line: v.Line, Expected: "the value of a JSON patch argument on one line", Found: v.Value}
		}
		if err := edit.CheckLines(path, src); err != nil {
			return nil, nil, err
		}
		start := f.offset(v)
		end := start + len(quoteLike(v.Value, v.Style))
		if end > len(src) || string(src[start:end]) != quoteLike(v.Value, v.Style) {
			return nil, nil, &edit.PositionError{File: path, Line: v.Line, Expected: "a plain or quoted scalar", Found: v.Value}
		}
		arg := fmt.Sprintf("%s=:%d", AddressFlag, Port)
		edits = append(edits, edit.Edit{Start: start, End: end, Text: quoteLike(arg, v.Style)})
		why = append(why, fmt.Sprintf("pass %s where the patch passed %s", arg, v.Value))
	}
	return edits, why, nil
}
