// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// TestManagerAgainstAPIServer runs a manager built from this module's own (minimum or newest) requirements
// against a real kube-apiserver and etcd. diagkit's e2e suite covers every case; this one proves that
// the module's versions of client-go and k8s.io/apiserver talk to a current API server.
func TestManagerAgainstAPIServer(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		// A plain `go test ./...` in this module runs the unit tests; `make test` (which CI runs) always
		// sets the variable, so this test never goes missing there.
		t.Skip("integration test against a real kube-apiserver: run `make test-diagnostics` from the repository root, or export KUBEBUILDER_ASSETS=$(make -s print-envtest-assets) first")
	}
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cs := kubernetes.NewForConfigOrDie(cfg)

	addr := freeAddress(t)
	o := Options{Address: addr}
	metricsOpts, _, err := o.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	// The manager runs as the envtest admin here; e2e runs it as a ServiceAccount with only the review RBAC.
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Metrics: metricsOpts})
	if err != nil {
		t.Fatalf("create manager: %v", err)
	}
	go func() { _ = mgr.Start(ctx) }()

	reader := serviceAccountToken(ctx, t, cs, "reader")
	bindNonResourceURL(ctx, t, cs, "reader", "/metrics", "get")
	unprivileged := serviceAccountToken(ctx, t, cs, "unprivileged")

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // controller-runtime's self-signed certificate
	}}
	waitForListener(t, addr)
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"anonymous caller is refused with 401", "", http.StatusUnauthorized},
		{"garbage token is refused with 401", "garbage", http.StatusUnauthorized},
		{"ServiceAccount without RBAC is refused with 403", unprivileged, http.StatusForbidden},
		{"metrics reader is served 200", reader, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/metrics", nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitForListener(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s after 30s", addr)
}

func serviceAccountToken(ctx context.Context, t *testing.T, cs kubernetes.Interface, name string) string {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	if _, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ServiceAccount %s: %v", name, err)
	}
	tr, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("request token for %s: %v", name, err)
	}
	return tr.Status.Token
}

func bindNonResourceURL(ctx context.Context, t *testing.T, cs kubernetes.Interface, sa, url, verb string) {
	t.Helper()
	name := fmt.Sprintf("%s-%s", sa, verb)
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{url}, Verbs: []string{verb}}}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: "default"}}}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}
