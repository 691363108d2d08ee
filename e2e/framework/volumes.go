// SPDX-License-Identifier: Apache-2.0

package framework

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Mounts maps the paths a container sees to the directories on this machine that hold what the kubelet
// would have mounted there, so a pod's container can run as a local process with its own arguments and
// configuration files.
type Mounts struct {
	// Paths maps a mount path in the container to a local path.
	Paths map[string]string
	// Env is the container's environment, with field references resolved.
	Env map[string]string
}

// MountVolumes writes the pod's volumes under root as the kubelet would fill them (Secrets, ConfigMaps
// and projections of them with their items, empty directories) and returns the mounts of the named
// container. Each volume gets one directory, so containers that share a volume share the directory.
// Other volume kinds are left empty: e2e processes reach the API server with kubeconfigs of their own.
func (c *ControlPlane) MountVolumes(ctx context.Context, pod *corev1.Pod, container, root string) (Mounts, error) {
	var ctr *corev1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == container {
			ctr = &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if ctr == nil && pod.Spec.InitContainers[i].Name == container {
			ctr = &pod.Spec.InitContainers[i]
		}
	}
	if ctr == nil {
		return Mounts{}, fmt.Errorf("pod %s/%s has no container %s", pod.Namespace, pod.Name, container)
	}
	m := Mounts{Paths: map[string]string{}, Env: map[string]string{}}
	for _, vm := range ctr.VolumeMounts {
		i := slices.IndexFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == vm.Name })
		if i < 0 {
			return Mounts{}, fmt.Errorf("container %s mounts volume %s, which the pod does not have", container, vm.Name)
		}
		dir := filepath.Join(root, "volumes", vm.Name)
		if err := c.fillVolume(ctx, pod.Namespace, pod.Spec.Volumes[i], dir); err != nil {
			return Mounts{}, err
		}
		m.Paths[vm.MountPath] = filepath.Join(dir, vm.SubPath)
	}
	for _, e := range ctr.Env {
		switch {
		case e.ValueFrom == nil:
			m.Env[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			m.Env[e.Name] = pod.Name
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			m.Env[e.Name] = pod.Namespace
		}
	}
	return m, nil
}

// fillVolume writes one volume into dir, once.
func (c *ControlPlane) fillVolume(ctx context.Context, namespace string, v corev1.Volume, dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	switch {
	case v.Secret != nil:
		return c.writeSecret(ctx, namespace, v.Secret.SecretName, v.Secret.Items, ptrTrue(v.Secret.Optional), dir)
	case v.ConfigMap != nil:
		return c.writeConfigMap(ctx, namespace, v.ConfigMap.Name, v.ConfigMap.Items, ptrTrue(v.ConfigMap.Optional), dir)
	case v.Projected != nil:
		for _, s := range v.Projected.Sources {
			var err error
			switch {
			case s.Secret != nil:
				err = c.writeSecret(ctx, namespace, s.Secret.Name, s.Secret.Items, ptrTrue(s.Secret.Optional), dir)
			case s.ConfigMap != nil:
				err = c.writeConfigMap(ctx, namespace, s.ConfigMap.Name, s.ConfigMap.Items, ptrTrue(s.ConfigMap.Optional), dir)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *ControlPlane) writeSecret(ctx context.Context, namespace, name string, items []corev1.KeyToPath, optional bool, dir string) error {
	s, err := c.Clientset.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if optional {
			return nil
		}
		return fmt.Errorf("mount Secret %s/%s: %w", namespace, name, err)
	}
	return writeKeys(s.Data, items, dir)
}

func (c *ControlPlane) writeConfigMap(ctx context.Context, namespace, name string, items []corev1.KeyToPath, optional bool, dir string) error {
	cm, err := c.Clientset.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if optional {
			return nil
		}
		return fmt.Errorf("mount ConfigMap %s/%s: %w", namespace, name, err)
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return writeKeys(data, items, dir)
}

// writeKeys writes every key as a file, or only the listed items under their paths.
func writeKeys(data map[string][]byte, items []corev1.KeyToPath, dir string) error {
	paths := map[string]string{}
	for k := range data {
		paths[k] = k
	}
	if len(items) > 0 {
		paths = map[string]string{}
		for _, it := range items {
			paths[it.Key] = it.Path
		}
	}
	for k, p := range paths {
		v, ok := data[k]
		if !ok {
			return fmt.Errorf("key %s is missing", k)
		}
		file := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(file, v, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func ptrTrue(b *bool) bool { return b != nil && *b }

// Local rewrites every mounted path in s (an argument, a configuration file) to its local path. A mount
// path is recognized only as a whole path element at the start of s or after '=', a space or a quote, so
// /prometheus is rewritten in --storage.tsdb.path=/prometheus but not inside /etc/prometheus/certs.
func (m Mounts) Local(s string) string {
	if len(m.Paths) == 0 {
		return s
	}
	paths := make([]string, 0, len(m.Paths))
	for p := range m.Paths {
		paths = append(paths, regexp.QuoteMeta(strings.TrimSuffix(p, "/")))
	}
	// Longest first, so /etc/prometheus/config_out wins over a mount at /etc/prometheus.
	slices.SortFunc(paths, func(a, b string) int { return len(b) - len(a) })
	re := regexp.MustCompile(`(^|[=\s"'])(` + strings.Join(paths, "|") + `)(/|$|[\s"'])`)
	return re.ReplaceAllStringFunc(s, func(match string) string {
		sub := re.FindStringSubmatch(match)
		for p, local := range m.Paths {
			if strings.TrimSuffix(p, "/") == sub[2] {
				return sub[1] + local + sub[3]
			}
		}
		return match
	})
}

// Expand replaces $(NAME) with the container's environment variable NAME, as the kubelet does in args
// (and as the Prometheus Operator's config reloader does in the configuration it writes).
func (m Mounts) Expand(s string) string {
	return regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`).ReplaceAllStringFunc(s, func(ref string) string {
		if v, ok := m.Env[ref[2:len(ref)-1]]; ok {
			return v
		}
		return ref
	})
}
