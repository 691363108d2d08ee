// SPDX-License-Identifier: Apache-2.0

package probe

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Status is the outcome of one check.
type Status string

// Statuses, from best to worst. A report is insecure when any check failed.
const (
	Pass Status = "pass"
	Info Status = "info"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Result is one check.
type Result struct {
	// Check names what was checked: "caller", "tls-version", "tls-legacy", "certificate-expiry",
	// "certificate-issuer", "certificate-name", "read-only-port".
	Check string `json:"check"`
	// Path and Caller are set for caller checks.
	Path   string `json:"path,omitempty"`
	Caller string `json:"caller,omitempty"`
	// Code is the HTTP status a caller got.
	Code   int    `json:"code,omitempty"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
}

// Report is what a probe found.
type Report struct {
	Target  string   `json:"target"`
	Address string   `json:"address"`
	Results []Result `json:"results"`
	// CleanedUp lists the objects the probe created and deleted.
	CleanedUp []string `json:"cleanedUp"`
}

// Secure is false when any check failed.
func (r *Report) Secure() bool {
	for _, res := range r.Results {
		if res.Status == Fail {
			return false
		}
	}
	return true
}

func (r *Report) add(res Result) { r.Results = append(r.Results, res) }

// WriteTable prints the report for people.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "probe %s (%s)\n\n", r.Target, r.Address)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  CHECK\tPATH\tCALLER\tCODE\tRESULT\tDETAIL")
	for _, res := range r.Results {
		code := ""
		if res.Code != 0 {
			code = fmt.Sprint(res.Code)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", res.Check, res.Path, res.Caller, code, res.Status, res.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "secure: every check passed"
	if !r.Secure() {
		verdict = "INSECURE: see the failed checks above"
	}
	_, err := fmt.Fprintf(w, "\n%s; cleaned up %d objects\n", verdict, len(r.CleanedUp))
	return err
}

// WriteJSON prints the report for machines, with "secure" added.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*Report
		Secure bool `json:"secure"`
	}{r, r.Secure()})
}
