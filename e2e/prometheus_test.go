// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/diagkit/diagkit/e2e/framework"
	"github.com/diagkit/diagkit/kustomize"
)

// The namespace of the Prometheus test: its three managers share it, as an operator's controllers can; two
// of them get cert-manager Certificates, each writing a Secret named after its own (prefixed) Certificate.
const (
	monitorNamespace = "diagkit-prometheus"
	// The node every pod of the test is bound to; nothing runs behind it.
	monitorNode = "diagkit-prometheus-node"
	// The label kube-prometheus-stack's Prometheus selects monitors by (its Helm release's name), added
	// with the patch README shows.
	releaseLabel = "kube-prometheus-stack"
	// How long the managers keep an accepted token and an allowed request (the scaffold's args set it,
	// the default is a minute), and the window in which reviews are counted: three lifetimes, in which
	// Prometheus scrapes every second.
	reviewCacheTTL = 5 * time.Second
	reviewWindow   = 3 * reviewCacheTTL
)

// TestPrometheus runs a real Prometheus, built by `make tools`, against the sample manager deployed with
// the components: the Prometheus Operator, run against the e2e API server, turns the ServiceMonitors and
// the PodMonitor that `kustomize build` renders into Prometheus' configuration, and a second Prometheus
// runs README's plain prometheus.yml job. kube-controller-manager's token controller fills the scraper's
// token Secret and its endpointslice controller publishes the pods, which the test creates, binds and
// reports running at this machine's address, where it runs the manager with the rendered Deployment's args.
// Everything is asserted through Prometheus' HTTP API.
func TestPrometheus(t *testing.T) {
	ctx := t.Context()
	cp := controlPlane
	dir := t.TempDir()
	if err := cp.InstallCRDs(); err != nil {
		t.Fatal(err)
	}
	if err := cp.InstallPrometheusOperatorCRDs(); err != nil {
		t.Fatal(err)
	}
	if err := cp.EnsureNamespace(ctx, monitorNamespace); err != nil {
		t.Fatal(err)
	}
	if err := cp.EnsureNode(ctx, monitorNode); err != nil {
		t.Fatal(err)
	}
	kcm, err := cp.StartControllers(dir, "serviceaccount-token-controller", "endpointslice-controller")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kcm.Stop()
		if t.Failed() {
			t.Logf("last lines of kube-controller-manager's log:\n%s", tail(kcm.Logs(), 20))
		}
	})

	// alpha verifies TLS (cert-manager); beta keeps the components' default (no CA to verify against) and
	// shares alpha's namespace, so each ServiceMonitor must pick its own manager's Service out of two.
	alpha := deployMonitored(t, dir, "alpha", monitorNamespace, "prometheus", "cert-manager")
	beta := deployMonitored(t, dir, "beta", monitorNamespace, "prometheus")
	// gamma's Certificate beside alpha's: were their Secrets named alike, the second could not be created.
	gamma := deployMonitored(t, dir, "gamma", monitorNamespace, "prometheus-pod-monitor", "cert-manager")
	managers := []*monitoredManager{alpha, beta, gamma}

	// Prometheus' own identity, for service discovery: a ServiceAccount with a token Secret, as
	// kube-prometheus-stack gives it, allowed to watch what discovery reads.
	sd := scraperIdentity(t, monitorNamespace, "prometheus-e2e", rbacv1.PolicyRule{
		APIGroups: []string{""}, Resources: []string{"services", "endpoints", "pods"}, Verbs: []string{"get", "list", "watch"},
	}, rbacv1.PolicyRule{
		APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"},
	})
	unprivileged := scraperIdentity(t, monitorNamespace, "prometheus-e2e-unprivileged")

	// The operator route.
	operator, err := cp.StartPrometheusOperator(dir, monitorNamespace)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = operator.Stop()
		if t.Failed() {
			t.Logf("last lines of the Prometheus Operator's log:\n%s", tail(operator.Logs(), 30))
		}
	})
	version := prometheusVersion(t)
	if err := cp.Create(ctx, []*unstructured.Unstructured{prometheusObject(cp, version, sd)}); err != nil {
		t.Fatal(err)
	}
	operated, err := cp.StartOperatedPrometheus(ctx, monitorNamespace, "e2e", filepath.Join(dir, "operated"), func(config string) bool {
		return !slices.ContainsFunc(managers, func(m *monitoredManager) bool { return !strings.Contains(config, "job_name: "+m.job) })
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopPrometheus(t, operated.Prometheus, "operated") })

	// The plain route: README's job, and the same job with what must fail.
	plain := startPlainPrometheus(t, dir, alpha, sd, unprivileged)

	t.Run("the Prometheus is the one make tools built, with its version set", func(t *testing.T) {
		var info struct {
			Version string `json:"version"`
		}
		if err := operated.Get(ctx, "/api/v1/status/buildinfo", &info); err != nil {
			t.Fatal(err)
		}
		// The same variable makes the User-Agent of its scrapes, Prometheus/<version>.
		if "v"+info.Version != version {
			t.Errorf("buildinfo version %q, want %q (hack/tools/prometheus)", info.Version, version)
		}
	})

	operatedTargets := waitForTargets(t, operated.Prometheus, func(pools map[string][]framework.Target) bool {
		for _, m := range managers {
			if ts := pools[m.job]; len(ts) == 0 || ts[0].Health != "up" {
				return false
			}
		}
		return true
	})
	plainTargets := waitForTargets(t, plain, func(pools map[string][]framework.Target) bool {
		for _, job := range []string{"reader", "unprivileged", "anonymous", "untrusted-ca", "wrong-server-name"} {
			if ts := pools[job]; len(ts) == 0 || ts[0].Health == "unknown" {
				return false
			}
		}
		return pools["reader"][0].Health == "up"
	})

	t.Run("each monitor scrapes exactly its own manager", func(t *testing.T) {
		for _, m := range managers {
			got := operatedTargets[m.job]
			if len(got) != 1 || got[0].Labels["instance"] != m.address {
				t.Errorf("%s: targets %v, want only %s", m.job, instances(got), m.address)
			}
		}
	})

	t.Run("the reader's jobs are up with the manager's series", func(t *testing.T) {
		for _, m := range managers {
			for _, series := range []string{
				`controller_runtime_reconcile_total`,
				`{__name__=~"workqueue_.+"}`,
				`diagkit_diagnostics_authentication_total{result="authenticated"} > 0`,
				`diagkit_diagnostics_authorization_total{decision="allowed"} > 0`,
			} {
				expr := fmt.Sprintf(`%s and on(instance) up{instance=%q} == 1`, series, m.address)
				if got := waitForSeries(t, operated.Prometheus, expr); len(got) == 0 {
					t.Errorf("%s: no series for %s", m.job, series)
				}
			}
		}
	})

	t.Run("the monitors verify TLS with the serving CA and the Service's name", func(t *testing.T) {
		var config struct {
			ScrapeConfigs []scrapeConfig `json:"scrape_configs"`
		}
		if err := yaml.Unmarshal([]byte(operated.Config), &config); err != nil {
			t.Fatal(err)
		}
		for _, m := range []*monitoredManager{alpha, gamma} {
			i := slices.IndexFunc(config.ScrapeConfigs, func(c scrapeConfig) bool { return c.JobName == m.job })
			if i < 0 {
				t.Fatalf("no job %s in the generated configuration", m.job)
			}
			tls := config.ScrapeConfigs[i].TLSConfig
			if tls.InsecureSkipVerify == nil || *tls.InsecureSkipVerify || tls.CAFile == "" || tls.ServerName != m.serverName {
				t.Errorf("%s: tls_config %+v, want a CA file, server_name %s and insecure_skip_verify false", m.job, tls, m.serverName)
			}
			// The CA Prometheus read is the one that signed the serving certificate (from the TLS assets
			// the operator copied), and the job is up: the certificate was verified against it.
			if got := operatedTargets[m.job]; len(got) != 1 || got[0].Health != "up" {
				t.Errorf("%s is not up", m.job)
			}
		}
	})

	for _, c := range []struct {
		name, job, health, lastError string
	}{
		{"README's plain job is up", "reader", "up", ""},
		{"an unprivileged scraper is refused with 403", "unprivileged", "down", "403 Forbidden"},
		{"an anonymous scraper is refused with 401", "anonymous", "down", "401 Unauthorized"},
		{"a CA that did not sign the serving certificate fails verification", "untrusted-ca", "down", "x509: certificate signed by unknown authority"},
		{"a server_name the certificate does not name fails verification", "wrong-server-name", "down", "x509: certificate is valid for " + alpha.serverName},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := plainTargets[c.job]
			if len(got) != 1 || got[0].Labels["instance"] != alpha.address {
				t.Fatalf("%s: targets %v, want only %s", c.job, instances(got), alpha.address)
			}
			if got[0].Health != c.health || !strings.Contains(got[0].LastError, c.lastError) {
				t.Errorf("%s: %s, last error %q; want %s with %q", c.job, got[0].Health, got[0].LastError, c.health, c.lastError)
			}
		})
	}

	t.Run("reviews stay at one TokenReview per token and cache lifetime while scraping every second", func(t *testing.T) {
		// Tokens presented, per manager: the scraper's at each, and at alpha also the plain Prometheus' own
		// and the unprivileged one. Each pair is reviewed once per lifetime of its cache entry: at most once
		// per lifetime in the window, plus one where an entry made before it expires in it.
		const pairs = 5
		lifetimes := int(reviewWindow / reviewCacheTTL)
		tr, sar := reviewDelta(t, cp, func() { time.Sleep(reviewWindow) })
		window := fmt.Sprintf("[%ds]", int(reviewWindow.Seconds()))
		scrapes := sumOf(t, operated.Prometheus, "count_over_time(up"+window+")") +
			sumOf(t, plain, `count_over_time(up{job=~"reader|unprivileged"}`+window+")")
		t.Logf("%d scrapes with a token in %s (%d cache lifetimes): %d TokenReviews and %d SubjectAccessReviews at the API server",
			scrapes, reviewWindow, lifetimes, tr, sar)
		if minimum := 5 * (int(reviewWindow.Seconds()) - 3); scrapes < minimum {
			t.Errorf("%d scrapes with a token in %s, want at least %d: Prometheus did not scrape every second", scrapes, reviewWindow, minimum)
		}
		if most := pairs * (lifetimes + 1); tr < pairs || tr > most || sar > most {
			t.Errorf("%d TokenReviews and %d SubjectAccessReviews for %d tokens presented to managers in %d cache lifetimes, want %d to %d TokenReviews and at most %d SubjectAccessReviews",
				tr, sar, pairs, lifetimes, pairs, most, most)
		}
	})
}

