// Package v1beta3 holds the API group of the CloudStack infrastructure provider. The fixture keeps only
// the group: its types are not needed to reproduce the diagnostics wiring.
// +kubebuilder:object:generate=true
// +groupName=infrastructure.cluster.x-k8s.io
package v1beta3

import "k8s.io/apimachinery/pkg/runtime/schema"

// GroupVersion is the API group and version of the provider's resources.
var GroupVersion = schema.GroupVersion{Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta3"}
