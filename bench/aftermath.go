// aftermath.go measures what a switchyard run left behind: whether every answered
// request reached the logs, how much disk the event log (nats) and the store (badger)
// take per logged request once the gateway has stopped, and how fast `switchyard replay`
// rebuilds the store from the event log. Each adds one line under the report's tables.
package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// checkLogs waits for the logs projection to catch up (its total equals what the bench
// was answered, or has not moved for 2 s; at most 2 min) and compares the two. label
// starts the report line.
func (b *bench) checkLogs(g *gateway, label string) {
	want := g.answered(b.results)
	start := time.Now()
	total, err := logsTotal(g.url)
	for still := time.Duration(0); err == nil && total != want && still < 2*time.Second && time.Since(start) < 2*time.Minute; {
		time.Sleep(250 * time.Millisecond)
		prev := total
		if total, err = logsTotal(g.url); total == prev {
			still += 250 * time.Millisecond
		} else {
			still = 0
		}
	}
	if err != nil {
		b.note("%s: unknown: %v", label, err)
		return
	}
	g.logged = total
	if b.logsOff() {
		b.note("%s: %d records for %d answered requests (the gateway was told to collect no logs: 0 expected)", label, total, want)
		return
	}
	b.note("%s: %d records for %d answered requests (lost: %d), counted %.1fs after the last cell", label, total, want, want-total, time.Since(start).Seconds())
}

// logsOff says whether -gateway-settings or -header turned the logs off (collect_logs
// false, cf-aig-collect-log: false).
func (b *bench) logsOff() bool {
	if v, ok := b.settings["collect_logs"].(bool); ok && !v {
		return true
	}
	for _, h := range b.headers {
		if strings.EqualFold(h[0], "cf-aig-collect-log") && strings.EqualFold(h[1], "false") {
			return true
		}
	}
	return false
}

// afterStop stops the gateway gracefully, then reports its data dir's size per logged
// request and replays its event log.
func (b *bench) afterStop(g *gateway) {
	if err := g.stopGracefully(); err != nil {
		b.note("stop: %v", err)
	}
	b.diskUsage(g)
	b.replayRate(g)
	if b.keepData != "" {
		if err := os.Rename(g.dataDir, b.keepData); err != nil {
			b.note("keep data: %v", err)
		} else {
			b.note("data directory kept in %s", b.keepData)
		}
	}
}

// diskUsage reports the sizes of the data dir's nats and badger subdirectories, and per
// logged request (the logs total read by checkLogs).
func (b *bench) diskUsage(g *gateway) {
	var parts []string
	var sum int64
	for _, sub := range []string{"nats", "badger"} {
		n, err := dirBytes(filepath.Join(g.dataDir, sub))
		if err != nil {
			b.note("disk: unknown: %v", err)
			return
		}
		sum += n
		parts = append(parts, fmt.Sprintf("%s %.1f MB (%s)", sub, float64(n)/1e6, perRequest(n, g.logged)))
	}
	parts = append(parts, fmt.Sprintf("total %.1f MB (%s)", float64(sum)/1e6, perRequest(sum, g.logged)))
	b.note("disk after stopping, for %d logged requests: %s", g.logged, strings.Join(parts, ", "))
}

func perRequest(bytes int64, n int) string {
	if n <= 0 {
		return "– B/req"
	}
	return fmt.Sprintf("%.0f B/req", float64(bytes)/float64(n))
}

// dirBytes is the apparent size of every file under dir.
func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	return n, err
}

// replayRate runs `switchyard replay` on the stopped gateway's data dir into a fresh
// directory and reports events per second (the command prints "replayed N events into
// DIR"). It is timed whole: opening the event log and the store included.
func (b *bench) replayRate(g *gateway) {
	out := filepath.Join(b.tmp, g.name+"-replay")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.gatewayBin, "replay", "--data-dir", g.dataDir, "--out", out)
	cmd.Env = append(os.Environ(), "SWITCHYARD_ADMIN_TOKEN="+adminToken)
	setParentDeathSignal(cmd)
	start := time.Now()
	output, err := cmd.CombinedOutput()
	took := time.Since(start)
	defer os.RemoveAll(out)
	var events int
	own := "" // the rate replay reports itself: from its first event to its last, without start-up
	for line := range strings.SplitSeq(string(output), "\n") {
		if _, err := fmt.Sscanf(line, "replayed %d events", &events); err == nil {
			if i := strings.LastIndex(line, "("); i >= 0 && strings.HasSuffix(line, " events/s)") {
				own = "; replay itself reports " + strings.TrimSuffix(line[i+1:], ")")
			}
			break
		}
	}
	if err != nil || events == 0 {
		b.note("replay: failed (%v): %.500s", err, output)
		return
	}
	b.note("replay: %d events in %.2fs: %.0f events/s (wall time, start-up included%s)", events, took.Seconds(), float64(events)/took.Seconds(), own)
}

func (b *bench) note(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	logf("%s", line)
	b.notes = append(b.notes, line)
}