// scrapeConfig is the part of a generated scrape configuration the test checks.
type scrapeConfig struct {
	JobName   string `json:"job_name"`
	TLSConfig struct {
		CAFile             string `json:"ca_file"`
		ServerName         string `json:"server_name"`
		InsecureSkipVerify *bool  `json:"insecure_skip_verify"`
	} `json:"tls_config"`
}

// monitoredManager is one sample manager deployed from a rendered kustomization.
type monitoredManager struct {
	name, namespace string
	// job is the scrape pool the operator generates for the manager's monitor.
	job string
	// address is the pod's IP and metrics port, as service discovery finds it.
	address string
	// serverName is the diagnostics Service's DNS name, which the serving certificate is for.
	serverName string
	// scraperToken and servingCert name the Secrets the monitor uses.
	scraperToken, servingCert string
	// metricsReader is the rendered ClusterRole that grants get on /metrics.
	metricsReader string
}

// deployMonitored renders a kubebuilder-shaped project called name with the components (after
// diagnostics) and README's release label patch, creates the output on the API server, plays cert-manager
// for its Certificate, and runs its manager as the pod of its Deployment.
func deployMonitored(t *testing.T, dir, name, namespace string, components ...string) *monitoredManager {
	t.Helper()
	ctx := t.Context()
	cp := controlPlane
	objs := renderProject(t, filepath.Join(dir, "projects", name), name, namespace, components)
	if err := cp.Create(ctx, objs); err != nil {
		t.Fatalf("the API server refused the rendered output of %s: %v", name, err)
	}
	m := &monitoredManager{name: name, namespace: namespace}
	var deploy appsv1.Deployment
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment":
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &deploy); err != nil {
				t.Fatal(err)
			}
		case "ServiceMonitor":
			m.job = "serviceMonitor/" + namespace + "/" + o.GetName() + "/0"
		case "PodMonitor":
			m.job = "podMonitor/" + namespace + "/" + o.GetName() + "/0"
		case "Service":
			if strings.HasSuffix(o.GetName(), "diagnostics-service") {
				m.serverName = o.GetName() + "." + namespace + ".svc"
			}
		case "Secret":
			if strings.HasSuffix(o.GetName(), "diagnostics-scraper-token") {
				m.scraperToken = o.GetName()
			}
		case "Certificate":
			m.servingCert = issueCertificate(t, o)
		case "ClusterRole":
			if strings.HasSuffix(o.GetName(), "metrics-reader") {
				m.metricsReader = o.GetName()
			}
		}
	}
	if m.job == "" || deploy.Name == "" || m.scraperToken == "" || m.metricsReader == "" {
		t.Fatalf("%s renders no monitor, Deployment, scraper token Secret or metrics-reader ClusterRole", name)
	}
	waitForFilledToken(t, namespace, m.scraperToken)
	m.address = runPod(t, dir, &deploy)
	return m
}

