// SPDX-License-Identifier: Apache-2.0

package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText writes one block per finding, `file:line: [id] message` then `  fix: …`, separated by blank
// lines, and the Summary line.
func WriteText(w io.Writer, findings []Finding) error {
	var b strings.Builder
	for _, f := range findings {
		fmt.Fprintf(&b, "%s:%d: [%s] %s\n  fix: %s\n\n", f.File, f.Line, f.ID, f.Message, f.Fix)
	}
	b.WriteString(Summary(findings) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Summary counts the findings by ID: "3 finding(s): 1 markers-in-godoc, 2 role-stale", or "no findings".
func Summary(findings []Finding) string {
	if len(findings) == 0 {
		return "no findings"
	}
	counts := map[ID]int{}
	for _, f := range findings {
		counts[f.ID]++
	}
	var parts []string
	for _, id := range IDs {
		if n := counts[id]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, id))
		}
	}
	return fmt.Sprintf("%d finding(s): %s", len(findings), strings.Join(parts, ", "))
}

// Report is the JSON document diagkit check -o json prints.
type Report struct {
	Findings []Finding `json:"findings"`
}

// WriteJSON writes {"findings":[…]}, indented; an empty list when there are none.
func WriteJSON(w io.Writer, findings []Finding) error {
	if findings == nil {
		findings = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // fixes quote shell commands such as `kustomize build … > file`
	return enc.Encode(Report{Findings: findings})
}
