// SPDX-License-Identifier: Apache-2.0

package framework

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// InstallPrometheusOperatorCRDs installs every CRD of the Prometheus Operator (Prometheus, ServiceMonitor,
// PodMonitor, ...) from PROMETHEUS_OPERATOR_CRDS, the directory `make crds` fills from the operator's
// module, and waits until the API server serves them.
func (c *ControlPlane) InstallPrometheusOperatorCRDs() error {
	dir := os.Getenv("PROMETHEUS_OPERATOR_CRDS")
	if dir == "" {
		return fmt.Errorf("PROMETHEUS_OPERATOR_CRDS is not set: run `make test`, or eval $(make -s print-test-env)")
	}
	if _, err := envtest.InstallCRDs(c.Config, envtest.CRDInstallOptions{Paths: []string{dir}, ErrorIfPathMissing: true}); err != nil {
		return fmt.Errorf("install the Prometheus Operator's CRDs from %s: %w", dir, err)
	}
	return nil
}

// StartPrometheusOperator runs the Prometheus Operator (PROMETHEUS_OPERATOR) as the admin, watching only
// the namespace. It reconciles Prometheus objects into what a cluster would run: a StatefulSet, and
// Secrets with the configuration it generates from the ServiceMonitors and PodMonitors it selects.
// Nothing runs the StatefulSet here; StartOperatedPrometheus does, as a local process.
func (c *ControlPlane) StartPrometheusOperator(dir, namespace string) (*Manager, error) {
	bin, err := Tool("PROMETHEUS_OPERATOR")
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "prometheus-operator.kubeconfig")
	if err := c.AdminKubeconfig(kubeconfig); err != nil {
		return nil, err
	}
	addr, err := FreeAddress()
	if err != nil {
		return nil, err
	}
	return StartProcess(bin, []string{"KUBECONFIG=" + kubeconfig}, addr,
		"--web.listen-address="+addr, "--namespaces="+namespace, "--log-level=info")
}

// OperatedPrometheus is the Prometheus of a Prometheus object, running as a local process the way its
// StatefulSet's pod would: the volumes the kubelet would mount, the configuration the config reloader
// would write, and the prometheus container's own arguments.
type OperatedPrometheus struct {
	*Prometheus
	// Config is the configuration the operator generated, as the config reloader wrote it.
	Config string
}

// StartOperatedPrometheus waits until the operator's configuration for the Prometheus object name
// satisfies ready (for example: it has a job for every expected monitor), then runs the Prometheus binary
// (PROMETHEUS) as the StatefulSet's first pod would run it, with its files under root.
func (c *ControlPlane) StartOperatedPrometheus(ctx context.Context, namespace, name, root string, ready func(config string) bool) (*OperatedPrometheus, error) {
	bin, err := Tool("PROMETHEUS")
	if err != nil {
		return nil, err
	}
	sts, err := c.waitForOperated(ctx, namespace, name, ready)
	if err != nil {
		return nil, err
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: sts.Name + "-0", Namespace: namespace}, Spec: sts.Spec.Template.Spec}

	// The config reloader unpacks the generated configuration and expands $(POD_NAME) and $(SHARD) in it;
	// Prometheus reads the result.
	reloader, err := c.MountVolumes(ctx, pod, "config-reloader", root)
	if err != nil {
		return nil, err
	}
	var packed, unpacked string
	for _, a := range containerNamed(pod, "config-reloader").Args {
		if v, ok := strings.CutPrefix(a, "--config-file="); ok {
			packed = reloader.Local(v)
		}
		if v, ok := strings.CutPrefix(a, "--config-envsubst-file="); ok {
			unpacked = reloader.Local(v)
		}
	}
	if packed == "" || unpacked == "" {
		return nil, fmt.Errorf("the config-reloader of %s names no --config-file and --config-envsubst-file", sts.Name)
	}
	config, err := gunzipFile(packed)
	if err != nil {
		return nil, err
	}
	config = reloader.Expand(config)
	if err := os.MkdirAll(filepath.Dir(unpacked), 0o700); err != nil {
		return nil, err
	}

	prom, err := c.MountVolumes(ctx, pod, "prometheus", root)
	if err != nil {
		return nil, err
	}
	// Files named in the configuration (CAs from the TLS assets) are read where they are mounted here.
	if err := os.WriteFile(unpacked, []byte(prom.Local(config)), 0o600); err != nil {
		return nil, err
	}
	var args []string
	for _, a := range containerNamed(pod, "prometheus").Args {
		args = append(args, prom.Local(prom.Expand(a)))
	}
	p, err := StartPrometheus(ctx, bin, args...)
	if err != nil {
		return nil, err
	}
	return &OperatedPrometheus{Prometheus: p, Config: config}, nil
}

// waitForOperated waits for the StatefulSet of the Prometheus object and for a generated configuration
// that satisfies ready.
func (c *ControlPlane) waitForOperated(ctx context.Context, namespace, name string, ready func(string) bool) (*appsv1.StatefulSet, error) {
	deadline := time.Now().Add(60 * time.Second)
	last := "nothing generated yet"
	for {
		sts, err := c.Clientset.AppsV1().StatefulSets(namespace).Get(ctx, "prometheus-"+name, metav1.GetOptions{})
		if err == nil {
			var s *corev1.Secret
			if s, err = c.Clientset.CoreV1().Secrets(namespace).Get(ctx, "prometheus-"+name, metav1.GetOptions{}); err == nil {
				var config string
				if config, err = gunzip(s.Data["prometheus.yaml.gz"]); err == nil {
					if ready(config) {
						return sts, nil
					}
					// The configuration holds the scrapers' tokens: only its job names are shown.
					last = "jobs: " + strings.Join(jobNames(config), ", ")
				}
			}
		}
		if err != nil {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the operator's configuration for Prometheus %s/%s is not ready after 60s; last seen:\n%s", namespace, name, last)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

var jobName = regexp.MustCompile(`(?m)^\s*-?\s*job_name:\s*(\S+)`)

func jobNames(config string) []string {
	var names []string
	for _, m := range jobName.FindAllStringSubmatch(config, -1) {
		names = append(names, m[1])
	}
	return names
}

func containerNamed(pod *corev1.Pod, name string) corev1.Container {
	for _, c := range append(pod.Spec.Containers, pod.Spec.InitContainers...) {
		if c.Name == name {
			return c
		}
	}
	return corev1.Container{}
}

func gunzipFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return gunzip(b)
}

func gunzip(b []byte) (string, error) {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("unpack configuration: %w", err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("unpack configuration: %w", err)
	}
	return string(out), nil
}