// renderProject writes a project shaped like a kubebuilder v4 scaffold (a manager Deployment whose selector
// carries the project's name, its ServiceAccount and RBAC for its controller) with a config/default that
// lists the components, and returns what kustomize builds from it.
func renderProject(t *testing.T, root, name, namespace string, components []string) []*unstructured.Unstructured {
	t.Helper()
	manager := filepath.Join(root, "config", "manager")
	def := filepath.Join(root, "config", "default")
	rel, err := filepath.Rel(def, filepath.Join(framework.RepoRoot(), "kustomize", "components"))
	if err != nil {
		t.Fatal(err)
	}
	var kustomization strings.Builder
	fmt.Fprintf(&kustomization, "namespace: %s\nnamePrefix: %s-\nresources:\n- ../manager\ncomponents:\n- %s/diagnostics\n", namespace, name, rel)
	for _, c := range components {
		fmt.Fprintf(&kustomization, "- %s/%s\n", rel, c)
	}
	kustomization.WriteString(releaseLabelPatch)
	for path, content := range map[string]string{
		filepath.Join(manager, "kustomization.yaml"): "resources:\n- manager.yaml\n",
		filepath.Join(manager, "manager.yaml"):       strings.NewReplacer("PROJECT", name, "REVIEW_CACHE_TTL", reviewCacheTTL.String()).Replace(scaffoldManager),
		filepath.Join(def, "kustomization.yaml"):     kustomization.String(),
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Dir(path), filepath.Base(path), content)
	}
	out, err := kustomize.Build(def)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := framework.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// releaseLabelPatch is README's patch: the label kube-prometheus-stack's serviceMonitorSelector and
