// SPDX-License-Identifier: Apache-2.0

// Package manifest patches the manager Deployment of a config/manager/manager.yaml: the diagnostics
// arguments in place of the metrics bind argument, and the 8443 container port named metrics.
//
// It splices lines at positions taken from the parsed YAML and copies the indentation and quoting of the
// neighbouring lines, so nothing else in the file changes (a YAML encoder would reflow comments and
// quoting). It follows the file's convention for values: clusterctl variables with defaults
// (${CAPI_DIAGNOSTICS_ADDRESS:=:8443}) where the file already uses them, literal values otherwise.
package manifest
