// SPDX-License-Identifier: Apache-2.0

// Package edit holds what every patcher of the generator shares: byte-range edits against an original
// file (the gopls TextEdit model, so bytes outside an edit cannot change) and the errors patchers return.
package edit
