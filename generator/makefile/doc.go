// SPDX-License-Identifier: Apache-2.0

// Package makefile reads how a repository runs controller-gen for RBAC (version, paths, role name,
// output directory) and adds the manager's package to the paths when the markers there would not be
// scanned, as the upstream Cluster API providers did by hand. It changes only that one argument.
//
// It reads a Makefile as make does where that matters: variables (=, :=, ?=, +=, !=, define, of the
// Makefile and the files it includes) expanded when a recipe runs, conditionals it can decide, recipe
// lines with their rule (file rules such as config/.flag.mk included), and the shell commands of a
// recipe line (quotes, pipes, redirections, cd). From the rules it builds a graph of what making a
// target makes (prerequisites and $(MAKE) runs), so that a caller can choose among several
// controller-gen invocations and name the target a person runs, and it finds the command writing a
// file (WriterOf). ControllerGenFromModules reads a controller-tools version pinned in a tools module.
package makefile
