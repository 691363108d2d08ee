// SPDX-License-Identifier: Apache-2.0

package gosource

import (
	"testing"
)

func TestFindDerivationsTellsWhetherTLSOptionsAreUsed(t *testing.T) {
	const imports = "package main\n\nimport (\n\t\"github.com/diagkit/diagkit/diagnostics\"\n\tcapiflags \"sigs.k8s.io/cluster-api/util/flags\"\n\tlogsv1 \"k8s.io/component-base/logs/api/v1\"\n)\n\n"
	tests := []struct {
		name    string
		body    string
		backend Backend
		used    bool
	}{
		{"diagkit, TLS options passed on", "m, tlsOptions, err := o.ServerOptions()\n\tuse(m, tlsOptions, err)", Diagkit, true},
		{"diagkit, TLS options discarded", "m, _, err := o.ServerOptions()\n\tuse(m, err)", Diagkit, false},
		{"Cluster API, TLS options discarded", "_, m, err := capiflags.GetManagerOptions(o)\n\tuse(m, err)", CAPI, false},
		{"Cluster API, TLS options passed on", "tls, m, err := capiflags.GetManagerOptions(o)\n\tuse(tls, m, err)", CAPI, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseSource("main.go", []byte(imports+"func main() {\n\tlogsv1.AddFlags(nil, nil)\n\t"+tt.body+"\n}\n"))
			if err != nil {
				t.Fatal(err)
			}
			pkg := &Package{Dir: ".", Files: []*File{f}}
			ds := FindDerivations(pkg)
			if len(ds) != 1 || ds[0].Backend != tt.backend || ds[0].TLSUsed != tt.used || f.Line(ds[0].Assign.Pos()) != 11 {
				t.Fatalf("got %+v, want one %s derivation at line 11 with TLSUsed %v", ds, tt.backend, tt.used)
			}
			if flags := FindDiagnosticsFlags(pkg); len(flags) != 0 {
				t.Errorf("logsv1.AddFlags taken for a diagnostics registration")
			}
		})
	}
}

func TestFindDiagnosticsFlags(t *testing.T) {
	tests := []struct {
		name, src string
		want      Backend
	}{
		{"diagkit", "package main\n\nimport \"github.com/diagkit/diagkit/diagnostics\"\n\nvar o diagnostics.Options\n\nfunc main() { _ = o.AddGoFlags(nil) }\n", Diagkit},
		{"Cluster API", "package main\n\nimport \"sigs.k8s.io/cluster-api/util/flags\"\n\nfunc main() { flags.AddManagerOptions(nil, nil) }\n", CAPI},
		{"neither", "package main\n\nimport \"flag\"\n\nfunc main() { flag.Parse() }\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseSource("main.go", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			var got Backend
			if calls := FindDiagnosticsFlags(&Package{Dir: ".", Files: []*File{f}}); len(calls) == 1 {
				got = calls[0].Backend
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
