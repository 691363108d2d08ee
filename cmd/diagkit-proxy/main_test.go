// SPDX-License-Identifier: Apache-2.0

package main

import (
	"strings"
	"testing"
)

func TestRunRefusesBadFlagsBeforeLoadingAConfig(t *testing.T) {
	// No kubeconfig anywhere: the flag errors must come first, and all of them.
	t.Setenv("KUBECONFIG", "/nonexistent")
	tests := []struct {
		args    []string
		wantErr []string
	}{
		{nil, []string{"--upstream: expected at least one upstream"}},
		{[]string{"--upstream=etcd"}, []string{"upstream etcd has no listen= and --bind-address is empty"}},
		{[]string{"--bind-address=10.0.0.1", "--upstream=etcd,colour=blue", "--upstream=kube-proxy", "--insecure-diagnostics"},
			[]string{`unknown key "colour"`, "--insecure-diagnostics: the metrics proxy always authenticates"}},
		{[]string{"--bind-address=10.0.0.1", "--upstream=etcd,authz-prefix=/metrics", "--upstream=my_app,url=http://127.0.0.1:1,path=/metrics"},
			[]string{"authz-prefix=/metrics: /metrics/ is kube-apiserver's", "upstream my_app: authz-prefix=/my_app: expected empty or /NAME"}},
		{[]string{"--no-such-flag"}, []string{"unknown flag: --no-such-flag"}},
	}
	for _, tt := range tests {
		err := run(tt.args)
		for _, want := range tt.wantErr {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, want)
			}
		}
	}
	if err := run([]string{"--help"}); err != nil {
		t.Errorf("--help: %v", err)
	}
}
