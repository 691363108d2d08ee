// SPDX-License-Identifier: Apache-2.0

// Package rbacrole adds rules to a controller-gen generated role.yaml exactly where, and exactly as, that
// repository's controller-gen version would write them, and tells whether the file is stale: whether it
// grants something other than what the RBAC markers in the scanned packages say.
//
// Unchanged rules keep their bytes; new or merged rules are encoded with yaml.v2 like controller-gen's own
// writer. The tests prove the result byte for byte against real controller-gen builds of each version
// family.
package rbacrole
