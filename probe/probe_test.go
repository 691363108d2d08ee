// SPDX-License-Identifier: Apache-2.0

package probe

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

func TestJudge(t *testing.T) {
	tests := []struct {
		caller          string
		code            int
		required, plain bool
		want            Status
		detail          string
	}{
		{Anonymous, 401, true, false, Pass, "no credentials"},
		{Anonymous, 403, true, false, Pass, "system:anonymous"},
		{Anonymous, 200, true, false, Fail, "without any credentials"},
		{Anonymous, 204, true, false, Fail, "without any credentials"},
		{Unprivileged, 403, true, false, Pass, "not authorized"},
		{Unprivileged, 200, true, false, Fail, "no RBAC rule allows"},
		{Unprivileged, 401, true, false, Warn, "not accepted"},
		{Reader, 200, true, false, Pass, "served"},
		{Reader, 200, true, true, Warn, "plain HTTP"},
		{Reader, 403, true, false, Fail, "RBAC is broken"},
		{Reader, 404, true, false, Fail, "got 404"},
		{Reader, 404, false, false, Info, "not served"},
		{Anonymous, 404, false, false, Info, "not served"},
		{Anonymous, 503, true, false, Warn, "expected 401"},
		{Anonymous, 302, true, false, Warn, "expected 401"},
	}
	for _, tt := range tests {
		status, detail := judge(tt.caller, tt.code, tt.required, tt.plain)
		if status != tt.want || !strings.Contains(detail, tt.detail) {
			t.Errorf("judge(%s, %d, required=%v, plain=%v) = %s %q; want %s containing %q", tt.caller, tt.code, tt.required, tt.plain, status, detail, tt.want, tt.detail)
		}
	}
}

