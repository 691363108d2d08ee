// SPDX-License-Identifier: Apache-2.0

package gobuild

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestFromArgs(t *testing.T) {
	tests := []struct {
		command  string
		binary   string
		packages []string
		builds   string // a package directory it builds ("" when none is checked)
		notBuild string
	}{
		{command: "go build -o bin/manager cmd/main.go", binary: "manager", packages: []string{"cmd/main.go"}, builds: "cmd", notBuild: "."},
		{command: "go build -o bin/manager main.go", binary: "manager", packages: []string{"main.go"}, builds: ".", notBuild: "cmd"},
		{command: "CGO_ENABLED=0 GOOS=linux go build -a -trimpath -ldflags -s -o bin/keda cmd/operator/main.go", binary: "keda",
			packages: []string{"cmd/operator/main.go"}, builds: "cmd/operator", notBuild: "cmd/webhooks"},
		{command: "go build -ldflags=-X=main.v=1 -o=out/webhook ./cmd/webhook/...", binary: "webhook", packages: []string{"./cmd/webhook/..."}, builds: "cmd/webhook"},
		{command: "go build -tags e2e ./cmd/adapter", binary: "adapter", packages: []string{"./cmd/adapter"}, builds: "cmd/adapter"},
		{command: "go build example.com/proj/cmd/server", binary: "server", packages: []string{"example.com/proj/cmd/server"}, builds: "cmd/server"},
		{command: "go build -o bin/ ./cmd/a ./cmd/b", binary: "", packages: []string{"./cmd/a", "./cmd/b"}, builds: "cmd/b"},
		{command: "/usr/local/go/bin/go build -o manager .", binary: "manager", packages: []string{"."}, builds: "."},
		{command: "$(GO_BUILD_ENV) go build -o bin/manager main.go", binary: "manager", packages: []string{"main.go"}, builds: "."},
		{command: "xx-go build -trimpath -a -o source-controller main.go", binary: "source-controller", packages: []string{"main.go"}, builds: "."},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			b := FromArgs(strings.Fields(tt.command))
			if b == nil {
				t.Fatal("not read as a go build")
			}
			if b.Binary() != tt.binary || !slices.Equal(b.Packages, tt.packages) {
				t.Errorf("binary %q packages %q, want %q %q", b.Binary(), b.Packages, tt.binary, tt.packages)
			}
			if tt.builds != "" && !b.Builds(tt.builds, "example.com/proj") {
				t.Errorf("does not build %s", tt.builds)
			}
			if tt.notBuild != "" && b.Builds(tt.notBuild, "example.com/proj") {
				t.Errorf("builds %s", tt.notBuild)
			}
		})
	}
	for _, notBuild := range []string{"go test ./...", "go vet ./...", "gofmt -l .", "echo go build", "go"} {
		if b := FromArgs(strings.Fields(notBuild)); b != nil {
			t.Errorf("%q read as a build: %+v", notBuild, b)
		}
	}
}

func TestFromDockerfile(t *testing.T) {
	src := `FROM golang:1.24 AS builder
WORKDIR /workspace
COPY . .
# go build -o not-this ./cmd/commented
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -a -o manager cmd/main.go
RUN go mod download && go build -o "webhook" ./cmd/webhook; echo done
FROM gcr.io/distroless/static:nonroot
COPY --from=builder /workspace/manager .
ENTRYPOINT ["/manager"]
`
	builds := FromDockerfile("Dockerfile", []byte(src))
	var got []string
	for _, b := range builds {
		got = append(got, fmt.Sprintf("%s@%s:%d", b.Binary(), b.File, b.Line))
	}
	want := []string{"manager@Dockerfile:5", "webhook@Dockerfile:7"}
	if !slices.Equal(got, want) {
		t.Errorf("builds %q, want %q", got, want)
	}
}
