// SPDX-License-Identifier: Apache-2.0

package kustomize

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigyaml "sigs.k8s.io/yaml"

	"github.com/diagkit/diagkit/metricsproxy"
)

// TestNodeMetricsProxyWiring checks what the node-metrics-proxy components promise, on the overlay fixture:
// each DaemonSet's args are a valid proxy configuration once the kubelet substitutes NODE_IP, every
// upstream's listen port is a declared port the PodMonitor scrapes, the RBAC names the DaemonSets' account, and
// the reader role grants every path the proxy authorizes.
func TestNodeMetricsProxyWiring(t *testing.T) {
	out, err := Build(fixtureDir("node-metrics-proxy"))
	if err != nil {
		t.Fatal(err)
	}
	var daemonSets []appsv1.DaemonSet
	var monitor podMonitor
	bindings := map[string]rbacv1.ClusterRoleBinding{}
	roles := map[string]rbacv1.ClusterRole{}
	for _, n := range parse(t, out) {
		switch n.GetKind() {
		case "DaemonSet":
			var ds appsv1.DaemonSet
			decode(t, n, &ds)
			daemonSets = append(daemonSets, ds)
		case "PodMonitor":
			decode(t, n, &monitor)
		case "ClusterRoleBinding":
			var b rbacv1.ClusterRoleBinding
			decode(t, n, &b)
			bindings[b.RoleRef.Name] = b
		case "ClusterRole":
			var r rbacv1.ClusterRole
			decode(t, n, &r)
			roles[r.Name] = r
		}
	}
	if len(daemonSets) != 2 {
		t.Fatalf("%d DaemonSets, want the node and the control-plane one", len(daemonSets))
	}

	scraped := map[string]bool{}
	for _, e := range monitor.Spec.PodMetricsEndpoints {
		scraped[e.Port] = true
		if e.Scheme != "https" || e.Authorization.Credentials.Name != "diagkit-node-metrics-scraper-token" {
			t.Errorf("PodMonitor endpoint %s: want https with the scraper's token Secret", e.Port)
		}
	}
	var upstreams []string
	for _, ds := range daemonSets {
		pod := ds.Spec.Template.Spec
		if !pod.HostNetwork {
			t.Errorf("%s: not on the host network; the upstreams listen on the node's loopback", ds.Name)
		}
		if pod.ServiceAccountName != bindings["diagkit-node-metrics-proxy"].Subjects[0].Name {
			t.Errorf("%s runs as %q, the review ClusterRoleBinding names %q", ds.Name, pod.ServiceAccountName, bindings["diagkit-node-metrics-proxy"].Subjects[0].Name)
		}
		if !slices.ContainsFunc(pod.Tolerations, func(tol corev1.Toleration) bool {
			return tol.Key == "node-role.kubernetes.io/control-plane" && tol.Operator == corev1.TolerationOpExists
		}) {
			t.Errorf("%s does not tolerate control-plane nodes", ds.Name)
		}
		// The fixture includes node-metrics-proxy-control-plane-only: both run on control-plane nodes only.
		if _, ok := pod.NodeSelector["node-role.kubernetes.io/control-plane"]; !ok {
			t.Errorf("%s: nodeSelector %v, want control-plane nodes only", ds.Name, pod.NodeSelector)
		}
		if ds.Spec.Template.Labels["app.kubernetes.io/part-of"] != monitor.Spec.Selector.MatchLabels["app.kubernetes.io/part-of"] {
			t.Errorf("%s: the PodMonitor does not select its pods", ds.Name)
		}
		c := pod.Containers[0]
		if len(c.Env) == 0 || c.Env[0].Name != "NODE_IP" || c.Env[0].ValueFrom == nil || c.Env[0].ValueFrom.FieldRef.FieldPath != "status.hostIP" {
			t.Errorf("%s: NODE_IP does not come from status.hostIP", ds.Name)
		}
		ports := map[string]string{}
		for _, p := range c.Ports {
			ports[strconv.Itoa(int(p.ContainerPort))] = p.Name
			if !scraped[p.Name] {
				t.Errorf("%s: port %s is not scraped by the PodMonitor", ds.Name, p.Name)
			}
		}
		// What the kubelet runs: $(NODE_IP) expanded from the env.
		args := make([]string, len(c.Args))
		for i, a := range c.Args {
			args[i] = strings.ReplaceAll(a, "$(NODE_IP)", "10.0.0.7")
		}
		var o metricsproxy.Options
		fs := pflag.NewFlagSet(ds.Name, pflag.ContinueOnError)
		if err := o.AddFlags(fs); err != nil {
			t.Fatal(err)
		}
		if err := fs.Parse(args); err != nil {
			t.Fatalf("%s: %v", ds.Name, err)
		}
		if err := o.Validate(); err != nil {
			t.Fatalf("%s: args %v: %v", ds.Name, args, err)
		}
		for _, u := range o.Upstreams {
			upstreams = append(upstreams, u.Name)
			for _, p := range u.AuthorizedPaths() {
				if !grantsGet(roles["diagkit-node-metrics-reader"], p) {
					t.Errorf("%s: upstream %s authorizes get on %s, which node-metrics-reader does not grant", ds.Name, u.Name, p)
				}
			}
			if _, ok := ports[u.URL.Port()]; !ok || o.BindAddress != "10.0.0.7" {
				t.Errorf("%s: upstream %s listens on %s:%s, which is not a declared port", ds.Name, u.Name, o.BindAddress, u.URL.Port())
			}
		}
	}
	slices.Sort(upstreams)
	if want := []string{"etcd", "kube-controller-manager", "kube-proxy", "kube-scheduler"}; !slices.Equal(upstreams, want) {
		t.Errorf("upstreams %v, want %v", upstreams, want)
	}
}

// grantsGet reports whether r allows get on the non-resource URL path, as RBAC matches nonResourceURLs:
// exactly, or by prefix when the rule ends in *.
func grantsGet(r rbacv1.ClusterRole, path string) bool {
	for _, rule := range r.Rules {
		if !slices.Contains(rule.Verbs, "get") && !slices.Contains(rule.Verbs, "*") {
			continue
		}
		for _, u := range rule.NonResourceURLs {
			if u == path || strings.HasSuffix(u, "*") && strings.HasPrefix(path, strings.TrimSuffix(u, "*")) {
				return true
			}
		}
	}
	return false
}

// podMonitor is the part of a Prometheus Operator PodMonitor checked here (decoded strictly, so a field
// outside it fails the test: keep it in step with pod_monitor.yaml).
type podMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Selector            metav1.LabelSelector `json:"selector"`
		PodMetricsEndpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Scheme        string `json:"scheme"`
			Authorization struct {
				Type        string                   `json:"type"`
				Credentials corev1.SecretKeySelector `json:"credentials"`
			} `json:"authorization"`
			TLSConfig struct {
				InsecureSkipVerify bool `json:"insecureSkipVerify"`
			} `json:"tlsConfig"`
			Relabelings []struct {
				TargetLabel string `json:"targetLabel"`
				Replacement string `json:"replacement"`
			} `json:"relabelings"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

func decode(t *testing.T, n *yaml.RNode, into any) {
	t.Helper()
	s, err := n.String()
	if err != nil {
		t.Fatal(err)
	}
	if err := sigyaml.UnmarshalStrict([]byte(s), into); err != nil {
		t.Fatalf("%s %s: %v", n.GetKind(), n.GetName(), err)
	}
}
