// report_test.go checks the report's derived columns.
package main

import (
	"testing"
	"time"
)

func TestCPURatio(t *testing.T) {
	for _, c := range []struct {
		name      string
		cpu, bare time.Duration
		want      string
	}{
		{"a multiple of the bare proxy's", 120 * time.Microsecond, 40 * time.Microsecond, "3.00×"},
		{"the bare proxy itself", 41 * time.Microsecond, 41 * time.Microsecond, "1.00×"},
		{"cheaper than the bare proxy", 30 * time.Microsecond, 40 * time.Microsecond, "0.75×"},
		{"not measured", -1, 40 * time.Microsecond, "–"},
		{"the bare proxy not measured", 120 * time.Microsecond, -1, "–"},
		{"the bare proxy measured nothing", 120 * time.Microsecond, 0, "–"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := cpuRatio(result{cpuPerReq: c.cpu}, result{cpuPerReq: c.bare}); got != c.want {
				t.Errorf("cpuRatio(%v, %v) = %q, want %q", c.cpu, c.bare, got, c.want)
			}
		})
	}
}
