// SPDX-License-Identifier: Apache-2.0

package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Run probes the target with the identity in cfg, which must be allowed to create namespaces,
// ServiceAccounts, their tokens, ClusterRoles and ClusterRoleBindings. It returns the report, with
// everything it created deleted again, also when ctx is cancelled; the error is for what kept the probe
// from running, not for what it found (see Report.Secure).
func Run(ctx context.Context, cfg *rest.Config, o Options) (report *Report, err error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	roots, _ := o.roots() // validated
	rootsName := "the system roots"
	if o.CAFile != "" {
		rootsName = o.CAFile
	}

	var ep *endpoint
	rules, attrs := readerRules(o.Paths)
	if o.Kubelet != "" {
		address := o.KubeletAddress
		if address == "" {
			if address, err = kubeletAddress(ctx, cs, o.Kubelet); err != nil {
				return nil, err
			}
		}
		if _, _, err := net.SplitHostPort(address); err != nil {
			address = net.JoinHostPort(address, strconv.Itoa(KubeletPort))
		}
		if ep, err = urlEndpoint("https://" + address); err != nil {
			return nil, fmt.Errorf("--kubelet-address: %w", err)
		}
		rules, attrs = kubeletRules(o.Kubelet)
	} else if ep, err = resolve(ctx, cfg, cs, &o); err != nil {
		return nil, err
	}
	defer ep.close()
	report = &Report{Target: o.Target, Address: ep.address}
	if o.Kubelet != "" {
		report.Target = "kubelet of node " + o.Kubelet
	}

	id, err := newIdentities(ctx, cs, rules)
	if err != nil {
		return nil, err
	}
	defer func() {
		deleted, cleanupErr := id.cleanup()
		report.CleanedUp = deleted
		err = errors.Join(err, cleanupErr)
	}()
	if err := id.waitForReader(ctx, attrs); err != nil {
		return report, fmt.Errorf("the reader's RBAC did not take effect: %w", err)
	}

	plainHTTP := strings.HasPrefix(ep.base, "http://")
	if plainHTTP {
		report.add(Result{Check: "tls-version", Status: Fail, Detail: "plain HTTP: responses and callers' tokens cross the network in clear text"})
	} else {
		inspectTLS(ctx, tlsTarget{address: ep.address, serverName: ep.serverName, roots: roots, rootsName: rootsName}, time.Now(), report)
	}
	tokens := map[string]string{Unprivileged: id.unprivileged, Reader: id.reader}
	required := map[string]bool{o.Paths[0]: true}
	if o.Kubelet != "" {
		required = map[string]bool{"/metrics": true, "/metrics/cadvisor": true, "/stats/summary": true}
	}
	checkCallers(ctx, newHTTPClient(o.Timeout), ep.base, o.Paths, required, tokens, plainHTTP, report)
	if o.Kubelet != "" {
		host, _, _ := net.SplitHostPort(ep.address)
		report.add(readOnlyPort(ctx, net.JoinHostPort(host, strconv.Itoa(o.KubeletReadOnlyPort))))
	}
	return report, ctx.Err()
}

// readerRules grant get on exactly the probed paths, and the SubjectAccessReviews that show it took effect.
func readerRules(paths []string) ([]rbacv1.PolicyRule, []authorizationv1.SubjectAccessReviewSpec) {
	var attrs []authorizationv1.SubjectAccessReviewSpec
	for _, p := range paths {
		attrs = append(attrs, authorizationv1.SubjectAccessReviewSpec{NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: p, Verb: "get"}})
	}
	return []rbacv1.PolicyRule{{NonResourceURLs: paths, Verbs: []string{"get"}}}, attrs
}

// kubeletRules are what the kubelet authorizes its endpoints with: /metrics* as nodes/metrics, /stats as
// nodes/stats (get on the node).
func kubeletRules(node string) ([]rbacv1.PolicyRule, []authorizationv1.SubjectAccessReviewSpec) {
	var attrs []authorizationv1.SubjectAccessReviewSpec
	for _, sub := range []string{"metrics", "stats"} {
		attrs = append(attrs, authorizationv1.SubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: "get", Resource: "nodes", Subresource: sub, Name: node}})
	}
	return []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes/metrics", "nodes/stats"}, Verbs: []string{"get"}}}, attrs
}

// readOnlyPort fails when the kubelet's unauthenticated port accepts connections.
func readOnlyPort(ctx context.Context, address string) Result {
	d := net.Dialer{Timeout: 3 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return Result{Check: "read-only-port", Status: Pass, Detail: address + " closed"}
	}
	_ = conn.Close()
	return Result{Check: "read-only-port", Status: Fail, Detail: address + " open: plain HTTP without authentication (pods, metrics); set readOnlyPort: 0"}
}
