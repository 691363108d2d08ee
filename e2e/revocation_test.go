// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/diagkit/diagkit/e2e/framework"
)

// TestRevocation shortens the cache lifetimes through the options and checks that taking access away at
// the API server takes effect once they expire: a deleted binding gives 403, a deleted ServiceAccount 401.
func TestRevocation(t *testing.T) {
	cp := controlPlane
	ctx := t.Context()
	const ttl = 2 * time.Second
	_, addr := startManager(t, cp, "revocation-manager",
		"--diagnostics-token-cache-ttl="+ttl.String(), "--diagnostics-allow-cache-ttl="+ttl.String())
	url := "https://" + addr + "/metrics"
	client := framework.Client(tls.VersionTLS12, 0)

	// waitFor polls until the status changes from 200 and returns the new status and how long it took.
	// kube-apiserver itself remembers a valid token for 10s, so a deleted ServiceAccount's token can pass
	// one more TokenReview; the bound allows for that.
	const bound = ttl + 20*time.Second
	waitFor := func(t *testing.T, token string) (int, time.Duration) {
		t.Helper()
		start := time.Now()
		for time.Since(start) < bound {
			resp, err := framework.Call(ctx, client, http.MethodGet, url, token, "")
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != http.StatusOK {
				return resp.Status, time.Since(start)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("still served %s after access was taken away", bound)
		return 0, 0
	}
	scrape := func(t *testing.T, token string) {
		t.Helper()
		resp, err := framework.Call(ctx, client, http.MethodGet, url, token, "")
		if err != nil || resp.Status != http.StatusOK {
			t.Fatalf("before the change: status %d, %v", resp.Status, err)
		}
	}

	t.Run("a deleted ClusterRoleBinding gives 403 once the allow cache expires", func(t *testing.T) {
		token := caller(t, cp, "revoked-binding", framework.MetricsReaderRule)
		scrape(t, token)
		binding := "diagkit-e2e-revoked-binding-" + namespace + "-revoked-binding"
		if err := cp.Clientset.RbacV1().ClusterRoleBindings().Delete(ctx, binding, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		status, after := waitFor(t, token)
		t.Logf("status %d after %s", status, after.Round(100*time.Millisecond))
		if status != http.StatusForbidden {
			t.Errorf("status %d, want 403", status)
		}
	})
	t.Run("a deleted ServiceAccount gives 401 once the token cache expires", func(t *testing.T) {
		token := caller(t, cp, "revoked-account", framework.MetricsReaderRule)
		scrape(t, token)
		if err := cp.Clientset.CoreV1().ServiceAccounts(namespace).Delete(ctx, "revoked-account", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		status, after := waitFor(t, token)
		t.Logf("status %d after %s", status, after.Round(100*time.Millisecond))
		if status != http.StatusUnauthorized {
			t.Errorf("status %d, want 401 (controller-runtime's filter: 500)", status)
		}
	})
}
