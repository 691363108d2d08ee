// SPDX-License-Identifier: Apache-2.0

package rbacrole

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/internal/fixture"
)

// FuzzAdd holds ParseRole and Add to what a retrofit needs of any role.yaml: an error names the file and
// a line and changes nothing; the edit is the only change, the result parses, grants what it granted and
// the reviews, leaves every other field and document as it was, and a second Add changes nothing.
func FuzzAdd(f *testing.F) {
	files, err := fixture.Files(func(p string) bool { return strings.HasSuffix(p, ".yaml") && strings.Contains(p, "role") })
	if err != nil {
		f.Fatal(err)
	}
	for i, file := range files {
		f.Add(file.Data, i%2 == 0)
	}
	f.Add([]byte(role), true)
	f.Add([]byte(role), false)
	f.Add([]byte(strings.Replace(role, "- get\n", "- get \n", 1)), true)
	f.Fuzz(func(t *testing.T, src []byte, newer bool) {
		family := UpToV015
		if newer {
			family = FromV016
		}
		orig := bytes.Clone(src)
		r, err := ParseRole("role.yaml", src, "")
		if err != nil {
			checkPositioned(t, err, "a ClusterRole")
			return
		}
		out, edits, err := r.Add(DiagnosticsRules, family)
		if !bytes.Equal(src, orig) {
			t.Fatal("Add changed its input")
		}
		if err != nil {
			checkPositioned(t, err, "")
			return
		}
		if len(edits) == 0 {
			if !bytes.Equal(out, src) {
				t.Fatal("no edit, yet the file changed")
			}
			return
		}
		if applied, err := edit.Apply(src, edits); err != nil || !bytes.Equal(applied, out) {
			t.Fatalf("the edits (%v) do not give the file Add returned", err)
		}
		before, err := documents(src)
		if err != nil {
			return // a later document does not parse: nothing to compare against
		}
		after, err := documents(out)
		if err != nil {
			t.Fatalf("the file does not parse after Add: %v\n%s", err, out)
		}
		again, err := ParseRole("role.yaml", out, r.Name)
		if err != nil {
			t.Fatalf("the role does not parse after Add: %v\n%s", err, out)
		}
		if missing, extra := Difference(append(slices.Clone(r.Rules), DiagnosticsRules...), again.Rules); len(missing) > 0 || len(extra) > 0 {
			t.Fatalf("Add lost %v and granted %v more:\n%s", missing, extra, out)
		}
		for _, docs := range [][]any{before, after} {
			for _, d := range docs {
				if m, ok := d.(map[string]any); ok && m["kind"] == "ClusterRole" {
					delete(m, "rules")
				}
			}
		}
		if d := cmp.Diff(before, after); d != "" {
			t.Fatalf("Add changed more than the rules (-before +after):\n%s", d)
		}
		if twice, es, err := again.Add(DiagnosticsRules, family); err != nil || len(es) != 0 || !bytes.Equal(twice, out) {
			t.Fatalf("second Add: %v, %v", es, err)
		}
	})
}

// checkPositioned: err is a *edit.PositionError naming role.yaml and a line, but for a file that is not
// YAML or holds no role (expected).
func checkPositioned(t *testing.T, err error, expected string) {
	t.Helper()
	var pe *edit.PositionError
	if !errors.As(err, &pe) || pe.File != "role.yaml" {
		t.Fatalf("error %q (%T) does not name role.yaml", err, err)
	}
	if pe.Line <= 0 && pe.Expected != "YAML" && pe.Expected != expected {
		t.Fatalf("error %q names no line", err)
	}
}

// documents decodes every document of src, mappings as map[string]any whatever their keys' types.
func documents(src []byte) ([]any, error) {
	var docs []any
	dec := yamlv3.NewDecoder(bytes.NewReader(src))
	for {
		var doc any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return docs, nil
		} else if err != nil {
			return nil, err
		}
		docs = append(docs, stringKeys(doc))
	}
}

func stringKeys(v any) any {
	switch v := v.(type) {
	case map[any]any:
		m := map[string]any{}
		for k, e := range v {
			m[fmt.Sprint(k)] = stringKeys(e)
		}
		return m
	case map[string]any:
		for k, e := range v {
			v[k] = stringKeys(e)
		}
	case []any:
		for i, e := range v {
			v[i] = stringKeys(e)
		}
	}
	return v
}
