// Command bench measures Switchyard's per-request overhead against a bare fasthttp
// reverse proxy, both in front of the same mock OpenAI upstream (see README.md and the
// "Performance budget" section of DESIGN.md). It runs each server as a child process
// (re-executing itself as `bench mock` and `bench bareproxy`) and drives the load itself.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

type options struct {
	duration   time.Duration
	concs      []int
	bodyBytes  int
	chunks     int
	gatewayBin string
}

// streamConc is the concurrency of the streaming cells.
const streamConc = 16

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
	var concs string
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per cell (after a 0.5s warm-up)")
	flag.StringVar(&concs, "conc", "1,16,64", "comma-separated concurrencies of the json cells")
	flag.IntVar(&o.bodyBytes, "body-bytes", 600, "size of the chat request body")
	flag.IntVar(&o.chunks, "stream-chunks", 20, "chat.completion.chunk events per streamed answer")
	flag.StringVar(&o.gatewayBin, "gateway-bin", "", "switchyard binary to test (default: go build ./cmd/switchyard)")
	flag.Parse()
	if o.duration <= 0 || o.duration > time.Hour {
		return o, fmt.Errorf("-duration must be in (0, 1h]")
	}
	for _, s := range strings.Split(concs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 4096 {
			return o, fmt.Errorf("-conc: bad concurrency %q (want 1..4096)", s)
		}
		o.concs = append(o.concs, n)
	}
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

	gw := o.gatewayBin
	if gw != "" {
		if _, err := os.Stat(gw); err != nil {
			return fmt.Errorf("-gateway-bin: %w", err)
		}
	} else {
		if gw, err = buildGateway(tmp); err != nil {
			return err
		}
	}
	jsonBody, streamBody := chatRequest(o.bodyBytes, false), chatRequest(o.bodyBytes, true)
	logf("request %d B (stream %d B), completion %d B, %d stream chunks; %s per cell after %s warm-up",
		len(jsonBody), len(streamBody), len(chatCompletion), o.chunks, o.duration, warmup)

	mock, err := startChild("mock", tmp, nil, self, "mock", "-listen", "127.0.0.1:0", "-chunks", strconv.Itoa(o.chunks))
	if err != nil {
		return err
	}
	var results []result
	for _, c := range o.concs {
		results = append(results, measure(cell{target: "direct", mode: "json", conc: c, url: mock.url + "/chat/completions", body: jsonBody}, o.duration))
	}

	var peaks []peak
	proxies := []struct {
		name  string
		start func() (*child, error)
	}{
		{"bare-proxy", func() (*child, error) {
			return startChild("bareproxy", tmp, nil, self, "bareproxy", "-listen", "127.0.0.1:0", "-upstream", mock.url)
		}},
		{"switchyard", func() (*child, error) {
			env := []string{"SWITCHYARD_UPSTREAM_OPENAI=" + mock.url, "SWITCHYARD_ADMIN_TOKEN=bench"}
			c, err := startChild("switchyard", tmp, env, gw, "serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(tmp, "data"))
			if err == nil {
				err = c.waitReady(c.url+"/readyz", time.Minute)
			}
			if err == nil { // data-plane gateways must exist: create the one the load uses
				err = createGateway(c.url, "bench", "acct", "gw")
			}
			return c, err
		}},
	}
	for _, p := range proxies {
		proc, err := p.start()
		if err != nil {
			return err
		}
		pid := proc.cmd.Process.Pid
		url := proc.url + proxyPrefix + "/chat/completions"
		for _, c := range o.concs {
			results = append(results, measure(cell{target: p.name, mode: "json", conc: c, url: url, body: jsonBody, pid: pid}, o.duration))
		}
		results = append(results, measure(cell{target: p.name, mode: "stream", conc: streamConc, url: url, body: streamBody, pid: pid}, o.duration))
		if p.name == "switchyard" { // the same load through the unified API (openai/... passes through)
			curl := proc.url + compatPrefix + "/chat/completions"
			results = append(results, measure(cell{target: "sy-compat", mode: "json", conc: streamConc, url: curl, body: compatBody(jsonBody), pid: pid}, o.duration))
			results = append(results, measure(cell{target: "sy-compat", mode: "stream", conc: streamConc, url: curl, body: compatBody(streamBody), pid: pid}, o.duration))
			// the universal endpoint (one step), and the WebSocket API on one connection
			root := proc.url + strings.TrimSuffix(proxyPrefix, "/openai")
			results = append(results, measure(cell{target: "sy-universal", mode: "json", conc: streamConc, url: root, body: universalBody(jsonBody), pid: pid}, o.duration))
			for _, c := range []int{16, 64} {
				results = append(results, measure(cell{target: "sy-socket", mode: "ws", conc: c, url: "ws" + strings.TrimPrefix(root, "http"), body: jsonBody, pid: pid}, o.duration))
			}
		}
		mb, err := peakRSS(pid)
		peaks = append(peaks, peak{name: p.name, mb: mb, err: err})
		proc.stop()
	}
	mock.stop()

	fmt.Println()
	printReport(os.Stdout, results, peaks)
	return nil
}

// createGateway creates a gateway (authentication off) through the control API.
func createGateway(base, adminToken, acct, id string) error {
	req, err := http.NewRequest("POST", base+"/client/v4/accounts/"+acct+"/ai-gateway/gateways", strings.NewReader(`{"id":"`+id+`"}`))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 && resp.StatusCode != 409 {
		return fmt.Errorf("create gateway %s: HTTP %d", id, resp.StatusCode)
	}
	return nil
}

// measure runs one cell and logs a one-line summary to stderr.
func measure(c cell, d time.Duration) result {
	r := runCell(c, d)
	line := fmt.Sprintf("%-10s %-6s c=%-3d %8.0f rps", c.target, c.mode, c.conc, r.rps())
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

// buildGateway builds ./cmd/switchyard of the enclosing module into dir.
func buildGateway(dir string) (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	bin := filepath.Join(dir, "switchyard")
	logf("building %s/cmd/switchyard", root)
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/switchyard")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the gateway: %w\n%s", err, out)
	}
	return bin, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
