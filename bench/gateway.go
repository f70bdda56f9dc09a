// gateway.go builds and starts the switchyard under test: a child with a fresh data dir,
// the bench gateway created, and a count of the answers the bench got outside the
// measured cells (which the gateway logged too); and stops it gracefully.
package main

import (
	"fmt"
	"maps"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// gateway is a running switchyard.
type gateway struct {
	*child
	pid     int
	dataDir string
	probed  int // 200 answers to the bench's own checks (route and cache warm-up)
	logged  int // the logs total once the projection caught up (checkLogs)
}

// serveArgs are the flags every switchyard gets beyond its address and data dir.
func (b *bench) serveArgs() []string {
	var args []string
	if b.memoryLimitMB >= 0 {
		args = append(args, "--memory-limit-mb", strconv.Itoa(b.memoryLimitMB))
	}
	return append(args, b.gatewayArgs...)
}

// startGateway starts switchyard with upstream as its OpenAI base URL, waits until it is
// ready and creates the bench gateway.
func (b *bench) startGateway(name, upstream string) (*gateway, error) {
	dataDir := filepath.Join(b.tmp, name+"-data")
	env := []string{"SWITCHYARD_UPSTREAM_OPENAI=" + upstream, "SWITCHYARD_ADMIN_TOKEN=" + adminToken}
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, b.serveArgs()...)
	c, err := startChild(name, b.tmp, env, b.gatewayBin, args...)
	if err != nil {
		return nil, err
	}
	if err := c.waitReady(c.url+"/readyz", time.Minute); err != nil {
		return nil, err
	}
	extra := map[string]any{}
	if b.obs != nil {
		maps.Copy(extra, b.obs.settings())
		go b.obs.scrape(c.url)
	}
	maps.Copy(extra, b.settings) // -gateway-settings win
	// Data-plane gateways must exist.
	if err := createGateway(c.url, extra); err != nil {
		return nil, err
	}
	return &gateway{child: c, pid: c.cmd.Process.Pid, dataDir: dataDir}, nil
}

// probe sends one request outside any cell, counting a 200 as logged.
func (g *gateway) probe(url string, body []byte, header [][2]string) (int, http.Header, string, error) {
	status, h, snippet, err := probe(url, body, header)
	if status == http.StatusOK {
		g.probed++
	}
	return status, h, snippet, err
}

// answered is every 200 answer the gateway gave the bench: the probes and the cells
// measured against it, warm-ups included.
func (g *gateway) answered(rs []result) int {
	n := g.probed
	for _, r := range rs {
		if r.pid == g.pid {
			n += r.ok200
		}
	}
	return n
}

// stopGracefully stops the gateway with SIGTERM and says whether it exited cleanly.
func (g *gateway) stopGracefully() error {
	g.stop()
	if code := g.cmd.ProcessState.ExitCode(); code != 0 {
		return fmt.Errorf("%s did not stop cleanly (exit code %d):\n%s", g.name, code, tail(g.logPath))
	}
	return nil
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