// podMonitorSelector expect, on whichever monitor the components render.
const releaseLabelPatch = `patches:
- target: {group: monitoring.coreos.com, kind: ServiceMonitor|PodMonitor}
  patch: |-
    apiVersion: monitoring.coreos.com/v1
    kind: ServiceMonitor
    metadata:
      name: diagnostics-monitor
      labels:
        release: ` + releaseLabel + "\n"

// scaffoldManager is config/manager of a kubebuilder v4 project named PROJECT, reduced to what the sample
// manager needs (it reconciles ConfigMaps), with args of its own that shorten the review caches.
const scaffoldManager = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: controller-manager
  namespace: system
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: manager-role
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: manager-rolebinding
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: manager-role
subjects:
- kind: ServiceAccount
  name: controller-manager
  namespace: system
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: controller-manager
  namespace: system
  labels:
    control-plane: controller-manager
spec:
  replicas: 1
  selector:
    matchLabels:
      control-plane: controller-manager
      app.kubernetes.io/name: PROJECT
  template:
    metadata:
      labels:
        control-plane: controller-manager
        app.kubernetes.io/name: PROJECT
    spec:
      serviceAccountName: controller-manager
      containers:
      - name: manager
        image: controller:latest
        args:
        - --diagnostics-token-cache-ttl=REVIEW_CACHE_TTL
        - --diagnostics-allow-cache-ttl=REVIEW_CACHE_TTL
