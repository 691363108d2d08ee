// SPDX-License-Identifier: Apache-2.0

package framework

import (
	"context"
	"errors"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EnsureNode creates a Node object with nothing behind it, for pods to be bound to: the endpointslice
// controller leaves out the pods whose node does not exist. No node lifecycle controller runs in e2e, so
// the node is never tainted and its pods are never evicted.
func (c *ControlPlane) EnsureNode(ctx context.Context, name string) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.Clientset.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create Node %s: %w", name, err)
	}
	return nil
}

// CreateRunningPod does for one pod what the Deployment controller, the scheduler and the kubelet would:
// it creates the Pod from the template, bound to node, and reports it running and ready at ip. The
// containers themselves are the caller's to run (as processes listening on ip): the Pod is what service
// discovery and the endpointslice controller read, so they see the pod a cluster would have.
func (c *ControlPlane) CreateRunningPod(ctx context.Context, namespace, name string, template corev1.PodTemplateSpec, node, ip string) (*corev1.Pod, error) {
	pod := &corev1.Pod{ObjectMeta: template.ObjectMeta, Spec: template.Spec}
	pod.Name, pod.Namespace, pod.Spec.NodeName = name, namespace, node
	created, err := c.Clientset.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create Pod %s/%s: %w", namespace, name, err)
	}
	now := metav1.Now()
	created.Status = corev1.PodStatus{
		Phase:     corev1.PodRunning,
		HostIP:    ip,
		HostIPs:   []corev1.HostIP{{IP: ip}},
		PodIP:     ip,
		PodIPs:    []corev1.PodIP{{IP: ip}},
		StartTime: &now,
	}
	for _, t := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		created.Status.Conditions = append(created.Status.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
	}
	for _, ctr := range created.Spec.Containers {
		created.Status.ContainerStatuses = append(created.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: ctr.Name, Image: ctr.Image, Ready: true, Started: new(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	running, err := c.Clientset.CoreV1().Pods(namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("report Pod %s/%s running: %w", namespace, name, err)
	}
	return running, nil
}

// ErrNoNodeAddress means this machine has no address an EndpointSlice may hold.
var ErrNoNodeAddress = errors.New("no non-loopback IPv4 address on this machine: EndpointSlices refuse loopback addresses, so pods behind a Service need one")

// NodeAddress returns an IPv4 address of this machine that an EndpointSlice accepts (not loopback, not
// link-local), for pods that run here as local processes: the API server refuses EndpointSlices with
// loopback addresses, so pods behind a Service listen on the machine's address, as hostNetwork pods do.
func NodeAddress() (string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("list network interfaces: %w", err)
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := iface.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
				return n.IP.String(), nil
			}
		}
	}
	return "", ErrNoNodeAddress
}
