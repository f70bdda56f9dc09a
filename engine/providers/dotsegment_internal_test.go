// dotsegment_internal_test.go: what hasDotSegment calls a dot segment, and what it does not.
package providers

import "testing"

func TestHasDotSegment(t *testing.T) {
	for p, want := range map[string]bool{
		"/v1/chat/completions": false, "/v1/.well-known/x": false, "/a..b/c": false, "/...": false,
		"": false, "/": false, "//x//": false, "/é/ü": false,
		".": true, "..": true, "/a/./b": true, "/a/..": true, `\..\x`: true, "a\\.": true,
		"/%2e%2E/x": true, "/%252e%252e/x": true, "/..%2fx": true, "/..%5cx": true,
	} {
		if got := hasDotSegment(p); got != want {
			t.Errorf("hasDotSegment(%q) = %v, want %v", p, got, want)
		}
	}
}
