// SPDX-License-Identifier: Apache-2.0

package kustomization

import (
	"bytes"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/diagkit/diagkit/generator/manifest"
	"github.com/diagkit/diagkit/generator/rbacrole"
)

// Deployed is the manager as one rendered tree deploys it.
type Deployed struct {
	// Manager is the manager container, Others the other containers of its Deployment.
	Manager *manifest.Container
	Others  []*manifest.Container
	// ServiceAccount is namespace/name of the account the pod runs as.
	ServiceAccount string
	// Rules are the rules of every Role and ClusterRole the tree binds to that account, by role name.
	Rules map[string][]rbacrole.Rule
}

// FindDeployed finds the container named container of the Deployment named deployment (or ending in
// "-deployment", as a namePrefix leaves it) in a rendered stream; nil when the tree does not deploy it.
func FindDeployed(rendered []byte, deployment, container string) (*Deployed, error) {
	const file = "(rendered)"
	containers, err := manifest.FindAll(file, rendered)
	if err != nil {
		return nil, err
	}
	matches := func(name string) bool { return name == deployment || strings.HasSuffix(name, "-"+deployment) }
	d := &Deployed{Rules: map[string][]rbacrole.Rule{}}
	var depName string
	for _, c := range containers {
		if matches(c.Deployment) && c.Name == container {
			d.Manager, depName = c, c.Deployment
		}
	}
	if d.Manager == nil {
		return nil, nil
	}
	for _, c := range containers {
		if c.Deployment == depName && c != d.Manager {
			d.Others = append(d.Others, c)
		}
	}
	objs, err := decode(rendered)
	if err != nil {
		return nil, err
	}
	roles := map[string][]rbacv1.PolicyRule{} // "ClusterRole/name" or "Role/ns/name"
	var bindings []rbacv1.RoleBinding
	for _, o := range objs {
		switch o.kind {
		case "Deployment":
			var dep appsv1.Deployment
			if err := yaml.Unmarshal(o.data, &dep); err != nil {
				return nil, err
			}
			if dep.Name == depName {
				sa := dep.Spec.Template.Spec.ServiceAccountName
				if sa == "" {
					sa = "default"
				}
				d.ServiceAccount = orDefault(dep.Namespace, "default") + "/" + sa
			}
		case "ClusterRole", "Role":
			var r rbacv1.Role // a ClusterRole's rules decode the same way
			if err := yaml.Unmarshal(o.data, &r); err != nil {
				return nil, err
			}
			key := "ClusterRole/" + r.Name
			if o.kind == "Role" {
				key = "Role/" + orDefault(r.Namespace, "default") + "/" + r.Name
			}
			roles[key] = append(roles[key], r.Rules...)
		case "ClusterRoleBinding", "RoleBinding":
			var b rbacv1.RoleBinding
			if err := yaml.Unmarshal(o.data, &b); err != nil {
				return nil, err
			}
			if o.kind == "ClusterRoleBinding" {
				b.Namespace = ""
			}
			bindings = append(bindings, b)
		}
	}
	for _, b := range bindings {
		if !bindsAccount(b, d.ServiceAccount) {
			continue
		}
		key := "ClusterRole/" + b.RoleRef.Name
		if b.RoleRef.Kind == "Role" {
			key = "Role/" + orDefault(b.Namespace, "default") + "/" + b.RoleRef.Name
		}
		for _, pr := range roles[key] {
			d.Rules[b.RoleRef.Name] = append(d.Rules[b.RoleRef.Name], rbacrole.Rule{APIGroups: pr.APIGroups, NonResourceURLs: pr.NonResourceURLs,
				ResourceNames: pr.ResourceNames, Resources: pr.Resources, Verbs: pr.Verbs})
		}
	}
	return d, nil
}

func bindsAccount(b rbacv1.RoleBinding, account string) bool {
	for _, s := range b.Subjects {
		if s.Kind != rbacv1.ServiceAccountKind {
			continue
		}
		ns := s.Namespace
		if ns == "" {
			ns = b.Namespace
		}
		if orDefault(ns, "default")+"/"+s.Name == account {
			return true
		}
	}
	return false
}

type object struct {
	kind string
	data []byte
}

// decode splits a rendered stream into its objects.
func decode(stream []byte) ([]object, error) {
	var objs []object
	for _, doc := range bytes.Split(stream, []byte("\n---\n")) {
		var head struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return nil, fmt.Errorf("rendered object: %w", err)
		}
		if head.Kind != "" {
			objs = append(objs, object{kind: head.Kind, data: doc})
		}
	}
	return objs, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ServesDiagnostics says whether the deployed manager passes the diagnostics address, declares its port
// and runs without a kube-rbac-proxy beside it: what a retrofit leaves in every tree.
func (d *Deployed) ServesDiagnostics() (bool, string) {
	if _, _, ok := d.Manager.Arg(manifest.AddressFlag, true); !ok {
		return false, "the manager container passes no " + manifest.AddressFlag
	}
	port := "8443"
	if v, _, _ := d.Manager.Arg(manifest.AddressFlag, true); v != "" {
		if i := strings.LastIndex(v, ":"); i >= 0 {
			port = strings.TrimSuffix(v[i+1:], "}")
		}
	}
	declared := false
	for _, p := range d.Manager.Ports() {
		declared = declared || p.Number == port
	}
	if !declared {
		return false, "the manager container declares no port " + port
	}
	for _, c := range d.Others {
		if strings.Contains(c.Name, "kube-rbac-proxy") || strings.Contains(c.Image(), "kube-rbac-proxy") {
			return false, "a kube-rbac-proxy sidecar (" + c.Name + ") still runs beside the manager"
		}
	}
	return true, ""
}