`

// issueCertificate does cert-manager's part for a rendered Certificate: the Secret it names, with a
// certificate for its DNS names and the CA that signed it, as a CA issuer writes them. It returns the
// Secret's name.
func issueCertificate(t *testing.T, cert *unstructured.Unstructured) string {
	t.Helper()
	secret, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	ca, err := framework.NewCA(cert.GetName())
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.ServingCertificate(dnsNames...)
	if err != nil {
		t.Fatal(err)
	}
	createSecret(t, cert.GetNamespace(), secret, corev1.SecretTypeTLS, map[string][]byte{
		"tls.crt": certPEM, "tls.key": keyPEM, "ca.crt": ca.PEM,
	})
	return secret
}

func createSecret(t *testing.T, namespace, name string, typ corev1.SecretType, data map[string][]byte) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Type: typ, Data: data}
	if _, err := controlPlane.Clientset.CoreV1().Secrets(namespace).Create(t.Context(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitForFilledToken waits until kube-controller-manager's token controller has written the token of a
// kubernetes.io/service-account-token Secret.
func waitForFilledToken(t *testing.T, namespace, name string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, err := controlPlane.Clientset.CoreV1().Secrets(namespace).Get(t.Context(), name, metav1.GetOptions{})
		if err == nil && len(s.Data[corev1.ServiceAccountTokenKey]) > 0 && len(s.Data[corev1.ServiceAccountRootCAKey]) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the token controller did not fill Secret %s/%s within 60s (%v)", namespace, name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serviceAccount is an identity a test creates: a ServiceAccount and its token Secret.
type serviceAccount struct{ namespace, name, secret string }

// scraperIdentity creates a ServiceAccount with a token Secret (filled by the token controller) and a
// ClusterRole with the rules bound to it.
func scraperIdentity(t *testing.T, namespace, name string, rules ...rbacv1.PolicyRule) serviceAccount {
	t.Helper()
	ctx := t.Context()
	cs := controlPlane.Clientset
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	if _, err := cs.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	id := serviceAccount{namespace: namespace, name: name, secret: name + "-token"}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: id.secret, Namespace: namespace, Annotations: map[string]string{corev1.ServiceAccountNameKey: name}},
		Type:       corev1.SecretTypeServiceAccountToken,
	}
	if _, err := cs.CoreV1().Secrets(namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(rules) > 0 {
		if err := controlPlane.Grant(ctx, namespace, name, "diagkit-e2e-"+name, rules...); err != nil {
			t.Fatal(err)
		}
	}
	waitForFilledToken(t, namespace, id.secret)
	return id
}

// runPod creates the Deployment's pod, bound to monitorNode and running at the node's address, and runs
// the sample manager there as the Deployment's ServiceAccount with the container's args: its volumes (the
// serving certificate) mounted locally, and listening on the node's address. The pods share that address,
// as hostNetwork pods do, so each gets a free port in place of the one the template declares for metrics
// (the Service and the monitors name the port, never its number). It returns the pod's metrics address.
func runPod(t *testing.T, dir string, deploy *appsv1.Deployment) string {
	t.Helper()
	ctx := t.Context()
	cp := controlPlane
	ip, err := framework.NodeAddress()
	if err != nil {
		t.Fatal(err)
	}
	template := deploy.Spec.Template.DeepCopy()
	ctr := &template.Spec.Containers[0]
	i := slices.IndexFunc(ctr.Ports, func(p corev1.ContainerPort) bool { return p.Name == "metrics" })
	if ctr.Name != "manager" || i < 0 {
		t.Fatalf("Deployment %s: want a manager container with a port named metrics", deploy.Name)
	}
	declared := ":" + strconv.Itoa(int(ctr.Ports[i].ContainerPort))
	free, err := framework.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(free)
	p, _ := strconv.Atoi(port)
	ctr.Ports[i].ContainerPort = int32(p)
	addr := net.JoinHostPort(ip, port)

	pod, err := cp.CreateRunningPod(ctx, deploy.Namespace, deploy.Name+"-0", *template, monitorNode, ip)
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := cp.MountVolumes(ctx, pod, ctr.Name, filepath.Join(dir, "pods", pod.Name))
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, a := range ctr.Args {
		a = mounts.Local(mounts.Expand(a))
		if flag, value, ok := strings.Cut(a, "="); ok && value == declared {
			a = flag + "=" + addr
		}
		args = append(args, a)
	}
	kubeconfig := filepath.Join(dir, "pods", pod.Name+".kubeconfig")
	if err := cp.ServiceAccountKubeconfig(ctx, deploy.Namespace, template.Spec.ServiceAccountName, kubeconfig); err != nil {
		t.Fatal(err)
	}
	mgr, err := framework.StartManager(managerBin, kubeconfig, addr, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := mgr.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("last lines of %s's log:\n%s", pod.Name, tail(mgr.Logs(), 20))
		}
	})
	return addr
}

// prometheusVersion is the Prometheus release hack/tools/prometheus pins: module version v0.3xx.y is
// release v3.xx.y.
func prometheusVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(framework.RepoRoot(), "hack", "tools", "prometheus", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/prometheus/prometheus v0\.(\d+)(\d\d)\.(\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("hack/tools/prometheus/go.mod requires no github.com/prometheus/prometheus v0.3xx.y")
	}
	return fmt.Sprintf("v%s.%s.%s", m[1], strings.TrimPrefix(string(m[2]), "0"), m[3])
}

// prometheusObject is the Prometheus the operator configures: a Prometheus object as kube-prometheus-stack
// makes it (monitors selected by the release label, in every namespace the operator watches), scraping every
// second, reaching the API server for discovery with its ServiceAccount's token Secret.
func prometheusObject(cp *framework.ControlPlane, version string, sd serviceAccount) *unstructured.Unstructured {
	selector := map[string]any{"matchLabels": map[string]any{"release": releaseLabel}}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1",
		"kind":       "Prometheus",
		"metadata":   map[string]any{"name": "e2e", "namespace": monitorNamespace},
		"spec": map[string]any{
			"version":                         version,
			"serviceAccountName":              sd.name,
			"scrapeInterval":                  "1s",
			"serviceDiscoveryRole":            "EndpointSlice",
			"serviceMonitorSelector":          selector,
			"podMonitorSelector":              selector,
			"serviceMonitorNamespaceSelector": map[string]any{},
			"podMonitorNamespaceSelector":     map[string]any{},
			// In a cluster Prometheus reaches the API server with its pod's token; here it comes from outside,
			// with its ServiceAccount's token Secret mounted as the operator mounts spec.secrets. (Credentials
			// given as a Secret reference are looked up in each monitor's namespace by the operator, v0.85.0.)
			"secrets": []any{sd.secret},
			"apiserverConfig": map[string]any{
				"host":          apiServerURL(cp),
				"authorization": map[string]any{"credentialsFile": "/etc/prometheus/secrets/" + sd.secret + "/token"},
				"tlsConfig":     map[string]any{"caFile": "/etc/prometheus/secrets/" + sd.secret + "/ca.crt"},
			},
		},
	}}
}

func apiServerURL(cp *framework.ControlPlane) string {
	if strings.Contains(cp.Config.Host, "://") {
		return cp.Config.Host
	}
	return "https://" + cp.Config.Host
}

// plainConfig is README's plain prometheus.yml job, once per case (a job name, the token file it presents
// or none, the CA file it trusts, the server name it expects), with paths as a Prometheus pod has them: its
// own ServiceAccount's token, and Secrets mounted under /etc/prometheus/secrets. The lines marked "outside
// the cluster" are what the test adds: in a pod, Prometheus finds the API server and its token itself.
var plainConfig = template.Must(template.New("prometheus.yml").Parse(`global:
  scrape_interval: 1s
