// SPDX-License-Identifier: Apache-2.0

package probe

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// endpoint is where the probe sends its requests.
type endpoint struct {
	base       string // scheme://host:port
	address    string // host:port dialled
	serverName string // what the certificate should name; empty through port-forward
	close      func()
}

// resolve turns a target into an endpoint: a URL is used as is; pod/, service/ and deployment/ are reached
// through a port-forward of the API server to one of their pods.
func resolve(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, o *Options) (*endpoint, error) {
	kind, name, ok := strings.Cut(o.Target, "/")
	if !ok || strings.Contains(o.Target, "://") {
		return urlEndpoint(o.Target)
	}
	var pod *corev1.Pod
	var port intstr.IntOrString
	var err error
	switch kind {
	case "pod", "pods", "po":
		pod, err = cs.CoreV1().Pods(o.Namespace).Get(ctx, name, metav1.GetOptions{})
		port = intstr.Parse(o.Port)
	case "service", "services", "svc":
		pod, port, err = servicePod(ctx, cs, o.Namespace, name, o.Port)
	case "deployment", "deployments", "deploy":
		pod, err = deploymentPod(ctx, cs, o.Namespace, name)
		port = intstr.Parse(o.Port)
	default:
		return nil, fmt.Errorf("target %q: expected a URL, or pod/NAME, service/NAME or deployment/NAME", o.Target)
	}
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", o.Target, err)
	}
	number, err := containerPort(pod, port)
	if err != nil {
		return nil, fmt.Errorf("target %s: pod %s: %w", o.Target, pod.Name, err)
	}
	local, stop, err := portForward(cfg, pod, number)
	if err != nil {
		return nil, fmt.Errorf("target %s: port-forward to pod %s port %d: %w", o.Target, pod.Name, number, err)
	}
	return &endpoint{base: "https://" + local, address: local, close: stop}, nil
}

func urlEndpoint(raw string) (*endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Port() == "" {
		return nil, fmt.Errorf("target %q: expected https://HOST:PORT (or http://), or pod/NAME, service/NAME, deployment/NAME", raw)
	}
	return &endpoint{base: u.Scheme + "://" + u.Host, address: u.Host, serverName: u.Hostname(), close: func() {}}, nil
}

// servicePod picks a ready pod behind the service, from its EndpointSlices, and the pod port the service
// port (given by number or name; empty: the service's only port) forwards to.
func servicePod(ctx context.Context, cs kubernetes.Interface, ns, name, portSpec string) (*corev1.Pod, intstr.IntOrString, error) {
	svc, err := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, intstr.IntOrString{}, err
	}
	sp, err := servicePort(svc, portSpec)
	if err != nil {
		return nil, intstr.IntOrString{}, err
	}
	slices, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + name})
	if err != nil {
		return nil, intstr.IntOrString{}, err
	}
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.TargetRef == nil || e.TargetRef.Kind != "Pod" || (e.Conditions.Ready != nil && !*e.Conditions.Ready) {
				continue
			}
			pod, err := cs.CoreV1().Pods(ns).Get(ctx, e.TargetRef.Name, metav1.GetOptions{})
			if err != nil {
				return nil, intstr.IntOrString{}, err
			}
			target := sp.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(sp.Port)
			}
			return pod, target, nil
		}
	}
	return nil, intstr.IntOrString{}, fmt.Errorf("service %s/%s has no ready pod", ns, name)
}

func servicePort(svc *corev1.Service, spec string) (corev1.ServicePort, error) {
	for _, p := range svc.Spec.Ports {
		if spec == "" && len(svc.Spec.Ports) == 1 || p.Name == spec || strconv.Itoa(int(p.Port)) == spec {
			return p, nil
		}
	}
	return corev1.ServicePort{}, fmt.Errorf("service %s/%s has no port %q; pass --port", svc.Namespace, svc.Name, spec)
}

// deploymentPod picks a running, ready pod of the deployment.
func deploymentPod(ctx context.Context, cs kubernetes.Interface, ns, name string) (*corev1.Pod, error) {
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, err
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	for i := range pods.Items {
		if ready(&pods.Items[i]) {
			return &pods.Items[i], nil
		}
	}
	return nil, fmt.Errorf("deployment %s/%s has no running, ready pod", ns, name)
}

func ready(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// containerPort resolves a port number or a container port name on the pod.
func containerPort(pod *corev1.Pod, port intstr.IntOrString) (int32, error) {
	if port.Type == intstr.Int {
		return port.IntVal, nil
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == port.StrVal {
				return p.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("no container port named %q", port.StrVal)
}

// portForward opens the API server's port-forward to the pod port on a free loopback port.
func portForward(cfg *rest.Config, pod *corev1.Pod, port int32) (string, func(), error) {
	rt, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return "", nil, err
	}
	u, err := url.Parse(strings.TrimSuffix(cfg.Host, "/") + "/api/v1/namespaces/" + pod.Namespace + "/pods/" + pod.Name + "/portforward")
	if err != nil {
		return "", nil, err
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	stop, readyCh := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stop, readyCh, io.Discard, io.Discard)
	if err != nil {
		return "", nil, err
	}
	errs := make(chan error, 1)
	go func() { errs <- fw.ForwardPorts() }()
	select {
	case <-readyCh:
	case err := <-errs:
		return "", nil, err
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		close(stop)
		return "", nil, fmt.Errorf("no local port: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local))), func() { close(stop) }, nil
}

// kubeletAddress is the node's InternalIP (else its first address): where the API server itself reaches
// the kubelet.
func kubeletAddress(ctx context.Context, cs kubernetes.Interface, node string) (string, error) {
	n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("kubelet of node %s: %w", node, err)
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address, nil
		}
	}
	if len(n.Status.Addresses) > 0 {
		return n.Status.Addresses[0].Address, nil
	}
	return "", fmt.Errorf("kubelet of node %s: the node reports no address", node)
}
