// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/gosource"
)

// Main names one manager of a repository, as --main FILE[=MANIFEST] does.
type Main struct {
	// File is the Go file that creates the manager, relative to the repository.
	File string
	// Manifest is the file of the Deployment that runs it; empty chooses (DetectOptions.Manifest).
	Manifest string
}

// ParseMain reads FILE or FILE=MANIFEST.
func ParseMain(s string) (Main, error) {
	file, manifest, _ := strings.Cut(s, "=")
	if file == "" || strings.HasSuffix(s, "=") {
		return Main{}, fmt.Errorf("--main %q: want FILE or FILE=MANIFEST (the Go file creating the manager, and the YAML file of the Deployment running it)", s)
	}
	if manifest != "" && !isYAML(manifest) {
		return Main{}, fmt.Errorf("--main %q: the manifest %q is not a .yaml or .yml file", s, manifest)
	}
	return Main{File: file, Manifest: manifest}, nil
}

// DetectEach reads the managers named, or every manager of the repository's commands when none is: one
// Target each, all read from the repository as it is. Detect's own options apply to every one.
func DetectEach(root string, mains []Main, opts DetectOptions) ([]*Target, error) {
	if len(mains) == 0 {
		t, err := Detect(root, opts)
		var several *SeveralManagersError
		if !errors.As(err, &several) && !errors.As(t.managerErr(), &several) {
			return []*Target{t}, err
		}
		for _, f := range several.Files {
			mains = append(mains, Main{File: f})
		}
	}
	var targets []*Target
	for _, m := range mains {
		o := opts
		o.Main, o.Manifest = m.File, m.Manifest
		t, err := Detect(root, o)
		if err != nil {
			return targets, err
		}
		targets = append(targets, t)
	}
	return targets, nil
}

func (t *Target) managerErr() error {
	if t == nil {
		return nil
	}
	return t.ManagerErr
}

// RetrofitRepository plans, as one plan, the retrofit of the managers named — or of every manager the
// repository's commands create, when none is (an operator and its webhook server, say). Each is planned
// in turn on the repository as the ones before leave it, so that what they share (go.mod, the Makefile's
// RBAC paths, role.yaml) is edited once and each keeps its own flags and Deployment. Of the managers
// found by itself, one whose metrics server is off in code is left alone and said so; two that the
// manifests cannot tell apart (both run by the same container) are refused with how to name each one's.
func RetrofitRepository(root string, mains []Main, opts Options) (*Plan, error) {
	found := len(mains) == 0
	if found {
		t, err := Detect(root, DetectOptions{})
		var several *SeveralManagersError
		if !errors.As(err, &several) {
			if err != nil {
				return nil, err
			}
			return Retrofit(t, opts)
		}
		for _, f := range several.Files {
			mains = append(mains, Main{File: f})
		}
	}
	var (
		plans   []*Plan
		notes   []string
		overlay = map[string][]byte{}
		runBy   = map[string]string{} // "file Deployment/container" → main
	)
	for _, m := range mains {
		t, err := Detect(root, DetectOptions{Main: m.File, Manifest: m.Manifest, overlay: overlay})
		if found && errors.Is(err, gosource.ErrMetricsOff) {
			notes = append(notes, fmt.Sprintf("%s: left alone: %s", m.File, strings.TrimPrefix(err.Error(), edit.ErrRefused.Error()+": ")))
			continue
		}
		if err != nil {
			return nil, err
		}
		where := "no Deployment found"
		if c := t.Container; c != nil {
			key := c.Path + " " + c.Deployment + "/" + c.Name
			if other, ok := runBy[key]; ok {
				return nil, edit.Refusedf("%s and %s both look run by container %s of Deployment %s (%s): name each one's Deployment, "+
					"--main %s=MANIFEST --main %s=MANIFEST, or retrofit them one at a time", other, m.File, c.Name, c.Deployment, c.Path, other, m.File)
			}
			runBy[key] = m.File
			where = fmt.Sprintf("Deployment %s, container %s (%s)", c.Deployment, c.Name, c.Path)
		}
		p, err := Retrofit(t, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.File, err)
		}
		notes = append(notes, m.File+": "+where)
		for _, c := range p.Changes {
			overlay[c.Path] = c.After
		}
		plans = append(plans, p)
	}
	if len(plans) == 0 {
		return nil, edit.Refusedf("no manager to retrofit: %s", strings.Join(notes, "; "))
	}
	p, err := merge(plans)
	if err != nil {
		return nil, err
	}
	if len(mains) > 1 {
		p.Managers = notes
	}
	return p, nil
}

// merge joins plans made one on top of the other into one plan from the repository as it is: a file
// keeps its first content before and its last after, and the reasons of each.
func merge(plans []*Plan) (*Plan, error) {
	out := &Plan{Root: plans[0].Root, Backend: plans[0].Backend}
	byPath := map[string]*FileChange{}
	var order []string
	for _, p := range plans {
		if p.Backend != out.Backend && !strings.Contains(out.Backend, p.Backend) {
			out.Backend += ", " + p.Backend
		}
		for _, c := range p.Changes {
			prev, ok := byPath[c.Path]
			if !ok {
				cc := c
				byPath[c.Path], order = &cc, append(order, c.Path)
				continue
			}
			if !bytes.Equal(prev.After, c.Before) {
				return nil, fmt.Errorf("%w: %s: a later manager's plan did not start from the earlier one's result", ErrVerify, c.Path)
			}
			prev.After = c.After
			prev.Reasons = append(prev.Reasons, c.Reasons...)
			prev.Edited = editedRanges(prev.Before, prev.After)
		}
		for _, w := range p.Warnings {
			if !slices.Contains(out.Warnings, w) {
				out.Warnings = append(out.Warnings, w)
			}
		}
		for _, n := range p.Next {
			if !slices.Contains(out.Next, n) {
				out.Next = append(out.Next, n)
			}
		}
	}
	slices.Sort(order)
	for _, file := range order {
		if c := byPath[file]; !bytes.Equal(c.Before, c.After) {
			out.Changes = append(out.Changes, *c)
		}
	}
	return out, nil
}

// editedRanges are the byte ranges of before that a line diff to after replaces.
func editedRanges(before, after []byte) [][2]int {
	a, b := difflib.SplitLines(string(before)), difflib.SplitLines(string(after))
	offsets := make([]int, len(a)+1)
	for i, line := range a {
		offsets[i+1] = offsets[i] + len(line)
	}
	var ranges [][2]int
	for _, op := range difflib.NewMatcher(a, b).GetOpCodes() {
		if op.Tag != 'e' {
			end := min(offsets[op.I2], len(before))
			ranges = append(ranges, [2]int{min(offsets[op.I1], len(before)), end})
		}
	}
	return ranges
}