scrape_configs:
{{- range .Jobs}}
- job_name: {{.Name}}
  scheme: https
  metrics_path: /metrics
{{- if .TokenFile}}
  authorization:
    credentials_file: {{.TokenFile}}
{{- end}}
  tls_config:
    ca_file: {{.CAFile}}
    server_name: {{.ServerName}}
  kubernetes_sd_configs:
  - role: endpointslice
    namespaces:
      names: [{{$.Namespace}}]
    api_server: {{$.APIServer}} # outside the cluster
    authorization: {credentials_file: {{$.ServiceAccountToken}}} # outside the cluster
    tls_config: {ca_file: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt} # outside the cluster
  relabel_configs:
  - source_labels: [__meta_kubernetes_service_name, __meta_kubernetes_endpointslice_port_name]
    regex: {{$.Service}};metrics
    action: keep
{{- end}}
`))

type plainJob struct{ Name, TokenFile, CAFile, ServerName string }

// startPlainPrometheus runs Prometheus with README's job for m, as Prometheus' own ServiceAccount (sd), which
// it binds to the rendered metrics-reader ClusterRole, and with the variations that must fail: an
// unprivileged token, none, a CA that did not sign the certificate, a name the certificate is not for.
func startPlainPrometheus(t *testing.T, dir string, m *monitoredManager, sd, unprivileged serviceAccount) *framework.Prometheus {
	t.Helper()
	ctx := t.Context()
	cp := controlPlane
	if err := cp.Bind(ctx, sd.namespace, sd.name, m.metricsReader, m.metricsReader+"-"+sd.name); err != nil {
		t.Fatal(err)
	}
	other, err := framework.NewCA("untrusted")
	if err != nil {
		t.Fatal(err)
	}
	createSecret(t, m.namespace, "untrusted-ca", corev1.SecretTypeOpaque, map[string][]byte{"ca.crt": other.PEM})
	const ownToken = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	secretFile := func(secret, key string) string { return "/etc/prometheus/secrets/" + secret + "/" + key }
	ca := secretFile(m.servingCert, "ca.crt")
	var config strings.Builder
	err = plainConfig.Execute(&config, map[string]any{
		"Namespace":           m.namespace,
		"Service":             strings.TrimSuffix(m.serverName, "."+m.namespace+".svc"),
		"APIServer":           apiServerURL(cp),
		"ServiceAccountToken": ownToken,
		"Jobs": []plainJob{
			{"reader", ownToken, ca, m.serverName},
			{"unprivileged", secretFile(unprivileged.secret, "token"), ca, m.serverName},
			{"anonymous", "", ca, m.serverName},
			{"untrusted-ca", ownToken, secretFile("untrusted-ca", "ca.crt"), m.serverName},
			{"wrong-server-name", ownToken, ca, "wrong-" + m.serverName},
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	// Mount the Secrets where the jobs read them, as in a Prometheus pod; its own token is its
	// ServiceAccount's Secret here, where a pod has a projected token.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "plain-prometheus", Namespace: m.namespace}}
	ctr := corev1.Container{Name: "prometheus"}
	mount := func(secret, path string) {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: secret, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}})
		ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: secret, MountPath: path})
	}
	for _, s := range []string{unprivileged.secret, m.servingCert, "untrusted-ca"} {
		mount(s, "/etc/prometheus/secrets/"+s)
	}
	mount(sd.secret, filepath.Dir(ownToken))
	pod.Spec.Containers = []corev1.Container{ctr}
	mounts, err := cp.MountVolumes(ctx, pod, "prometheus", filepath.Join(dir, "plain"))
	if err != nil {
		t.Fatal(err)
	}
	configFile := writeFile(t, dir, "prometheus.yml", mounts.Local(config.String()))
	bin, err := framework.Tool("PROMETHEUS")
	if err != nil {
		t.Fatal(err)
	}
	p, err := framework.StartPrometheus(ctx, bin, "--config.file="+configFile, "--storage.tsdb.path="+filepath.Join(dir, "plain", "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopPrometheus(t, p, "plain") })
	return p
}

func stopPrometheus(t *testing.T, p *framework.Prometheus, name string) {
	if err := p.Stop(); err != nil {
		t.Error(err)
	}
	if t.Failed() {
		t.Logf("last lines of the %s Prometheus' log:\n%s", name, tail(p.Logs(), 20))
	}
}

// waitForTargets polls the active targets until done accepts them (each target scraped at least once:
// health is unknown until then), and returns them.
func waitForTargets(t *testing.T, p *framework.Prometheus, done func(map[string][]framework.Target) bool) map[string][]framework.Target {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		pools, err := p.Targets(t.Context())
		if err == nil && done(pools) {
			// One more scrape, so that counters of the first one are in.
			time.Sleep(2 * time.Second)
			if pools, err = p.Targets(t.Context()); err == nil {
				return pools
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("targets not ready after 90s (%v): %s", err, describeTargets(pools))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func describeTargets(pools map[string][]framework.Target) string {
	var b strings.Builder
	for pool, ts := range pools {
		for _, tg := range ts {
			fmt.Fprintf(&b, "\n  %s %s %s %q", pool, tg.Labels["instance"], tg.Health, tg.LastError)
		}
	}
	return b.String()
}

func instances(ts []framework.Target) []string {
	var out []string
	for _, tg := range ts {
		out = append(out, tg.Labels["instance"])
	}
	return out
}

// waitForSeries polls an instant query until it returns something (a series appears at the first scrape
// after its first observation), for at most 10 seconds.
func waitForSeries(t *testing.T, p *framework.Prometheus, expr string) []framework.Sample {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := p.Query(t.Context(), expr)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 || time.Now().After(deadline) {
			return got
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// sumOf returns the sum of an instant query's values.
func sumOf(t *testing.T, p *framework.Prometheus, expr string) int {
	t.Helper()
	got, err := p.Query(t.Context(), expr)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, s := range got {
		sum += s.Float()
	}
	return int(sum)
}
