// SPDX-License-Identifier: Apache-2.0

// Package gosource finds a controller-runtime manager in Go source and plans the edits that serve its
// metrics through diagnostics: the import, the flag registration in place of the metrics bind flag, the
// derived metrics and webhook TLS options, and the RBAC markers as a comment group controller-gen
// collects.
//
// It also answers, without editing, what diagkit check asks of a package: where it registers the
// diagnostics flags and whether it passes on the TLS options derived from them.
//
// Edits are byte ranges on the original file followed by one gofmt pass, so comments and code outside
// them are untouched. It does not type-check; it resolves names through the file's imports and the
// function's declarations, and reports anything it cannot resolve with its position.
package gosource
