// SPDX-License-Identifier: Apache-2.0

package framework

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ErrNoAssets means KUBEBUILDER_ASSETS does not name the directory `make tools` fills.
var ErrNoAssets = errors.New("KUBEBUILDER_ASSETS is not set: run `make test`, or export KUBEBUILDER_ASSETS=$(make -s print-envtest-assets)")

// ControlPlane is a running kube-apiserver and etcd, with an admin client.
type ControlPlane struct {
	env *envtest.Environment
	// Config is an admin (system:masters) client configuration.
	Config *rest.Config
	// Clientset is an admin client.
	Clientset kubernetes.Interface
	// Version is the API server's version, e.g. v1.37.2.
	Version string
}

// StartControlPlane starts kube-apiserver and etcd from KUBEBUILDER_ASSETS.
func StartControlPlane() (*ControlPlane, error) {
	return start(&envtest.Environment{})
}

// StartDisposableControlPlane starts a control plane meant to be killed with Crash.
func StartDisposableControlPlane() (*ControlPlane, error) {
	// kube-apiserver's graceful shutdown waits for open watches, such as a running manager's; a short stop
	// timeout turns SIGTERM into SIGKILL after two seconds.
	return start(&envtest.Environment{ControlPlaneStopTimeout: 2 * time.Second})
}

func start(env *envtest.Environment) (*ControlPlane, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, ErrNoAssets
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start kube-apiserver and etcd: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("create admin client: %w", err)
	}
	info, err := cs.Discovery().ServerVersion()
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("read API server version: %w", err)
	}
	return &ControlPlane{env: env, Config: cfg, Clientset: cs, Version: info.GitVersion}, nil
}

// Stop stops kube-apiserver and etcd.
func (c *ControlPlane) Stop() error {
	if err := c.env.Stop(); err != nil {
		return fmt.Errorf("stop control plane: %w", err)
	}
	return nil
}

// Crash takes the control plane away from its clients without a graceful shutdown, as a failed or
// partitioned API server would be: connections are refused from then on.
func (c *ControlPlane) Crash() error {
	err := c.env.Stop()
	if err != nil && !strings.Contains(err.Error(), "timeout waiting for process") {
		return fmt.Errorf("crash control plane: %w", err)
	}
	return nil
}

// EnsureNamespace creates a namespace unless it exists.
func (c *ControlPlane) EnsureNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.Clientset.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// ServiceAccountToken creates a ServiceAccount and returns a token for it from the TokenRequest API, as
// `kubectl create token` does.
func (c *ControlPlane) ServiceAccountToken(ctx context.Context, namespace, name string) (string, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	if _, err := c.Clientset.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("create ServiceAccount %s/%s: %w", namespace, name, err)
	}
	tr, err := c.Clientset.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("request token for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	return tr.Status.Token, nil
}

// Grant creates a ClusterRole with the rules and binds it to the ServiceAccount.
func (c *ControlPlane) Grant(ctx context.Context, namespace, serviceAccount, role string, rules ...Rule) error {
	if err := c.EnsureClusterRole(ctx, role, rules...); err != nil {
		return err
	}
	if err := c.Bind(ctx, namespace, serviceAccount, role, role+"-"+namespace+"-"+serviceAccount); err != nil {
		return err
	}
	return c.waitGranted(ctx, Subject{Namespace: namespace, ServiceAccount: serviceAccount}, rules)
}

// waitGranted returns once the API server's RBAC authorizer, which reads bindings through an informer,
// allows the first non-resource URL and verb of each rule: a test calling right after a grant on a busy
// machine would otherwise be denied, and the endpoint under test would cache that denial.
func (c *ControlPlane) waitGranted(ctx context.Context, who Subject, rules []Rule) error {
	for _, r := range rules {
		if len(r.NonResourceURLs) == 0 || len(r.Verbs) == 0 {
			continue
		}
		spec := authorizationv1.SubjectAccessReviewSpec{NonResourceAttributes: &authorizationv1.NonResourceAttributes{
			Path: strings.TrimSuffix(r.NonResourceURLs[0], "*"), Verb: r.Verbs[0]}}
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			return c.Allowed(ctx, who, spec)
		})
		if err != nil {
			return fmt.Errorf("the grant of %s %s to %s/%s never took effect: %w", r.Verbs[0], r.NonResourceURLs[0], who.Namespace, who.ServiceAccount, err)
		}
	}
	return nil
}

// EnsureClusterRole creates a ClusterRole with the rules unless it exists.
func (c *ControlPlane) EnsureClusterRole(ctx context.Context, role string, rules ...Rule) error {
	cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: role}, Rules: rules}
	if _, err := c.Clientset.RbacV1().ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ClusterRole %s: %w", role, err)
	}
	return nil
}

// Bind binds an existing ClusterRole to the ServiceAccount with a ClusterRoleBinding named binding.
func (c *ControlPlane) Bind(ctx context.Context, namespace, serviceAccount, role, binding string) error {
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: binding},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: serviceAccount}},
	}
	if _, err := c.Clientset.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ClusterRoleBinding %s: %w", crb.Name, err)
	}
	return nil
}

// writeKubeconfig writes a kubeconfig that reaches this API server through server (for example a
// FaultProxy on loopback), trusting its CA, with a bearer token.
func (c *ControlPlane) writeKubeconfig(path, server, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["envtest"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: c.Config.CAData}
	cfg.AuthInfos["manager"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "manager"}
	cfg.CurrentContext = "envtest"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// Rule is one RBAC policy rule.
type Rule = rbacv1.PolicyRule

// ManagerKubeconfig gives a manager an identity of its own: a ServiceAccount with only ManagerRules, and
// a kubeconfig at path that reaches the API server through server (empty: directly) with its token. Running
// managers this way also proves that ManagerRules is enough.
func (c *ControlPlane) ManagerKubeconfig(ctx context.Context, namespace, name, server, path string) error {
	token, err := c.ServiceAccountToken(ctx, namespace, name)
	if err != nil {
		return err
	}
	if err := c.Grant(ctx, namespace, name, "diagkit-manager", ManagerRules...); err != nil {
		return err
	}
	if server == "" {
		server = c.Config.Host
	}
	return c.writeKubeconfig(path, server, token)
}

// ServiceAccountKubeconfig writes a kubeconfig at path for the ServiceAccount, which it creates if
// needed, and grants nothing: the caller binds the roles under test.
func (c *ControlPlane) ServiceAccountKubeconfig(ctx context.Context, namespace, name, path string) error {
	token, err := c.ServiceAccountToken(ctx, namespace, name)
	if err != nil {
		return err
	}
	return c.writeKubeconfig(path, c.Config.Host, token)
}

// Non-resource rules of the Cluster API book's diagnostics ClusterRoles.
var (
	MetricsReaderRule = rbacv1.PolicyRule{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}
	PprofRule         = rbacv1.PolicyRule{NonResourceURLs: []string{"/debug/pprof/*"}, Verbs: []string{"get"}}
	LogLevelRule      = rbacv1.PolicyRule{NonResourceURLs: []string{"/debug/flags/v"}, Verbs: []string{"put"}}
)

// ManagerRules is everything the sample manager's ServiceAccount may do: the two reviews diagnostics
// needs (what the kustomize component and the generator's RBAC markers grant), and its controller's watch.
var ManagerRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
	{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"}},
}
