// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"bytes"
	"errors"
	"fmt"
	"go/parser"
	"go/scanner"
	"go/token"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/diagkit/diagkit/generator/edit"
	"github.com/diagkit/diagkit/generator/kustomization"
)

// ErrVerify marks a plan whose own output failed verification: a defect of diagkit (or a shape of the
// repository it does not handle), never written.
var ErrVerify = errors.New("the planned change fails verification; nothing was written")

// verify checks the plan's output in memory, before anything is written: every planned YAML and Go file
// parses, every Go package changed still resolves its names (verifyNames), every kustomization that rendered before still renders, and where config/default deployed the
// manager it now deploys it serving diagnostics (address, port, no kube-rbac-proxy beside it). Helm
// templates are not YAML; the helmchart unit renders and checks its own patches.
func verify(t *Target, p *Plan) error {
	overlay := map[string][]byte{}
	for _, c := range p.Changes {
		overlay[c.Path] = c.After
		var err error
		switch {
		case strings.HasSuffix(c.Path, ".go"):
			err = verifyGo(c.Path, c.After)
		case isYAML(c.Path) && !t.isChartFile(c.Path):
			err = verifyYAML(c.Path, c.After)
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrVerify, err)
		}
	}
	if err := verifyNames(t, p); err != nil {
		return fmt.Errorf("%w: %w", ErrVerify, err)
	}
	if len(overlay) == 0 || t.Kustomize == nil {
		return nil
	}
	for _, dir := range t.Kustomize.Dirs {
		if _, ok := t.rendered[dir]; !ok {
			continue // broken before diagkit came (a file the Makefile generates, say): not ours to judge
		}
		after, err := t.Kustomize.Render(dir, overlay)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrVerify, &edit.PositionError{File: path.Join(dir, "kustomization.yaml"),
				Expected: "a kustomization that still renders after the retrofit", Found: oneLine(err.Error())})
		}
		if dir != "config/default" || t.Deployed[dir] == nil {
			continue
		}
		now, err := kustomization.FindDeployed(after, t.Container.Deployment, t.Container.Name)
		if err != nil || now == nil {
			return fmt.Errorf("%w: %w", ErrVerify, &edit.PositionError{File: path.Join(dir, "kustomization.yaml"),
				Expected: "the manager's Deployment " + t.Container.Deployment + " in the rendered tree", Found: fmt.Sprint("none ", err)})
		}
		if ok, why := now.ServesDiagnostics(); !ok {
			return fmt.Errorf("%w: %w", ErrVerify, &edit.PositionError{File: path.Join(dir, "kustomization.yaml"),
				Expected: "a manager serving diagnostics once rendered", Found: why})
		}
	}
	return nil
}

func isYAML(p string) bool { return strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") }

func verifyGo(file string, src []byte) error {
	_, err := parser.ParseFile(token.NewFileSet(), file, src, parser.ParseComments)
	var list scanner.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		return &edit.PositionError{File: file, Line: list[0].Pos.Line, Expected: "Go source that parses", Found: list[0].Msg}
	}
	return err
}

// yamlLine is where yaml.v3 says a parse error is.
var yamlLine = regexp.MustCompile(`line (\d+)`)

func verifyYAML(file string, src []byte) error {
	dec := yamlv3.NewDecoder(bytes.NewReader(src))
	for {
		var n yamlv3.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			line := 0
			if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
				line, _ = strconv.Atoi(m[1])
			}
			return &edit.PositionError{File: file, Line: line, Expected: "YAML that parses", Found: strings.TrimPrefix(err.Error(), "yaml: ")}
		}
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}
