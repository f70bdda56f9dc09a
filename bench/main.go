// Command bench measures Switchyard's per-request overhead against a bare fasthttp
// reverse proxy, both in front of the same mock OpenAI upstream (see README.md and the
// "Performance budget" section of DESIGN.md). It runs each server as a child process
// (re-executing itself as `bench mock` and `bench bareproxy`) and drives the load itself.
// This file reads the flags and runs the cells in order; soak.go is the -soak mode.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

type options struct {
	duration      time.Duration
	concs         []int
	bodyBytes     int
	chunks        int
	gatewayBin    string
	gatewayArgs   []string      // extra `switchyard serve` arguments
	memoryLimitMB int           // passed as --memory-limit-mb when >= 0
	soak          time.Duration // soak mode when > 0
	soakConc      int
	soakStream    bool           // the soak's requests are 20-chunk streams instead of json
	soakEntry     string         // switchyard's entry point in the soak: provider, compat, universal or route
	observe       bool           // every observability export on (observe.go)
	latency       bool           // only the added-latency cells (json and first chunk at c=1, json-20ms)
	keepData      string         // where switchyard's data directory is moved after the run (to profile a replay)
	headers       [][2]string    // -header: sent with every request of every cell
	settings      map[string]any // -gateway-settings: merged into the bench gateway's settings
}

const (
	// streamConc is the concurrency of the streaming cells and of the sy-* json cells.
	streamConc = 16
	// upstreamDelay is the mock's answer time in the json-20ms cells, run at delayConc.
	upstreamDelay = 20 * time.Millisecond
	delayConc     = 64
	delayMode     = "json-20ms"
)

// bench is one run: its settings, the mock, and what has been measured so far.
type bench struct {
	options
	self, tmp            string // this executable; the temporary directory
	mock                 *child
	jsonBody, streamBody []byte
	results              []result
	peaks                []peak
	notes                []string // lines printed under the tables: logs, disk, replay
	soaks                []soakRun
	obs                  *observer // -observe: the collector, Logpush directory and scraper
}

