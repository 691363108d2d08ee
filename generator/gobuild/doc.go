// SPDX-License-Identifier: Apache-2.0

// Package gobuild reads `go build` commands — in a Makefile's recipes or a Dockerfile's RUN
// instructions — for the binary each one writes and the packages it builds, so that the generator can
// tell which Deployment runs which command of a module with several.
package gobuild
