package manager

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	ctrlmgr "sigs.k8s.io/controller-runtime/pkg/manager"
)

// New creates the controller-runtime manager from opts.
func New(_ context.Context, opts Options) (ctrlmgr.Manager, error) {
	if opts.KubeConfig == nil {
		cfg, err := ctrl.GetConfig()
		if err != nil {
			return nil, fmt.Errorf("get client configuration: %w", err)
		}
		opts.KubeConfig = cfg
	}
	if opts.WatchNamespace != "" {
		opts.Cache = cache.Options{DefaultNamespaces: map[string]cache.Config{opts.WatchNamespace: {}}}
	}
	mgr, err := ctrlmgr.New(opts.KubeConfig, opts.Options)
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	return mgr, nil
}
