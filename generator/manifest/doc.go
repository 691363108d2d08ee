// SPDX-License-Identifier: Apache-2.0

// Package manifest patches the manager Deployment of a config/manager/manager.yaml: the diagnostics
// arguments in place of the metrics bind argument, and the 8443 container port named metrics.
//
// It splices lines at positions taken from the parsed YAML, so nothing else in the file changes (a YAML
// encoder would reflow comments and quoting). New lines take their columns from the parsed nodes, not from
// leading spaces: keys at their mapping's key column (right of the dash on a "- key:" line), items at
// their sequence's dash column, new sequences as the file's others (dash at the key's column, kubebuilder's
// style, or deeper), quoting as the neighbouring items. Flow collections that would need new lines are
// reported, not rewritten. It follows the file's convention for values: clusterctl variables with defaults
// (${CAPI_DIAGNOSTICS_ADDRESS:=:8443}) where the file already uses them, literal values otherwise.
package manifest
