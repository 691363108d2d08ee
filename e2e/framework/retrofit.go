// SPDX-License-Identifier: Apache-2.0

package framework

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/diagkit/diagkit/generator"
	"github.com/diagkit/diagkit/generator/gosource"
)

// RepoRoot returns the root of this checkout, found from this file's location (tests and `go run`
// always build from source).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// RetrofitCopy copies the repository src into dir and runs `diagkit retrofit` on the copy.
func RetrofitCopy(src, dir string) (*generator.Plan, error) {
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		return nil, fmt.Errorf("copy %s: %w", src, err)
	}
	return Retrofit(dir)
}

// Retrofit runs `diagkit retrofit` on the repository in dir: every manager of its commands.
func Retrofit(dir string) (*generator.Plan, error) {
	plan, err := generator.RetrofitRepository(dir, nil, generator.Options{})
	if err != nil {
		return nil, err
	}
	return plan, generator.Apply(plan)
}

// BuildRetrofitted builds the package pkg of a retrofitted module into bin: against this checkout's
// diagnostics module (it is not published), after the go mod tidy the plan asks for.
func BuildRetrofitted(ctx context.Context, dir, pkg, bin string, plan *generator.Plan) error {
	var steps [][]string
	if plan.Backend == string(gosource.Diagkit) {
		steps = append(steps, []string{"go", "mod", "edit", "-replace", gosource.DiagnosticsImport + "=" + filepath.Join(RepoRoot(), "diagnostics")})
	}
	steps = append(steps, []string{"go", "mod", "tidy"}, []string{"go", "build", "-o", bin, pkg})
	for _, s := range steps {
		cmd := exec.CommandContext(ctx, s[0], s[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%v in %s: %w\n%s", s, dir, err, out)
		}
	}
	return nil
}

// ClusterRoleRules returns the rules of the first ClusterRole in a role.yaml.
func ClusterRoleRules(path string) ([]Rule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var role rbacv1.ClusterRole
		if err := yaml.Unmarshal([]byte(doc), &role); err == nil && role.Kind == "ClusterRole" {
			return role.Rules, nil
		}
	}
	return nil, fmt.Errorf("%s: no ClusterRole", path)
}
