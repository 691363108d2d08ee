package v1alpha1

// PackageSpec defines the desired state of a Package.
type PackageSpec struct {
	// PackageName is the name of the package as specified in the bundle.
	PackageName string `json:"packageName"`

	// TargetNamespace defines where package resources will be deployed.
	// +optional
	TargetNamespace string `json:"targetNamespace,omitempty"`
}
