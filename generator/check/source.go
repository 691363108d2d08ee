// SPDX-License-Identifier: Apache-2.0

package check

import (
	"fmt"

	"github.com/diagkit/diagkit/generator/gosource"
)

// checkTLSOptions reports server options derived from the diagnostics flags whose TLS options are
// dropped, as upstream eks-anywhere and the etcdadm providers did: --tls-min-version and
// --tls-cipher-suites then never reach the webhook server.
func checkTLSOptions(r *repo) error {
	for _, d := range gosource.FindDerivations(r.t.MainPackage) {
		if d.TLSUsed {
			continue
		}
		result := "second"
		if d.Backend == gosource.CAPI {
			result = "first"
		}
		name := "tlsOptions"
		if d.File.Text(d.TLS) != "_" {
			name = d.File.Text(d.TLS)
		}
		r.report(Finding{
			ID: TLSOptionsDiscarded, File: d.File.Path, Line: d.File.Line(d.Assign.Pos()),
			Message: "the TLS options derived from --tls-min-version and --tls-cipher-suites are discarded: the webhook server keeps Go's defaults whatever the flags say",
			Fix: fmt.Sprintf("assign the %s result to %s and give it to the webhook server: `TLSOpts: %s` in its webhook.Options (`WebhookServer: webhook.NewServer(webhook.Options{TLSOpts: %s})` if it has none)",
				result, name, name, name),
		})
	}
	return nil
}