func main() {
	sub := ""
	if len(os.Args) > 1 {
		sub = os.Args[1]
	}
	var err error
	switch sub {
	case "mock":
		err = runMock(os.Args[2:])
	case "bareproxy":
		err = runBareProxy(os.Args[2:])
	default:
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseOptions() (options, error) {
	var o options
	var concs, gwArgs, settings string
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per cell (after a 0.5s warm-up)")
	flag.StringVar(&concs, "conc", "1,16,64", "comma-separated concurrencies of the json cells")
	flag.IntVar(&o.bodyBytes, "body-bytes", 600, "size of the chat request body")
	flag.IntVar(&o.chunks, "stream-chunks", 20, "chat.completion.chunk events per streamed answer")
	flag.StringVar(&o.gatewayBin, "gateway-bin", "", "switchyard binary to test (default: go build ./cmd/switchyard)")
	flag.StringVar(&gwArgs, "gateway-args", "", "extra space-separated arguments of `switchyard serve`, e.g. --durable-events")
	flag.IntVar(&o.memoryLimitMB, "memory-limit-mb", -1, "pass --memory-limit-mb to switchyard (0 turns its limit off; default: not passed)")
	flag.DurationVar(&o.soak, "soak", 0, "soak mode: only bare-proxy and switchyard, json (streams with -soak-stream), for this long each, sampling RSS")
	flag.IntVar(&o.soakConc, "soak-conc", 64, "concurrency of the soak")
	flag.BoolVar(&o.soakStream, "soak-stream", false, "soak with streamed answers (-stream-chunks chunks each) instead of json")
	flag.StringVar(&o.soakEntry, "soak-entry", "provider", "switchyard's entry point in the soak: provider (/openai/...), compat (the unified API), universal (one step, json only) or route (the sy-route cell's dynamic route on the unified API); the bare proxy always gets the provider path")
	flag.BoolVar(&o.observe, "observe", false, "turn every export on: OpenTelemetry to a collector in the bench, Logpush to a directory, /metrics scraped every 5 s")
	flag.BoolVar(&o.latency, "latency", false, "only the added-latency cells: json and streams at c=1 and json-20ms at c=64 (no other cells, disk or replay)")
	flag.StringVar(&o.keepData, "keep-data", "", "move switchyard's data directory (event log and store) here after the run, e.g. to profile `switchyard replay` on it; must not exist")
	flag.Func("header", "`Name: value` sent with every request, e.g. \"cf-aig-collect-log-payload: false\" (repeatable)", func(v string) error {
		name, value, ok := strings.Cut(v, ":")
		if name = strings.TrimSpace(name); !ok || name == "" || strings.ContainsAny(name, " \t") {
			return fmt.Errorf("want Name: value, got %q", v)
		}
		o.headers = append(o.headers, [2]string{name, strings.TrimSpace(value)})
		return nil
	})
	flag.StringVar(&settings, "gateway-settings", "", "JSON object of settings the bench gateway is created with, e.g. '{\"collect_logs\":false}'")
	flag.Parse()
	if settings != "" {
		if err := json.Unmarshal([]byte(settings), &o.settings); err != nil || o.settings == nil {
			return o, fmt.Errorf("-gateway-settings: want a JSON object: %q", settings)
		}
	}
	if o.keepData != "" {
		if _, err := os.Stat(o.keepData); err == nil {
			return o, fmt.Errorf("-keep-data: %s already exists", o.keepData)
		}
	}
	if o.latency {
		concs = "1"
	}
	if o.duration <= 0 || o.duration > time.Hour {
		return o, fmt.Errorf("-duration must be in (0, 1h]")
	}
	if o.soak < 0 || o.soak > 24*time.Hour {
		return o, fmt.Errorf("-soak must be in [0, 24h]")
	}
	if o.soakConc < 1 || o.soakConc > 4096 {
		return o, fmt.Errorf("-soak-conc must be in 1..4096")
	}
	switch {
	case o.soakEntry != "provider" && o.soakEntry != "compat" && o.soakEntry != "universal" && o.soakEntry != "route":
		return o, fmt.Errorf("-soak-entry must be provider, compat, universal or route")
	case o.soakEntry == "universal" && o.soakStream:
		return o, fmt.Errorf("-soak-entry universal soaks json only")
	}
	for _, s := range strings.Split(concs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 4096 {
			return o, fmt.Errorf("-conc: bad concurrency %q (want 1..4096)", s)
		}
		o.concs = append(o.concs, n)
	}
	o.gatewayArgs = strings.Fields(gwArgs)
	return o, nil
}

func run() error {
	o, err := parseOptions()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		self = os.Args[0]
	}
	tmp, err := os.MkdirTemp("", "switchyard-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	defer stopAll()
	stopOnSignal(tmp)

	if o.gatewayBin != "" {
		if _, err := os.Stat(o.gatewayBin); err != nil {
			return fmt.Errorf("-gateway-bin: %w", err)
		}
	} else if o.gatewayBin, err = buildGateway(tmp); err != nil {
		return err
	}
	b := &bench{options: o, self: self, tmp: tmp,
		jsonBody: chatRequest(o.bodyBytes, false), streamBody: chatRequest(o.bodyBytes, true)}
	per := o.duration
	if o.soak > 0 {
		per = o.soak
	}
	logf("request %d B (stream %d B), completion %d B, %d stream chunks; %s per cell after %s warm-up",
		len(b.jsonBody), len(b.streamBody), len(chatCompletion), o.chunks, per, warmup)
	if len(o.gatewayArgs) > 0 || o.memoryLimitMB >= 0 {
		logf("switchyard serve %s", strings.Join(b.serveArgs(), " "))
	}
	if o.settings != nil || len(o.headers) > 0 {
		logf("gateway settings %v, request headers %v", o.settings, o.headers)
	}

	if b.mock, err = b.startMock("mock", 0); err != nil {
		return err
	}
	if o.observe {
		if b.obs, err = startObserver(tmp); err != nil {
			return err
		}
		defer b.obs.close()
		b.gatewayArgs = append(b.gatewayArgs, "--logpush-dir", b.obs.dir)
		logf("observe: spans to %s, Logpush files in %s, /metrics scraped every 5 s", b.obs.url, b.obs.dir)
	}
	if o.soak > 0 {
		err = b.runSoak()
	} else {
		err = b.runCells()
	}
	if err != nil {
		return err
	}
	b.mock.stop()
	if b.obs != nil {
		b.notes = append(b.notes, b.obs.summary())
	}

	fmt.Println()
	printReport(os.Stdout, b.results, b.peaks, b.notes)
	printSoak(os.Stdout, b.soaks)
	return nil
}

// runCells measures every target: direct, the two proxies and the switchyard-only
// targets against the plain mock, then the json-20ms cells against a slow one.
func (b *bench) runCells() error {
	for _, c := range b.concs {
		b.measure(cell{target: "direct", mode: "json", conc: c, url: b.mock.url + "/chat/completions", body: b.jsonBody})
	}
	// The mock's own first chunk at c=1: what a proxy adds to it is the added first-chunk latency.
	b.measure(cell{target: "direct", mode: "stream", conc: 1, url: b.mock.url + "/chat/completions", body: b.streamBody})

	bare, err := b.startBareProxy("bare-proxy", b.mock.url)
	if err != nil {
		return err
	}
	b.proxyCells("bare-proxy", bare.url, bare.cmd.Process.Pid)
	b.peakOf("bare-proxy", bare.cmd.Process.Pid)
	bare.stop()

	sy, err := b.startGateway("switchyard", b.mock.url)
	if err != nil {
		return err
	}
	b.proxyCells("switchyard", sy.url, sy.pid)
	if !b.latency {
		if err := b.switchyardCells(sy); err != nil {
			return err
		}
	}
	b.peakOf("switchyard", sy.pid)
	b.checkLogs(sy, "logs")
	if b.latency {
		if err := sy.stopGracefully(); err != nil {
			b.note("stop: %v", err)
		}
	} else {
		b.afterStop(sy)
	}

	return b.delayCells()
}

// proxyCells measures what both proxies serve: json at each -conc, and streams at c=1
// (the first chunk's added latency) and at streamConc (the CPU per stream; not with -latency).
func (b *bench) proxyCells(target, base string, pid int) {
	url := base + proxyPrefix + "/chat/completions"
	for _, c := range b.concs {
		b.measure(cell{target: target, mode: "json", conc: c, url: url, body: b.jsonBody, pid: pid})
	}
	streams := []int{1, streamConc}
	if b.latency {
		streams = streams[:1]
	}
	for _, c := range streams {
		b.measure(cell{target: target, mode: "stream", conc: c, url: url, body: b.streamBody, pid: pid})
	}
}

// switchyardCells measures the same load through switchyard's other entry points: the
// unified API, the universal endpoint, the WebSocket API, a dynamic route and the cache.
func (b *bench) switchyardCells(sy *gateway) error {
	curl := sy.url + compatPrefix + "/chat/completions" // openai/... passes through
	b.measure(cell{target: "sy-compat", mode: "json", conc: streamConc, url: curl, body: compatBody(b.jsonBody), pid: sy.pid})
	b.measure(cell{target: "sy-compat", mode: "stream", conc: streamConc, url: curl, body: compatBody(b.streamBody), pid: sy.pid})
	// the universal endpoint (one step), and the WebSocket API on one connection
	root := sy.url + strings.TrimSuffix(proxyPrefix, "/openai")
	b.measure(cell{target: "sy-universal", mode: "json", conc: streamConc, url: root, body: universalBody(b.jsonBody), pid: sy.pid})
	for _, c := range []int{16, 64} {
		b.measure(cell{target: "sy-socket", mode: "ws", conc: c, url: "ws" + strings.TrimPrefix(root, "http"), body: b.jsonBody, pid: sy.pid})
	}
	route, err := routeCell(sy, b.jsonBody)
	if err != nil {
		return err
	}
	b.measure(route)
	cached, err := cacheCell(sy, b.jsonBody)
	if err != nil {
		return err
	}
	b.measure(cached)
	return nil
}

// delayCells measures direct, bare-proxy and switchyard at delayConc against a second
// mock that takes upstreamDelay to answer, each proxy a fresh process pointed at it.
func (b *bench) delayCells() error {
	slow, err := b.startMock("mock-20ms", upstreamDelay)
	if err != nil {
		return err
	}
	defer slow.stop()
	b.measure(cell{target: "direct", mode: delayMode, conc: delayConc, url: slow.url + "/chat/completions", body: b.jsonBody})

	bare, err := b.startBareProxy("bare-proxy-20ms", slow.url)
	if err != nil {
		return err
	}
	b.measure(cell{target: "bare-proxy", mode: delayMode, conc: delayConc, url: bare.url + proxyPrefix + "/chat/completions", body: b.jsonBody, pid: bare.cmd.Process.Pid})
	bare.stop()

	sy, err := b.startGateway("switchyard-20ms", slow.url)
	if err != nil {
		return err
	}
	b.measure(cell{target: "switchyard", mode: delayMode, conc: delayConc, url: sy.url + proxyPrefix + "/chat/completions", body: b.jsonBody, pid: sy.pid})
	b.checkLogs(sy, "logs ("+sy.name+")")
	if err := sy.stopGracefully(); err != nil {
		logf("%v", err)
	}
	return nil
}

func (b *bench) startMock(name string, delay time.Duration) (*child, error) {
	return startChild(name, b.tmp, nil, b.self, "mock", "-listen", "127.0.0.1:0", "-chunks", strconv.Itoa(b.chunks), "-delay", delay.String())
}

func (b *bench) startBareProxy(name, upstream string) (*child, error) {
	return startChild(name, b.tmp, nil, b.self, "bareproxy", "-listen", "127.0.0.1:0", "-upstream", upstream)
}

// peakOf records a proxy's peak RSS for the report.
func (b *bench) peakOf(name string, pid int) {
	mb, err := peakRSS(pid)
	b.peaks = append(b.peaks, peak{name: name, mb: mb, err: err})
}

// measure runs one cell, keeps its result, and logs a one-line summary to stderr.
func (b *bench) measure(c cell) result {
	return b.measureFor(c, b.duration)
}

func (b *bench) measureFor(c cell, d time.Duration) result {
	c.header = append(c.header[:len(c.header):len(c.header)], b.headers...)
	r := runCell(c, d)
	b.results = append(b.results, r)
	line := fmt.Sprintf("%-12s %-9s c=%-3d %8.0f rps", c.target, c.mode, c.conc, r.rps())
	if len(r.lat) > 0 {
		line += fmt.Sprintf("  p50 %s ms  p99 %s ms", fmtMS(r.lat, 0.5), fmtMS(r.lat, 0.99))
	}
	if r.cpuPerReq >= 0 {
		line += "  cpu " + fmtCPU(r) + " µs/req"
	}
	if r.tail > time.Second {
		line += fmt.Sprintf("  (busy %.1fs after the load stopped)", r.tail.Seconds())
	}
	if r.errs+r.non200 > 0 {
		line += fmt.Sprintf("  errors %d+%d", r.errs, r.non200)
	}
	logf("%s", line)
	return r
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
