// Package manager wraps controller-runtime's manager with the provider's own options, as CAPV does.
package manager

import (
	"k8s.io/client-go/rest"
	ctrlmgr "sigs.k8s.io/controller-runtime/pkg/manager"
)

// Options are controller-runtime's manager options plus the provider's.
type Options struct {
	ctrlmgr.Options

	// KubeConfig is the client configuration; empty means the in-cluster or default one.
	KubeConfig *rest.Config
	// WatchNamespace restricts the caches; empty means every namespace.
	WatchNamespace string
}
