// SPDX-License-Identifier: Apache-2.0

package probe

import (
	"context"
	"errors"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// ManagedByLabel marks every object a probe creates, so that leftovers (from a probe killed with SIGKILL)
// can be found: kubectl get ns,clusterrole,clusterrolebinding -l app.kubernetes.io/managed-by=diagkit-probe
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "diagkit-probe"
)

// tokenLifetime is the shortest the TokenRequest API issues (10 minutes); a probe takes seconds.
const tokenLifetime = 10 * time.Minute

// identities are the probe's callers and what was created for them.
type identities struct {
	cs                     kubernetes.Interface
	namespace, clusterRole string
	unprivileged, reader   string // tokens
	readerUser             string
	created                []string
}

// newIdentities creates a namespace, two ServiceAccounts and a ClusterRole with its binding granting the
// reader rules, and takes a token for each account. On error, whatever was created is deleted.
func newIdentities(ctx context.Context, cs kubernetes.Interface, rules []rbacv1.PolicyRule) (_ *identities, err error) {
	id := &identities{cs: cs}
	defer func() {
		if err != nil {
			_, _ = id.cleanup()
		}
	}()
	labels := map[string]string{ManagedByLabel: ManagedBy}
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "diagkit-probe-", Labels: labels}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create the probe's namespace: %w", err)
	}
	id.namespace = ns.Name
	id.created = append(id.created, "namespace/"+ns.Name)
	for _, name := range []string{"unprivileged", "reader"} {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns.Name, Labels: labels}}
		if _, err := cs.CoreV1().ServiceAccounts(ns.Name).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("create ServiceAccount %s/%s: %w", ns.Name, name, err)
		}
		id.created = append(id.created, "serviceaccount/"+ns.Name+"/"+name)
	}
	// Cluster-scoped objects are named after the namespace, so concurrent probes never collide.
	id.clusterRole = ns.Name + "-reader"
	cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: id.clusterRole, Labels: labels}, Rules: rules}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create ClusterRole %s: %w", id.clusterRole, err)
	}
	id.created = append(id.created, "clusterrole/"+id.clusterRole)
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: id.clusterRole, Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: id.clusterRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns.Name, Name: "reader"}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create ClusterRoleBinding %s: %w", id.clusterRole, err)
	}
	id.created = append(id.created, "clusterrolebinding/"+id.clusterRole)

	if id.unprivileged, err = id.token(ctx, "unprivileged"); err != nil {
		return nil, err
	}
	if id.reader, err = id.token(ctx, "reader"); err != nil {
		return nil, err
	}
	id.readerUser = "system:serviceaccount:" + ns.Name + ":reader"
	return id, nil
}

func (id *identities) token(ctx context.Context, sa string) (string, error) {
	tr, err := id.cs.CoreV1().ServiceAccounts(id.namespace).CreateToken(ctx, sa,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(tokenLifetime.Seconds()))}},
		metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("request a token for ServiceAccount %s/%s: %w", id.namespace, sa, err)
	}
	return tr.Status.Token, nil
}

// waitForReader returns once the API server's authorizer grants the reader every attribute: a binding
// is not effective everywhere the moment it is created.
func (id *identities) waitForReader(ctx context.Context, attrs []authorizationv1.SubjectAccessReviewSpec) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 15*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, a := range attrs {
			a.User = id.readerUser
			a.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + id.namespace, "system:authenticated"}
			sar, err := id.cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: a}, metav1.CreateOptions{})
			if err != nil {
				return false, fmt.Errorf("check the reader's RBAC: %w", err)
			}
			if !sar.Status.Allowed {
				return false, nil
			}
		}
		return true, nil
	})
}

// cleanup deletes everything newIdentities created, with its own deadline: it also runs after the
// probe's context was cancelled by an interrupt. It returns what it deleted.
func (id *identities) cleanup() ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	ignoreMissing := func(err error) error {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	if id.clusterRole != "" {
		errs = append(errs,
			ignoreMissing(id.cs.RbacV1().ClusterRoleBindings().Delete(ctx, id.clusterRole, metav1.DeleteOptions{})),
			ignoreMissing(id.cs.RbacV1().ClusterRoles().Delete(ctx, id.clusterRole, metav1.DeleteOptions{})))
	}
	if id.namespace != "" {
		// Explicitly, not only through the namespace: the accounts' tokens stop working at once, even where
		// no namespace controller finalizes the namespace soon.
		for _, sa := range []string{"unprivileged", "reader"} {
			errs = append(errs, ignoreMissing(id.cs.CoreV1().ServiceAccounts(id.namespace).Delete(ctx, sa, metav1.DeleteOptions{})))
		}
		errs = append(errs, ignoreMissing(id.cs.CoreV1().Namespaces().Delete(ctx, id.namespace, metav1.DeleteOptions{})))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("clean up (find leftovers with -l %s=%s): %w", ManagedByLabel, ManagedBy, err)
	}
	return id.created, nil
}
