// SPDX-License-Identifier: Apache-2.0

package kustomization

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
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
	// Rules are the rules of every Role and ClusterRole the tree binds to that account, by role name;
	// Bound names every role bound to it, those the tree does not hold (defined elsewhere) included.
	Rules map[string][]rbacrole.Rule
	Bound []string
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
	var clusterRoles []rbacv1.ClusterRole
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
		case "ClusterRole":
			var r rbacv1.ClusterRole
			if err := yaml.Unmarshal(o.data, &r); err != nil {
				return nil, err
			}
			roles["ClusterRole/"+r.Name] = append(roles["ClusterRole/"+r.Name], r.Rules...)
			clusterRoles = append(clusterRoles, r)
		case "Role":
			var r rbacv1.Role
			if err := yaml.Unmarshal(o.data, &r); err != nil {
				return nil, err
			}
			key := "Role/" + orDefault(r.Namespace, "default") + "/" + r.Name
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
	aggregated := aggregatedRoles(clusterRoles)
	for _, b := range bindings {
		if !bindsAccount(b, d.ServiceAccount) {
			continue
		}
		bound := map[string]string{"ClusterRole/" + b.RoleRef.Name: b.RoleRef.Name}
		if b.RoleRef.Kind == "Role" {
			bound = map[string]string{"Role/" + orDefault(b.Namespace, "default") + "/" + b.RoleRef.Name: b.RoleRef.Name}
		} else {
			// An aggregated ClusterRole (Cluster API providers bind one) holds the rules of the roles its
			// selectors match, which the cluster's controller copies in: each counts under its own name.
			for _, name := range aggregated[b.RoleRef.Name] {
				bound["ClusterRole/"+name] = name
			}
		}
		for key, name := range bound {
			if !slices.Contains(d.Bound, name) {
				d.Bound = append(d.Bound, name)
			}
			for _, pr := range roles[key] {
				d.Rules[name] = append(d.Rules[name], rbacrole.Rule{APIGroups: pr.APIGroups, NonResourceURLs: pr.NonResourceURLs,
					ResourceNames: pr.ResourceNames, Resources: pr.Resources, Verbs: pr.Verbs})
			}
		}
	}
	return d, nil
}

// aggregatedRoles returns, for each ClusterRole with an aggregation rule, the names of the ClusterRoles
// of the tree whose labels one of its selectors matches.
func aggregatedRoles(roles []rbacv1.ClusterRole) map[string][]string {
	out := map[string][]string{}
	for _, agg := range roles {
		if agg.AggregationRule == nil {
			continue
		}
		for _, sel := range agg.AggregationRule.ClusterRoleSelectors {
			selector, err := metav1.LabelSelectorAsSelector(&sel)
			if err != nil {
				continue // the API server would refuse it too
			}
			for _, r := range roles {
				if r.Name != agg.Name && selector.Matches(labels.Set(r.Labels)) && !slices.Contains(out[agg.Name], r.Name) {
					out[agg.Name] = append(out[agg.Name], r.Name)
				}
			}
		}
	}
	return out
}

func bindsAccount(b rbacv1.RoleBinding, account string) bool {
	for _, s := range b.Subjects {
		if s.Kind != rbacv1.ServiceAccountKind {
			continue
		}
		// A ServiceAccount subject needs a namespace; a tree that leaves it out (and the binding's, and
		// the Deployment's) expects one set where it is deployed, so the name alone decides.
		ns := cmp.Or(s.Namespace, b.Namespace)
		if ns == "" && strings.HasSuffix(account, "/"+s.Name) || orDefault(ns, "default")+"/"+s.Name == account {
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
	if n := d.Manager.ArgCount(manifest.AddressFlag); n > 1 {
		// The last wins, so a person changing the first changes nothing.
		return false, fmt.Sprintf("the manager container passes %s %d times", manifest.AddressFlag, n)
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
