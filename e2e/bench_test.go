// bench_test.go runs the load harness of package bench (docs/performance.md) the way its
// documentation does, with cells short enough for CI: every target answers, the report has
// its tables, and nothing is lost. It asserts no figure: figures come from `go run ./bench`
// on a quiet machine.
package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBenchRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the load harness (about 45 s)")
	}
	kept := filepath.Join(t.TempDir(), "kept")
	for _, c := range []struct {
		name string
		args []string
		want []string
		not  []string // what the report must not have
	}{
		{"cells", []string{"-duration", "200ms", "-conc", "1"},
			[]string{"| switchyard | json | 1 |", "| switchyard | stream | 1 |", "| sy-route | json |", "| sy-socket | ws |", "(lost: 0)", "replay:",
				"| CPU µs/req | CPU vs bare |", " 1.00× |"}, nil},
		{"latency cells only", []string{"-duration", "200ms", "-latency"},
			[]string{"| switchyard | json | 1 |", "| switchyard | stream | 1 |", "| switchyard | json-20ms | 64 |", "switchyard adds", "(lost: 0)"},
			[]string{"| sy-route |", "| switchyard | json | 16 |", "| switchyard | stream | 16 |", "replay:"}},
		{"soak", []string{"-soak", "5s", "-soak-conc", "4", "-keep-data", kept},
			[]string{"Soak, bare-proxy", "Soak, switchyard", "(lost: 0)", "data directory kept in " + kept,
				"| CPU µs/req | CPU vs bare |", " 1.00× |"}, nil},
		{"soak of streams", []string{"-soak", "3s", "-soak-conc", "2", "-soak-stream"},
			[]string{"| switchyard | stream | 2 |", "Soak, switchyard", "(lost: 0)"}, nil},
		{"soak of unified API streams", []string{"-soak", "2s", "-soak-conc", "2", "-soak-stream", "-soak-entry", "compat"},
			[]string{"(compat entry)", "| switchyard | stream | 2 |", "(lost: 0)"}, nil},
		{"soak of the universal endpoint", []string{"-soak", "2s", "-soak-conc", "2", "-soak-entry", "universal"},
			[]string{"(universal entry)", "| switchyard | json | 2 |", "(lost: 0)"}, nil},
		{"soak of a dynamic route", []string{"-soak", "2s", "-soak-conc", "2", "-soak-entry", "route"},
			[]string{"(route entry)", "| switchyard | json | 2 |", "(lost: 0)"}, nil},
		// The settings and the header reach the gateway: logs off by either, none kept.
		{"soak with logs off", []string{"-soak", "2s", "-soak-conc", "2", "-gateway-settings", `{"collect_logs":false}`},
			[]string{"Soak, switchyard", " 0 records for ", "0 expected"}, []string{"(lost:"}},
		{"soak with a header", []string{"-soak", "2s", "-soak-conc", "2", "-header", "cf-aig-collect-log: false"},
			[]string{"Soak, switchyard", " 0 records for ", "0 expected"}, []string{"(lost:"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "go", append([]string{"run", "../bench", "-gateway-bin", binary}, c.args...)...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go run ./bench %s: %v\n%s", strings.Join(c.args, " "), err, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("the report has no %q:\n%s", w, out)
				}
			}
			if c.name == "soak" { // -keep-data: the event log and the store, to replay again
				for _, sub := range []string{"nats", "badger"} {
					if _, err := os.Stat(filepath.Join(kept, sub)); err != nil {
						t.Errorf("-keep-data: %v", err)
					}
				}
			}
			for _, w := range c.not {
				if strings.Contains(string(out), w) {
					t.Errorf("the report has %q:\n%s", w, out)
				}
			}
		})
	}
}
