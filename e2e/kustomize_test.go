// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/diagkit/diagkit/e2e/framework"
	"github.com/diagkit/diagkit/kustomize"
)

// TestKustomizeComponentsOnAPIServer creates the rendered output of every kustomize fixture on the real
// API server (which validates every object, monitors and certificates against their CRDs), then asks
// the API server what the resulting RBAC allows.
func TestKustomizeComponentsOnAPIServer(t *testing.T) {
	cp := controlPlane
	for _, fixture := range []string{"kubebuilder-v3", "kubebuilder-v4", "capi-provider", "eks-anywhere"} {
		t.Run(fixture, func(t *testing.T) {
			ctx := t.Context()
			objs := applyFixture(t, cp, fixture)

			manager := managerSubject(t, objs)
			ns := manager.Namespace
			reader := framework.Subject{Namespace: ns, ServiceAccount: "probe-metrics-reader"}
			debugger := framework.Subject{Namespace: ns, ServiceAccount: "probe-debugger"}
			bindTo(t, cp, reader, clusterRoleEndingIn(t, objs, "metrics-reader"))
			bindTo(t, cp, debugger, clusterRoleEndingIn(t, objs, "diagnostics-debugger"))

			review := func(group, resource string) authorizationv1.SubjectAccessReviewSpec {
				return authorizationv1.SubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Group: group, Resource: resource, Verb: "create"}}
			}
			url := func(verb, path string) authorizationv1.SubjectAccessReviewSpec {
				return authorizationv1.SubjectAccessReviewSpec{NonResourceAttributes: &authorizationv1.NonResourceAttributes{Verb: verb, Path: path}}
			}
			cases := []struct {
				name  string
				who   framework.Subject
				attrs authorizationv1.SubjectAccessReviewSpec
				want  bool
			}{
				{"manager can create tokenreviews", manager, review("authentication.k8s.io", "tokenreviews"), true},
				{"manager can create subjectaccessreviews", manager, review("authorization.k8s.io", "subjectaccessreviews"), true},
				{"manager cannot create secrets", manager, review("", "secrets"), false},
				{"manager cannot get /metrics", manager, url("get", "/metrics"), false},
				{"metrics-reader can get /metrics", reader, url("get", "/metrics"), true},
				{"metrics-reader cannot get /debug/pprof/", reader, url("get", "/debug/pprof/"), false},
				{"metrics-reader cannot put /debug/flags/v", reader, url("put", "/debug/flags/v"), false},
				{"diagnostics-debugger can get /debug/pprof/heap", debugger, url("get", "/debug/pprof/heap"), true},
				{"diagnostics-debugger can put /debug/flags/v", debugger, url("put", "/debug/flags/v"), true},
				{"diagnostics-debugger cannot get /metrics", debugger, url("get", "/metrics"), false},
			}
			if scraper, ok := serviceAccountEndingIn(objs, "diagnostics-scraper"); ok {
				cases = append(cases,
					struct {
						name  string
						who   framework.Subject
						attrs authorizationv1.SubjectAccessReviewSpec
						want  bool
					}{"Prometheus scraper can get /metrics", scraper, url("get", "/metrics"), true},
					struct {
						name  string
						who   framework.Subject
						attrs authorizationv1.SubjectAccessReviewSpec
						want  bool
					}{"Prometheus scraper cannot get /debug/pprof/", scraper, url("get", "/debug/pprof/"), false},
				)
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					got, err := cp.Allowed(ctx, c.who, c.attrs)
					if err != nil {
						t.Fatal(err)
					}
					if got != c.want {
						t.Errorf("allowed = %v, want %v", got, c.want)
					}
				})
			}
		})
	}
}

// applyFixture builds a kustomize fixture and creates its output on the API server (with the CRDs it needs),
// as an operator applies it.
func applyFixture(t *testing.T, cp *framework.ControlPlane, fixture string) []*unstructured.Unstructured {
	t.Helper()
	if err := cp.InstallCRDs(); err != nil {
		t.Fatal(err)
	}
	out, err := kustomize.Build(filepath.Join("..", "kustomize", "testdata", fixture, "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := framework.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.Create(t.Context(), objs); err != nil {
		t.Fatalf("the API server refused the rendered output of %s: %v", fixture, err)
	}
	return objs
}

// managerSubject is the ServiceAccount the manager Deployment runs as.
func managerSubject(t *testing.T, objs []*unstructured.Unstructured) framework.Subject {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			sa, _, _ := unstructured.NestedString(o.Object, "spec", "template", "spec", "serviceAccountName")
			return framework.Subject{Namespace: o.GetNamespace(), ServiceAccount: sa}
		}
	}
	t.Fatal("no Deployment in the output")
	return framework.Subject{}
}

func clusterRoleEndingIn(t *testing.T, objs []*unstructured.Unstructured, suffix string) string {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == "ClusterRole" && strings.HasSuffix(o.GetName(), suffix) {
			return o.GetName()
		}
	}
	t.Fatalf("no ClusterRole named *%s in the output", suffix)
	return ""
}

func serviceAccountEndingIn(objs []*unstructured.Unstructured, suffix string) (framework.Subject, bool) {
	for _, o := range objs {
		if o.GetKind() == "ServiceAccount" && strings.HasSuffix(o.GetName(), suffix) {
			return framework.Subject{Namespace: o.GetNamespace(), ServiceAccount: o.GetName()}, true
		}
	}
	return framework.Subject{}, false
}

// bindTo binds a ServiceAccount (created here) to an existing ClusterRole, as an operator would.
func bindTo(t *testing.T, cp *framework.ControlPlane, who framework.Subject, clusterRole string) {
	t.Helper()
	if _, err := cp.ServiceAccountToken(t.Context(), who.Namespace, who.ServiceAccount); err != nil {
		t.Fatal(err)
	}
	if err := cp.Bind(t.Context(), who.Namespace, who.ServiceAccount, clusterRole, fmt.Sprintf("%s-%s", who.ServiceAccount, clusterRole)); err != nil {
		t.Fatal(err)
	}
}
