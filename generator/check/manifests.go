// SPDX-License-Identifier: Apache-2.0

package check

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/diagkit/diagkit/generator"
	"github.com/diagkit/diagkit/generator/manifest"
	"github.com/diagkit/diagkit/generator/rbacrole"
)

// manifests are the YAML files check reads besides role.yaml: config/ and the repository's top level.
type manifests struct {
	// managers are the manager container of manager.yaml, then of the strategic-merge patches of its
	// Deployment, in path order.
	managers []*manifest.Container
	// proxies are the kube-rbac-proxy sidecars of that Deployment, wherever they are added.
	proxies []proxy
	// bundles are rendered files holding the manager's Deployment and ClusterRole (kustomize build output
	// committed to the repository).
	bundles []bundle
}

// proxy is a kube-rbac-proxy container, and the manager container of the same file when that sets args
// (the manager as the proxy's overlay runs it).
type proxy struct {
	*manifest.Container
	manager *manifest.Container
}

type bundle struct {
	path    string
	manager *manifest.Container
	roles   []*rbacrole.Role
}

// The names kubebuilder gives the manager's Deployment and container, for a repository without
// config/manager/manager.yaml.
const (
	defaultDeployment = "controller-manager"
	defaultContainer  = "manager"
)

func findManifests(t *generator.Target) (manifests, error) {
	var m manifests
	deployment, container := defaultDeployment, defaultContainer
	if t.Container != nil {
		deployment, container = t.Container.Deployment, t.Container.Name
		m.managers = append(m.managers, t.Container)
	}
	files, err := yamlFiles(t.Root)
	if err != nil {
		return m, err
	}
	for _, rel := range files {
		src, err := os.ReadFile(filepath.Join(t.Root, filepath.FromSlash(rel)))
		if err != nil {
			return m, err
		}
		containers, err := manifest.FindAll(rel, src)
		if err != nil {
			continue // not YAML check can read (a template, say): nothing to check in it
		}
		var manager *manifest.Container
		for _, c := range containers {
			if c.Name == container && (c.Deployment == deployment || strings.HasSuffix(c.Deployment, "-"+deployment)) {
				manager = c
			}
		}
		if manager != nil && rel != t.ManagerManifest {
			roles, _ := rbacrole.ParseRoles(rel, src, func(name string) bool {
				return name == t.RoleName || strings.HasSuffix(name, "-"+t.RoleName)
			})
			if len(roles) > 0 {
				m.bundles = append(m.bundles, bundle{path: rel, manager: manager, roles: roles})
				continue
			}
			// A patch no kustomization names (one only a comment mentions) reaches no cluster.
			if !t.Kustomize.Referenced(rel) {
				continue
			}
			if manager.Deployment == deployment {
				m.managers = append(m.managers, manager)
			}
		}
		if manager != nil && !manager.HasArgs() {
			manager = nil
		}
		for _, c := range containers {
			if c.Deployment == deployment && (strings.Contains(c.Name, "kube-rbac-proxy") || strings.Contains(c.Image(), "kube-rbac-proxy")) {
				m.proxies = append(m.proxies, proxy{Container: c, manager: manager})
			}
		}
	}
	return m, nil
}

// yamlFiles lists the YAML files under config/ and at the top level of root, sorted.
func yamlFiles(root string) ([]string, error) {
	isYAML := func(name string) bool { return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") }
	var files []string
	top, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	for _, e := range top {
		if !e.IsDir() && isYAML(e.Name()) {
			files = append(files, e.Name())
		}
	}
	err = filepath.WalkDir(filepath.Join(root, "config"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && isYAML(d.Name()) {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// clusterctlVariable is a clusterctl variable reference: ${NAME}, ${NAME:=default} or ${NAME=default}.
var clusterctlVariable = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?=(.*))?\}$`)

// resolve returns what a flag value means when clusterctl's variables keep their defaults.
func resolve(value string) string {
	if m := clusterctlVariable.FindStringSubmatch(value); m != nil {
		return m[1]
	}
	return value
}

// address is a bind address as the flags give it.
type address struct {
	host, port string
}

// parseAddress parses host:port; ok is false for an address that serves nothing ("0", "") or that is not
// host:port.
func parseAddress(value string) (address, bool) {
	value = resolve(value)
	host, port, err := net.SplitHostPort(value)
	if err != nil || port == "" || port == "0" {
		return address{}, false
	}
	return address{host: host, port: port}, true
}

// allInterfaces says whether the address accepts connections from outside the pod.
func (a address) allInterfaces() bool {
	return a.host == "" || a.host == "0.0.0.0" || a.host == "::"
}

// loopback says whether only the pod itself can connect.
func (a address) loopback() bool {
	if a.host == "localhost" {
		return true
	}
	ip := net.ParseIP(a.host)
	return ip != nil && ip.IsLoopback()
}

// isTrue reports whether a boolean flag's value turns it on; "" (the bare flag) does.
func isTrue(value string) bool {
	if value == "" {
		return true
	}
	on, err := strconv.ParseBool(resolve(value))
	return err == nil && on
}
