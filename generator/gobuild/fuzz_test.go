// SPDX-License-Identifier: Apache-2.0

package gobuild

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzFromDockerfile holds the Dockerfile reader to what the generator relies on when it matches a
// Deployment's command to a binary: every build found starts at a RUN instruction's line, names a
// binary without a directory, has no flag among its packages, and reading twice gives the same.
func FuzzFromDockerfile(f *testing.F) {
	for _, seed := range []string{
		"FROM golang:1.24 AS builder\nWORKDIR /workspace\nCOPY . .\nRUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -a -o manager cmd/main.go\n" +
			"FROM gcr.io/distroless/static:nonroot\nCOPY --from=builder /workspace/manager .\nENTRYPOINT [\"/manager\"]\n",
		"RUN --mount=type=cache,target=/root/.cache/go-build \\\n    go build -o /out/webhook ./cmd/webhook && go build -o /out/adapter ./cmd/adapter\n",
		"run go build -ldflags \"-s -w\" -o=bin/keda cmd/operator/main.go; echo done || true\n",
		"RUN go build\nRUN go build -o\nRUN go build -o bin/ ./...\nRUN \\\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		builds := FromDockerfile("Dockerfile", []byte(src))
		if again := FromDockerfile("Dockerfile", []byte(src)); !reflect.DeepEqual(builds, again) {
			t.Fatalf("two reads differ: %+v, %+v", builds, again)
		}
		lines := strings.Split(src, "\n")
		for _, b := range builds {
			if b.File != "Dockerfile" || b.Line < 1 || b.Line > len(lines) {
				t.Fatalf("build at %s:%d, outside the file's %d lines", b.File, b.Line, len(lines))
			}
			if instr, _, _ := strings.Cut(strings.TrimSpace(lines[b.Line-1]), " "); !strings.EqualFold(instr, "RUN") {
				t.Fatalf("build at line %d, which is not a RUN instruction: %q", b.Line, lines[b.Line-1])
			}
			if strings.Contains(b.Binary(), "/") {
				t.Fatalf("binary %q has a directory", b.Binary())
			}
			for _, p := range b.Packages {
				if strings.HasPrefix(p, "-") {
					t.Fatalf("flag %q taken for a package", p)
				}
			}
		}
	})
}
