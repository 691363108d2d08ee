// SPDX-License-Identifier: Apache-2.0

package framework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ErrNoCRDs means DIAGKIT_CRDS does not name the directory `make crds` fills.
var ErrNoCRDs = errors.New("DIAGKIT_CRDS is not set: run `make test`, or export DIAGKIT_CRDS=$PWD/bin/crds after `make crds`")

var crdsOnce sync.Map // *ControlPlane -> *crdResult

type crdResult struct {
	once sync.Once
	err  error
}

// InstallCRDs installs the ServiceMonitor, PodMonitor, Issuer and Certificate CRDs from DIAGKIT_CRDS, once
// per control plane, and waits until the API server serves them.
func (c *ControlPlane) InstallCRDs() error {
	v, _ := crdsOnce.LoadOrStore(c, &crdResult{})
	r := v.(*crdResult)
	r.once.Do(func() {
		dir := os.Getenv("DIAGKIT_CRDS")
		if dir == "" {
			r.err = ErrNoCRDs
			return
		}
		if _, err := envtest.InstallCRDs(c.Config, envtest.CRDInstallOptions{Paths: []string{dir}, ErrorIfPathMissing: true}); err != nil {
			r.err = fmt.Errorf("install CRDs from %s: %w", dir, err)
		}
	})
	return r.err
}

// Decode splits a YAML stream into objects.
func Decode(stream []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("decode YAML: %w", err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// Create creates every object as the admin, namespaces first, with strict field validation, so the API
// server rejects an unknown or misplaced field as well as an invalid value.
func (c *ControlPlane) Create(ctx context.Context, objs []*unstructured.Unstructured) error {
	cl, err := client.New(c.Config, client.Options{})
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" {
			if err := c.EnsureNamespace(ctx, ns); err != nil {
				return err
			}
		}
	}
	for _, o := range objs {
		if err := cl.Create(ctx, o.DeepCopy(), client.FieldValidation("Strict")); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	return nil
}

// Subject is who a SubjectAccessReview asks about.
type Subject struct{ Namespace, ServiceAccount string }

// Allowed asks the API server whether the ServiceAccount may perform the request.
func (c *ControlPlane) Allowed(ctx context.Context, who Subject, attrs authorizationv1.SubjectAccessReviewSpec) (bool, error) {
	attrs.User = "system:serviceaccount:" + who.Namespace + ":" + who.ServiceAccount
	attrs.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + who.Namespace, "system:authenticated"}
	sar, err := c.Clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: attrs}, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("SubjectAccessReview for %s: %w", attrs.User, err)
	}
	return sar.Status.Allowed, nil
}
