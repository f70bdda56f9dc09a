// soak.go is the -soak mode: bare-proxy, then switchyard, json (or streams with
// -soak-stream) at -soak-conc, switchyard through -soak-entry (the provider path, the
// unified API, the universal endpoint or a dynamic route; the bare proxy always proxies), each for
// the whole soak as one cell while its RSS (VmRSS, and its file-backed and anonymous
// parts) is sampled every 5 s. The report shows each curve, the peak (VmHWM), the peaks
// of the second and the last minute (does memory keep growing?), and CPU per request
// over the whole soak. Switchyard's logs, disk and replay are checked afterwards as in a
// normal run.
package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

const soakEvery = 5 * time.Second

// rssSample is one reading of a proxy's memory, in MB.
type rssSample struct {
	at              time.Duration // since sampling started (just before the cell)
	rss, file, anon float64
}

// soakRun is one proxy's soak.
type soakRun struct {
	res       result
	samples   []rssSample
	sampleErr error
	hwm       peak
}

func (b *bench) runSoak() error {
	logf("soak: bare-proxy then switchyard (%s entry), %s at c=%d for %s each, RSS every %s", b.soakEntry, b.soakMode(), b.soakConc, b.soak, soakEvery)
	bare, err := b.startBareProxy("bare-proxy", b.mock.url)
	if err != nil {
		return err
	}
	b.soakProxy("bare-proxy", bare.url, bare.cmd.Process.Pid)
	bare.stop()

	sy, err := b.startGateway("switchyard", b.mock.url)
	if err != nil {
		return err
	}
	if b.soakEntry == "route" { // the route the sy-route cell uses, created and checked first
		if _, err := routeCell(sy, b.jsonBody); err != nil {
			sy.stop()
			return err
		}
	}
	b.soakProxy("switchyard", sy.url, sy.pid)
	b.checkLogs(sy, "logs")
	b.afterStop(sy)
	return nil
}

// soakProxy runs the soak cell against one proxy, sampling its RSS meanwhile.
func (b *bench) soakProxy(name, base string, pid int) {
	stop := make(chan struct{})
	done := make(chan soakRun, 1)
	go func() {
		s, err := sampleRSS(pid, stop)
		done <- soakRun{samples: s, sampleErr: err}
	}()
	body := b.jsonBody
	if b.soakStream {
		body = b.streamBody
	}
	url := base + proxyPrefix + "/chat/completions"
	switch {
	case name == "bare-proxy":
	case b.soakEntry == "compat":
		url, body = base+compatPrefix+"/chat/completions", compatBody(body)
	case b.soakEntry == "universal":
		url, body = base+strings.TrimSuffix(proxyPrefix, "/openai"), universalBody(body)
	case b.soakEntry == "route":
		url, body = base+compatPrefix+"/chat/completions", withModel(body, "dynamic/"+benchRoute)
	}
	r := b.measureFor(cell{target: name, mode: b.soakMode(), conc: b.soakConc, url: url, body: body, pid: pid}, b.soak)
	close(stop)
	run := <-done
	b.peakOf(name, pid)
	run.res, run.hwm = r, b.peaks[len(b.peaks)-1]
	b.soaks = append(b.soaks, run)
}

// soakMode is the cell mode of the soak's requests.
func (b *bench) soakMode() string {
	if b.soakStream {
		return "stream"
	}
	return "json"
}

// sampleRSS reads pid's memory now, every soakEvery, and once more when stop closes.
func sampleRSS(pid int, stop <-chan struct{}) ([]rssSample, error) {
	start := time.Now()
	tick := time.NewTicker(soakEvery)
	defer tick.Stop()
	var out []rssSample
	for {
		mb, err := statusMB(pid, "VmRSS", "RssFile", "RssAnon")
		if err != nil {
			return out, err
		}
		out = append(out, rssSample{at: time.Since(start), rss: mb[0], file: mb[1], anon: mb[2]})
		select {
		case <-stop:
			mb, err := statusMB(pid, "VmRSS", "RssFile", "RssAnon")
			if err == nil {
				out = append(out, rssSample{at: time.Since(start), rss: mb[0], file: mb[1], anon: mb[2]})
			}
			return out, err
		case <-tick.C:
		}
	}
}

// peakBetween is the highest RSS sampled in [from, to), or -1 if none was.
func peakBetween(s []rssSample, from, to time.Duration) float64 {
	p := -1.0
	for _, x := range s {
		if x.at >= from && x.at < to {
			p = max(p, x.rss)
		}
	}
	return p
}

func printSoak(w io.Writer, runs []soakRun) {
	if len(runs) == 0 {
		return
	}
	for _, run := range runs {
		fmt.Fprintf(w, "\nSoak, %s (json, c=%d, %.0fs), RSS every %s:\n\n", run.res.target, run.res.conc, run.res.secs, soakEvery)
		fmt.Fprintln(w, "| time s | RSS MB | file MB | anon MB |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|")
		for _, x := range run.samples {
			fmt.Fprintf(w, "| %.0f | %.1f | %.1f | %.1f |\n", x.at.Seconds(), x.rss, x.file, x.anon)
		}
		if run.sampleErr != nil {
			fmt.Fprintf(w, "\nsampling stopped: %v\n", run.sampleErr)
		}
	}

	fmt.Fprint(w, "\nSoak summary (minute peaks from the samples):\n\n")
	fmt.Fprintln(w, "| target | peak MB (VmHWM) | 2nd-minute peak MB | last-minute peak MB | last / 2nd | CPU µs/req | CPU vs bare |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	short := false
	for _, run := range runs {
		hwm := "–"
		if run.hwm.err == nil {
			hwm = fmt.Sprintf("%.1f", run.hwm.mb)
		}
		second, last, ratio := "–", "–", "–"
		if n := len(run.samples); n > 0 {
			end := run.samples[n-1].at
			l := peakBetween(run.samples, end-time.Minute, end+1)
			last = fmt.Sprintf("%.1f", l)
			if s := peakBetween(run.samples, time.Minute, 2*time.Minute); s > 0 && end >= 2*time.Minute {
				second, ratio = fmt.Sprintf("%.1f", s), fmt.Sprintf("%.2f", l/s)
			} else {
				short = true
			}
		}
		cpu := "–"
		for _, b := range runs {
			if b.res.target == "bare-proxy" {
				cpu = cpuRatio(run.res, b.res)
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", run.res.target, hwm, second, last, ratio, fmtCPU(run.res), cpu)
	}
	if short {
		fmt.Fprintln(w, "\n(A second-minute peak needs a soak of at least 2 minutes.)")
	}
}
