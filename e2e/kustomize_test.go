// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/diagkit/diagkit/diagnostics"
	"github.com/diagkit/diagkit/e2e/framework"
	"github.com/diagkit/diagkit/kustomize"
)

// kustomizeFixtures are the kustomize package's fixtures that deploy a manager (see
// kustomize/testdata/README.md): project shapes with the components in config/default or in an overlay,
// and the manager args in every YAML style that builds.
var kustomizeFixtures = []string{"kubebuilder-v3", "kubebuilder-v3-overlay", "kubebuilder-v4", "kubebuilder-v4-overlay",
	"capi-provider", "eks-anywhere",
	"args-styles/plain", "args-styles/double-quoted", "args-styles/single-quoted", "args-styles/flow", "args-styles/commented"}

// kustomizeFixtureDirs names the kustomization a fixture builds, where it is not <fixture>/config/default.
var kustomizeFixtureDirs = map[string]string{
	"kubebuilder-v3":         "kubebuilder-v3/config/diagkit-in-default",
	"kubebuilder-v3-overlay": "kubebuilder-v3/config/diagkit-overlay",
	"kubebuilder-v4":         "kubebuilder-v4/config/diagkit-in-default",
	"kubebuilder-v4-overlay": "kubebuilder-v4/config/diagkit-overlay",
}

func kustomizeFixtureDir(fixture string) string {
	dir := filepath.Join(fixture, "config", "default")
	if d, ok := kustomizeFixtureDirs[fixture]; ok {
		dir = d
	} else if strings.HasPrefix(fixture, "args-styles/") {
		dir = fixture
	}
	return filepath.Join("..", "kustomize", "testdata", dir)
}

// TestKustomizeComponentsOnAPIServer creates the rendered output of every kustomize fixture on the real
// API server (which validates every object, monitors and certificates against their CRDs), checks the
// manager as the API server stores it, then asks the API server what the resulting RBAC allows. Fixtures
// share names (a project adopting the components in config/default or in an overlay), so each one's objects
// are deleted before the next is created.
func TestKustomizeComponentsOnAPIServer(t *testing.T) {
	cp := controlPlane
	for _, fixture := range kustomizeFixtures {
		t.Run(fixture, func(t *testing.T) {
			ctx := t.Context()
			objs := applyFixture(t, cp, fixture)
			t.Cleanup(func() { deleteObjects(t, cp, objs) })
			checkStoredManager(t, cp, objs)

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
	out, err := kustomize.Build(kustomizeFixtureDir(fixture))
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

// checkStoredManager reads the manager Deployment back from the API server: exactly one diagnostics address
// and no older metrics flag in its args, and exactly one Service of the output selecting its pods on 8443.
func checkStoredManager(t *testing.T, cp *framework.ControlPlane, objs []*unstructured.Unstructured) {
	t.Helper()
	cl := adminClient(t, cp)
	var deploy appsv1.Deployment
	var services []string
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			if err := cl.Get(t.Context(), client.ObjectKeyFromObject(o), &deploy); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, o := range objs {
		if o.GetKind() != "Service" {
			continue
		}
		var svc corev1.Service
		if err := cl.Get(t.Context(), client.ObjectKeyFromObject(o), &svc); err != nil {
			t.Fatal(err)
		}
		selected := len(svc.Spec.Selector) > 0 && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(deploy.Spec.Template.Labels))
		for _, p := range svc.Spec.Ports {
			if selected && (p.TargetPort.IntValue() == 8443 || p.TargetPort.String() == "metrics") {
				services = append(services, svc.Name)
			}
		}
	}
	if len(services) != 1 {
		t.Errorf("Services reaching the manager's port 8443: %v, want exactly one", services)
	}
	for _, c := range deploy.Spec.Template.Spec.Containers {
		if c.Name != "manager" {
			continue
		}
		var addresses []string
		for _, a := range c.Args {
			if strings.HasPrefix(a, "--"+diagnostics.FlagDiagnosticsAddress+"=") || strings.Contains(a, "metrics-bind-addr") || strings.Contains(a, "metrics-addr") {
				addresses = append(addresses, a)
			}
		}
		if want := []string{"--" + diagnostics.FlagDiagnosticsAddress + "=:8443"}; !slices.Equal(addresses, want) {
			t.Errorf("manager args %v: metrics addresses %v, want %v", c.Args, addresses, want)
		}
		return
	}
	t.Errorf("Deployment %s has no container named manager", deploy.Name)
}

// deleteObjects deletes what applyFixture created, but for namespaces and CustomResourceDefinitions (shared,
// and slow to go), and waits until the API server no longer has them.
func deleteObjects(t *testing.T, cp *framework.ControlPlane, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	cl := adminClient(t, cp)
	var deleted []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Namespace" || o.GetKind() == "CustomResourceDefinition" {
			continue
		}
		err := cl.Delete(ctx, o.DeepCopy(), client.PropagationPolicy(metav1.DeletePropagationBackground))
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete %s %s: %v", o.GetKind(), o.GetName(), err)
			continue
		}
		deleted = append(deleted, o)
	}
	for _, o := range deleted {
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			err := cl.Get(ctx, client.ObjectKeyFromObject(o), o.DeepCopy())
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			t.Errorf("%s %s is still there: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

func adminClient(t *testing.T, cp *framework.ControlPlane) client.Client {
	t.Helper()
	cl, err := client.New(cp.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cl
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
