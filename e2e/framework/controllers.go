// SPDX-License-Identifier: Apache-2.0

package framework

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// signingKeyFile is where envtest writes the key kube-apiserver signs ServiceAccount tokens with
// (--service-account-signing-key-file): controller-runtime's envtest names it sa-signer.key in the API
// server's certificate directory.
const signingKeyFile = "sa-signer.key"

// StartControllers runs kube-controller-manager with only the named controllers (for example
// serviceaccount-token-controller, which fills kubernetes.io/service-account-token Secrets, and
// endpointslice-controller), as the admin, bound to loopback. The token controller signs with the API
// server's own key, so the tokens it writes authenticate. dir receives the kubeconfig and CA file.
func (c *ControlPlane) StartControllers(dir string, controllers ...string) (*Manager, error) {
	bin, err := KubeBinary("kube-controller-manager")
	if err != nil {
		return nil, err
	}
	key := filepath.Join(c.env.ControlPlane.APIServer.CertDir, signingKeyFile)
	if _, err := os.Stat(key); err != nil {
		return nil, fmt.Errorf("find the API server's ServiceAccount signing key: %w", err)
	}
	kubeconfig := filepath.Join(dir, "kube-controller-manager.kubeconfig")
	if err := c.AdminKubeconfig(kubeconfig); err != nil {
		return nil, err
	}
	caFile, err := c.CAFile(dir)
	if err != nil {
		return nil, err
	}
	addr, err := FreeAddress()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	return StartProcess(bin, nil, addr,
		"--kubeconfig="+kubeconfig, "--authentication-kubeconfig="+kubeconfig, "--authorization-kubeconfig="+kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port="+port, "--leader-elect=false",
		// Only quiets a reload loop: envtest publishes no request-header CA.
		"--requestheader-client-ca-file="+caFile,
		"--controllers="+strings.Join(controllers, ","),
		"--service-account-private-key-file="+key,
		// What the token controller writes as each Secret's ca.crt.
		"--root-ca-file="+caFile)
}

// CAFile writes the API server's CA certificate into dir and returns its path.
func (c *ControlPlane) CAFile(dir string) (string, error) {
	path := filepath.Join(dir, "kube-apiserver-ca.crt")
	if err := os.WriteFile(path, c.Config.CAData, 0o600); err != nil {
		return "", fmt.Errorf("write the API server's CA: %w", err)
	}
	return path, nil
}
