// SPDX-License-Identifier: Apache-2.0

// Package makefile reads how a repository runs controller-gen for RBAC (version, paths, role name,
// output directory) and adds the manager's package to the paths when the markers there would not be
// scanned, as the upstream Cluster API providers did by hand. It changes only that one argument.
package makefile