func certificate(t *testing.T, notBefore, notAfter time.Time, issuer *x509.Certificate, issuerKey *ecdsa.PrivateKey, isCA bool, hosts ...string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "test"},
		NotBefore: notBefore, NotAfter: notAfter, IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	parent, signer := tmpl, key
	if issuer != nil {
		parent, signer = issuer, issuerKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func TestExpiry(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, tc := range []struct {
		from, to time.Time
		want     Status
		detail   string
	}{
		{now.Add(-day), now.Add(365 * day), Pass, "365 days"},
		{now.Add(-day), now.Add(29 * day), Warn, "expires"},
		{now.Add(-2 * day), now.Add(-time.Hour), Fail, "expired"},
		{now.Add(time.Hour), now.Add(day), Fail, "not valid before"},
	} {
		c, _ := certificate(t, tc.from, tc.to, nil, nil, false, "a")
		if got := expiry(c, now); got.Status != tc.want || !strings.Contains(got.Detail, tc.detail) {
			t.Errorf("%s–%s: %s %q, want %s containing %q", tc.from, tc.to, got.Status, got.Detail, tc.want, tc.detail)
		}
	}
}

func TestIssuer(t *testing.T) {
	now := time.Now()
	ca, caKey := certificate(t, now.Add(-time.Hour), now.Add(time.Hour), nil, nil, true, "ca")
	leaf, _ := certificate(t, now.Add(-time.Hour), now.Add(time.Hour), ca, caKey, false, "127.0.0.1")
	self, _ := certificate(t, now.Add(-time.Hour), now.Add(time.Hour), nil, nil, false, "127.0.0.1")
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, tc := range []struct {
		name   string
		leaf   *x509.Certificate
		chain  []*x509.Certificate
		roots  *x509.CertPool
		want   Status
		detail string
	}{
		{"CA-signed, CA given", leaf, nil, roots, Pass, "verified against"},
		{"CA-signed, CA unknown", leaf, nil, x509.NewCertPool(), Warn, "pass the CA with --ca-file"},
		{"CA sent by the server itself", leaf, []*x509.Certificate{ca}, x509.NewCertPool(), Warn, "sent by the server itself"},
		{"self-signed leaf", self, nil, x509.NewCertPool(), Warn, "self-signed"},
	} {
		got := issuer(tc.leaf, tc.chain, tlsTarget{roots: tc.roots, rootsName: "ca.crt"})
		if got.Status != tc.want || !strings.Contains(got.Detail, tc.detail) {
			t.Errorf("%s: %s %q, want %s containing %q", tc.name, got.Status, got.Detail, tc.want, tc.detail)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		o       Options
		wantErr string
		paths   []string
		port    string
	}{
		{o: Options{Target: "https://10.0.0.1:8443", Output: "table", Timeout: time.Second}, paths: DefaultPaths, port: "8443"},
		{o: Options{Target: "svc/m", Output: "json", Timeout: time.Second}, paths: DefaultPaths, port: ""},
		{o: Options{Kubelet: "node-1", Output: "table", Timeout: time.Second}, paths: KubeletPaths},
		{o: Options{Output: "table", Timeout: time.Second}, wantErr: "expected a target"},
		{o: Options{Target: "pod/x", Kubelet: "n", Output: "table", Timeout: time.Second}, wantErr: "mutually exclusive"},
		{o: Options{Target: "pod/x", Output: "yaml", Timeout: time.Second}, wantErr: `--output "yaml"`},
		{o: Options{Target: "pod/x", Output: "table"}, wantErr: "--timeout"},
		{o: Options{Target: "pod/x", Output: "table", Timeout: time.Second, Paths: []string{"metrics"}}, wantErr: "expected an absolute path"},
		{o: Options{Target: "pod/x", Output: "table", Timeout: time.Second, CAFile: "/nonexistent"}, wantErr: "--ca-file /nonexistent"},
	}
	for _, tt := range tests {
		err := tt.o.Validate()
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%+v: got %v, want an error containing %q", tt.o, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slicesEqual(tt.o.Paths, tt.paths) || tt.o.Port != tt.port {
			t.Errorf("%+v: err %v, paths %v, port %q; want paths %v port %q", tt.o, err, tt.o.Paths, tt.o.Port, tt.paths, tt.port)
		}
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

func TestResolveThroughObjects(t *testing.T) {
	labels := map[string]string{"app": "m"}
	readyPod := func(name string, ready bool) *corev1.Pod {
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 8443}}}}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}},
		}
	}
	cs := fake.NewClientset(
		readyPod("m-unready", false), readyPod("m-ready", true),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "m", Namespace: "ns"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
			{Name: "https", Port: 443, TargetPort: intstr.FromString("metrics")}}}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "m-x", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "m"}},
			Endpoints: []discoveryv1.Endpoint{
				{Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "m-unready"}},
				{Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "m-ready"}},
			}},
	)
	cs.AppsV1() // the fake serves Deployments from the same tracker
	ctx := t.Context()

	pod, port, err := servicePod(ctx, cs, "ns", "m", "")
	if err != nil || pod.Name != "m-ready" || port.StrVal != "metrics" {
		t.Fatalf("service: pod %v port %v err %v; want the ready pod and the named target port", pod, port, err)
	}
	if n, err := containerPort(pod, port); err != nil || n != 8443 {
		t.Errorf("named port: %d %v, want 8443", n, err)
	}
	if _, _, err := servicePod(ctx, cs, "ns", "m", "9090"); err == nil || !strings.Contains(err.Error(), `no port "9090"`) {
		t.Errorf("unknown service port: %v", err)
	}
	if _, err := containerPort(pod, intstr.FromString("nope")); err == nil {
		t.Error("an unknown container port name resolved")
	}
	if _, err := deploymentPod(ctx, cs, "ns", "absent"); err == nil {
		t.Error("a missing deployment resolved")
	}
	if _, err := urlEndpoint("https://10.0.0.1"); err == nil {
		t.Error("a URL without a port was accepted")
	}
	ep, err := urlEndpoint("https://metrics.example:8443/ignored")
	if err != nil || ep.base != "https://metrics.example:8443" || ep.serverName != "metrics.example" {
		t.Errorf("URL endpoint %+v, %v", ep, err)
	}
}

func TestKubeletAddress(t *testing.T) {
	cs := fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeHostName, Address: "n1.local"}, {Type: corev1.NodeInternalIP, Address: "10.0.0.5"}}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n2.local"}}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n3"}},
	)
	for node, want := range map[string]string{"n1": "10.0.0.5", "n2": "n2.local", "n3": "", "absent": ""} {
		got, err := kubeletAddress(t.Context(), cs, node)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("%s: %q %v, want %q", node, got, err, want)
		}
	}
}

func TestReadOnlyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := ln.Addr().String()
	if got := readOnlyPort(t.Context(), open); got.Status != Fail {
		t.Errorf("open port: %+v", got)
	}
	ln.Close()
	if got := readOnlyPort(t.Context(), open); got.Status != Pass {
		t.Errorf("closed port: %+v", got)
	}
}

func TestReportOutput(t *testing.T) {
	r := &Report{Target: "pod/m", Address: "127.0.0.1:1", CleanedUp: []string{"namespace/x"}}
	r.add(Result{Check: "caller", Path: "/metrics", Caller: Anonymous, Code: 200, Status: Fail, Detail: "served without any credentials"})
	var table, js bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "INSECURE") || !strings.Contains(table.String(), "served without any credentials") {
		t.Errorf("table:\n%s", table.String())
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["secure"] != false || got["target"] != "pod/m" || len(got["results"].([]any)) != 1 || len(got["cleanedUp"].([]any)) != 1 {
		t.Errorf("json: %s", js.String())
	}
}
