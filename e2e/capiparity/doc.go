// SPDX-License-Identifier: Apache-2.0

// Package capiparity proves that diagkit's diagnostics package is a drop-in for Cluster API's
// util/flags: its flags with the same types, defaults and help (diagkit's additions all start with --diagnostics-), the same metrics-server options for
// the same arguments, and the same answers to the same callers of a real API server, except where diagkit
// deliberately differs (401 instead of 500 for a rejected token; no HTTP/2 on the diagnostics endpoint).
//
// It is the only place in diagkit that imports Cluster API, and only in tests.
package capiparity
