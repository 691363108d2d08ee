// SPDX-License-Identifier: Apache-2.0

package check

import "testing"

func TestAddressesAsTheFlagsReadThem(t *testing.T) {
	tests := []struct {
		value           string
		serves, all, lo bool
	}{
		{":8443", true, true, false},
		{"0.0.0.0:8080", true, true, false},
		{"[::]:8080", true, true, false},
		{"127.0.0.1:8080", true, false, true},
		{"localhost:8080", true, false, true},
		{"[::1]:8443", true, false, true},
		{"10.0.0.1:8443", true, false, false},
		{"${CAPI_DIAGNOSTICS_ADDRESS:=:8443}", true, true, false},
		{"0", false, false, false},
		{":0", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			a, ok := parseAddress(tt.value)
			if ok != tt.serves || (ok && (a.allInterfaces() != tt.all || a.loopback() != tt.lo)) {
				t.Errorf("parseAddress(%q) = %+v, %v: all interfaces %v, loopback %v", tt.value, a, ok, a.allInterfaces(), a.loopback())
			}
		})
	}
}

func TestBooleanFlagValues(t *testing.T) {
	for value, want := range map[string]bool{"": true, "true": true, "false": false, "${CAPI_INSECURE_DIAGNOSTICS:=false}": false, "${X:=true}": true, "nonsense": false} {
		if got := isTrue(value); got != want {
			t.Errorf("isTrue(%q) = %v, want %v", value, got, want)
		}
	}
}
