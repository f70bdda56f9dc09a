// report.go prints the results as markdown: the main table (each row compared with the
// bare proxy at the same mode and concurrency), time to first byte of the streams, the
// p99 each proxy adds to a 20 ms upstream, any errors, the peak RSS of the two proxies,
// and the notes of the after-run checks (logs, disk, replay).
package main

import (
	"fmt"
	"io"
	"math"
	"time"
)

// peak is a process's peak RSS, or why it could not be read.
type peak struct {
	name string
	mb   float64
	err  error
}

func printReport(w io.Writer, rs []result, peaks []peak, notes []string) {
	fmt.Fprintln(w, "| target | mode | conc | RPS | p50 ms | p90 ms | p99 ms | CPU µs/req | CPU vs bare | ratio RPS vs bare | Δp50 vs bare (ms) |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		cpu, ratio, delta := "–", "–", "–"
		if b, ok := bareFor(rs, r); ok && len(b.lat) > 0 && len(r.lat) > 0 {
			ratio = fmt.Sprintf("%.2f", r.rps()/b.rps())
			delta = fmt.Sprintf("%+.3f", ms(pct(r.lat, 0.5))-ms(pct(b.lat, 0.5)))
			cpu = cpuRatio(r, b)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %.0f | %s | %s | %s | %s | %s | %s | %s |\n",
			r.target, r.mode, r.conc, r.rps(), fmtMS(r.lat, 0.5), fmtMS(r.lat, 0.9), fmtMS(r.lat, 0.99),
			fmtCPU(r), cpu, ratio, delta)
	}

	first := true
	for _, r := range rs {
		if r.mode != "stream" {
			continue
		}
		if first {
			fmt.Fprint(w, "\nStreams, time to first byte:\n\n")
			fmt.Fprintln(w, "| target | conc | TTFB p50 ms | TTFB p90 ms | TTFB p99 ms | Δp50 vs direct (ms) | Δp50 vs bare (ms) |")
			fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
			first = false
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s |\n", r.target, r.conc, fmtMS(r.ttfb, 0.5), fmtMS(r.ttfb, 0.9),
			fmtMS(r.ttfb, 0.99), ttfbDelta(rs, r, "direct"), ttfbDelta(rs, r, "bare-proxy"))
	}

	printDelay(w, rs)

	fmt.Fprintln(w)
	for _, r := range rs {
		if r.errs+r.non200 > 0 {
			fmt.Fprintf(w, "errors: %s %s c=%d: %d failed, %d non-200 (first: %s)\n", r.target, r.mode, r.conc, r.errs, r.non200, r.firstErr)
		}
		if r.cpuMissing != "" {
			fmt.Fprintf(w, "cpu: %s %s c=%d: not measured: %s\n", r.target, r.mode, r.conc, r.cpuMissing)
		}
	}
	fmt.Fprint(w, "peak RSS (VmHWM after all its runs):")
	for i, p := range peaks {
		sep := ","
		if i == 0 {
			sep = ""
		}
		if p.err != nil {
			fmt.Fprintf(w, "%s %s unknown (%v)", sep, p.name, p.err)
		} else {
			fmt.Fprintf(w, "%s %s %.1f MB", sep, p.name, p.mb)
		}
	}
	fmt.Fprintln(w)
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
}

// printDelay prints what each proxy adds to the p99 of the upstream answering in
// upstreamDelay, against the direct p99 at the same delay and concurrency.
func printDelay(w io.Writer, rs []result) {
	for _, r := range rs {
		if r.mode != delayMode || r.target != "direct" || len(r.lat) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nUpstream answering in %s (%s, c=%d): direct p99 %s ms", upstreamDelay, r.mode, r.conc, fmtMS(r.lat, 0.99))
		for _, p := range rs {
			if p.mode == r.mode && p.conc == r.conc && p.target != "direct" && len(p.lat) > 0 {
				fmt.Fprintf(w, "; %s adds %+.3f ms to p99", p.target, ms(pct(p.lat, 0.99))-ms(pct(r.lat, 0.99)))
			}
		}
		fmt.Fprintln(w)
	}
}

// bareFor finds the bare-proxy result r is compared with.
// ttfbDelta is how much later than target's (at the same mode and concurrency) r's median
// first byte came, or "–" when target has no such cell.
func ttfbDelta(rs []result, r result, target string) string {
	for _, o := range rs {
		if o.target == target && o.mode == r.mode && o.conc == r.conc && len(o.ttfb) > 0 && len(r.ttfb) > 0 {
			return fmt.Sprintf("%+.3f", ms(pct(r.ttfb, 0.5))-ms(pct(o.ttfb, 0.5)))
		}
	}
	return "–"
}

func bareFor(rs []result, r result) (result, bool) {
	for _, b := range rs {
		if b.target == "bare-proxy" && b.mode == r.mode && b.conc == r.conc {
			return b, true
		}
	}
	return result{}, false
}

func (r result) rps() float64 { return float64(len(r.lat)) / r.secs }

// pct is the q-quantile (nearest rank) of sorted durations.
func pct(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fmtMS(sorted []time.Duration, q float64) string {
	if len(sorted) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f", ms(pct(sorted, q)))
}

// cpuRatio is r's CPU per request as a multiple of the bare proxy's in the same run and
// cell ("2.85×"): on a shared machine both move with the host.
func cpuRatio(r, bare result) string {
	if r.cpuPerReq < 0 || bare.cpuPerReq <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", float64(r.cpuPerReq)/float64(bare.cpuPerReq))
}

func fmtCPU(r result) string {
	if r.cpuPerReq < 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", float64(r.cpuPerReq)/float64(time.Microsecond))
}
