// SPDX-License-Identifier: Apache-2.0

// Package gomodule reads the versions a go.mod resolves (replace directives applied) and adds the
// diagnostics module requirement, through golang.org/x/mod/modfile.
package gomodule
