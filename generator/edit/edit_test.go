// SPDX-License-Identifier: Apache-2.0

package edit

import "testing"

// TestCheckLines: a file is refused, at the line where it happens, when a YAML parser would count its
// lines otherwise than LineOffsets (found by FuzzPatch: a lone \r made Find index past the last line).
func TestCheckLines(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"\\n line breaks", "a: 1\nb: 2\n", ""},
		{"\\r\\n line breaks", "a: 1\r\nb: 2\r\n", ""},
		{"a lone \\r", "a: 1\nb: 2\rc: 3\n", `f.yaml:2: expected lines ending in \n or \r\n, found a \r line break`},
		{"a \\r ending the file", "a: 1\r", `f.yaml:1: expected lines ending in \n or \r\n, found a \r line break`},
		{"U+2028 in a comment", "a: 1\n# x\u2028y\n", `f.yaml:2: expected lines ending in \n or \r\n, found a U+2028 line break`},
		{"U+0085", "a: \u0085\n", `f.yaml:1: expected lines ending in \n or \r\n, found a U+0085 line break`},
		{"U+2029", "\n\na: \u2029", `f.yaml:3: expected lines ending in \n or \r\n, found a U+2029 line break`},
		{"UTF-16", "\xff\xfea\x00", "f.yaml:1: expected UTF-8, found a UTF-16 byte order mark"},
		{"other characters", "a: é ✓\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if err := CheckLines("f.yaml", []byte(tt.src)); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
