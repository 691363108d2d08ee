// SPDX-License-Identifier: Apache-2.0

package probe

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"
	certutil "k8s.io/client-go/util/cert"
)

// Kubelet ports: the authenticated one probed, and the read-only one that must be closed.
const (
	KubeletPort         = 10250
	KubeletReadOnlyPort = 10255
)

// DefaultPaths are probed when none are given: the metrics and one debug endpoint of a diagnostics server
// (kube-controller-manager and kube-scheduler serve the same paths).
var DefaultPaths = []string{"/metrics", "/debug/pprof/"}

// KubeletPaths are what operators scrape from a kubelet.
var KubeletPaths = []string{"/metrics", "/metrics/cadvisor", "/stats/summary"}

// Options configures a probe.
type Options struct {
	// Target is a URL (https://HOST:PORT), or pod/NAME, service/NAME or deployment/NAME in Namespace.
	Target string
	// Namespace of a pod, service or deployment target.
	Namespace string
	// Port of a pod or deployment target (number or container port name), or of a service (its port number
	// or name; empty: its only port).
	Port string
	// Paths are probed with the three callers; the first must be served. Empty: DefaultPaths, or
	// KubeletPaths with Kubelet.
	Paths []string
	// Kubelet names a node whose kubelet is probed instead of Target (port 10250, nodes/metrics and
	// nodes/stats RBAC), with a check that its read-only port is closed.
	Kubelet string
	// KubeletAddress overrides the node's InternalIP: HOST, or HOST:PORT for a kubelet not on 10250.
	KubeletAddress string
	// KubeletReadOnlyPort is the port that must be closed (10255).
	KubeletReadOnlyPort int
	// CAFile verifies the endpoint's certificate; empty: the system roots.
	CAFile string
	// Timeout bounds each request.
	Timeout time.Duration
	// Output is "table" or "json".
	Output string
}

// AddFlags registers the probe's flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.Namespace, "namespace", "n", "default", "namespace of a pod/, service/ or deployment/ target")
	fs.StringVar(&o.Port, "port", "", "port of a pod/ or deployment/ target (number or container port name, default 8443), or of a service/ (default: its only port)")
	fs.StringArrayVar(&o.Paths, "path", nil, "path to probe, repeatable (default /metrics and /debug/pprof/; with --kubelet /metrics, /metrics/cadvisor, /stats/summary)")
	fs.StringVar(&o.Kubelet, "kubelet", "", "probe this node's kubelet (port 10250) instead of a target, and check that its read-only port 10255 is closed")
	fs.StringVar(&o.KubeletAddress, "kubelet-address", "", "the kubelet's HOST or HOST:PORT (default: the node's InternalIP, port 10250)")
	fs.IntVar(&o.KubeletReadOnlyPort, "kubelet-read-only-port", KubeletReadOnlyPort, "the kubelet's unauthenticated port, which must be closed")
	fs.StringVar(&o.CAFile, "ca-file", "", "CA bundle that should verify the endpoint's certificate (default: the system roots)")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "time limit of each request")
	fs.StringVarP(&o.Output, "output", "o", "table", "table or json")
}

// Validate reports every problem at once and fills in defaults.
func (o *Options) Validate() error {
	var errs []error
	switch {
	case o.Target == "" && o.Kubelet == "":
		errs = append(errs, errors.New("expected a target (URL, pod/NAME, service/NAME, deployment/NAME) or --kubelet NODE"))
	case o.Target != "" && o.Kubelet != "":
		errs = append(errs, errors.New("a target and --kubelet are mutually exclusive"))
	}
	if o.Output != "table" && o.Output != "json" {
		errs = append(errs, fmt.Errorf("--output %q: expected table or json", o.Output))
	}
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %s: expected a positive duration", o.Timeout))
	}
	for _, p := range o.Paths {
		if len(p) == 0 || p[0] != '/' {
			errs = append(errs, fmt.Errorf("--path %q: expected an absolute path", p))
		}
	}
	if o.CAFile != "" {
		if _, err := o.roots(); err != nil {
			errs = append(errs, err)
		}
	}
	if o.KubeletReadOnlyPort == 0 {
		o.KubeletReadOnlyPort = KubeletReadOnlyPort
	}
	if len(o.Paths) == 0 {
		o.Paths = DefaultPaths
		if o.Kubelet != "" {
			o.Paths = KubeletPaths
		}
	}
	if o.Port == "" && o.Target != "" && !isServiceTarget(o.Target) {
		o.Port = "8443"
	}
	return errors.Join(errs...)
}

func isServiceTarget(t string) bool {
	for _, p := range []string{"service/", "services/", "svc/"} {
		if len(t) > len(p) && t[:len(p)] == p {
			return true
		}
	}
	return false
}

// roots is the pool the certificate must verify against: the CA file, or nil for the system roots.
func (o *Options) roots() (*x509.CertPool, error) {
	if o.CAFile == "" {
		return nil, nil
	}
	pool, err := certutil.NewPool(o.CAFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-file %s: %w", o.CAFile, err)
	}
	return pool, nil
}
