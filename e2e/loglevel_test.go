// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/diagkit/diagkit/e2e/framework"
)

// TestLogLevelReachesZap: the sample manager logs through controller-runtime's zap, as etcdadm and the
// Nutanix provider do; PUT /debug/flags/v must change what it logs, not only klog's verbosity.
func TestLogLevelReachesZap(t *testing.T) {
	cp := controlPlane
	ctx := t.Context()
	mgr, addr := startManager(t, cp, "zap-manager")
	url := "https://" + addr + "/debug/flags/v"
	token := caller(t, cp, "zap-log-level", framework.LogLevelRule)
	client := framework.Client(tls.VersionTLS12, 0)

	setLevel := func(t *testing.T, v string) {
		t.Helper()
		resp, err := framework.Call(ctx, client, http.MethodPut, url, token, v)
		if err != nil || resp.Status != http.StatusOK || !strings.Contains(resp.Body, "zap level") {
			t.Fatalf("PUT %s: %v %d %q", v, err, resp.Status, resp.Body)
		}
	}
	// reconciled reports whether the manager logged the reconcile of the ConfigMap (controller-runtime
	// logs "Reconciling" at V(5)).
	reconciled := func(name string) bool {
		for _, line := range strings.Split(mgr.Logs(), "\n") {
			if strings.Contains(line, `"msg":"Reconciling"`) && strings.Contains(line, `"name":"`+name+`"`) {
				return true
			}
		}
		return false
	}
	touch := func(t *testing.T, name string) {
		t.Helper()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
		if _, err := cp.Clientset.CoreV1().ConfigMaps(namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("verbosity 0 silences V(5) messages", func(t *testing.T) {
		setLevel(t, "0")
		touch(t, "zap-quiet")
		time.Sleep(2 * time.Second) // the reconcile happens within milliseconds; its log line must not
		if reconciled("zap-quiet") {
			t.Error("a V(5) message was logged at verbosity 0")
		}
	})
	t.Run("verbosity 5 brings them back", func(t *testing.T) {
		setLevel(t, "5")
		touch(t, "zap-loud")
		deadline := time.Now().Add(15 * time.Second)
		for !reconciled("zap-loud") {
			if time.Now().After(deadline) {
				t.Fatal("no V(5) message 15s after raising the verbosity to 5")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
