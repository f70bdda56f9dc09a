// harness_test.go builds the switchyard binary once and starts real gateway processes
// on loopback ports chosen by the OS, each with its own data dir, for the e2e tests.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/ai_gateway"
	"github.com/cloudflare/cloudflare-go/v7/option"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchyard-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "switchyard")
	build := exec.Command("go", "build", "-o", binary, "../cmd/switchyard")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build switchyard:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	account = "acct1"
	gateway = "gw1"
	token   = "test-admin-token"
)

// Gateway is one running switchyard process.
type Gateway struct {
	t       *testing.T
	URL     string
	DataDir string
	cmd     *exec.Cmd
	env     []string
	args    []string
	stderr  *logBuffer
	exited  chan struct{}
	urlCh   chan string
	natsURL string // the embedded NATS server's client URL, when the test opened one
}

var listenLine = regexp.MustCompile(`listening on (http://\S+)`)

// startGateway runs switchyard with env (KEY=VALUE) and extra flags, in dataDir (a new
// temp dir when empty), and waits for /readyz.
func startGateway(t *testing.T, dataDir string, env []string, args ...string) *Gateway {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	g := &Gateway{t: t, DataDir: dataDir, env: env, args: args}
	g.start()
	t.Cleanup(g.Stop)
	g.EnsureGateway(gateway, false)
	return g
}

// EnsureGateway creates gateway id in the test account unless it exists (a restarted
// gateway keeps its configuration).
func (g *Gateway) EnsureGateway(id string, authentication bool) {
	g.t.Helper()
	ctx := context.Background()
	if _, err := g.API().AIGateway.Get(ctx, id, ai_gateway.AIGatewayGetParams{AccountID: cloudflare.F(account)}); err == nil {
		return
	}
	_, err := g.API().AIGateway.New(ctx, ai_gateway.AIGatewayNewParams{
		AccountID: cloudflare.F(account), ID: cloudflare.F(id), CacheInvalidateOnUpdate: cloudflare.F(false),
		CacheTTL: cloudflare.F(int64(0)), CollectLogs: cloudflare.F(true), RateLimitingInterval: cloudflare.F(int64(0)),
		RateLimitingLimit: cloudflare.F(int64(0)), Authentication: cloudflare.F(authentication),
	})
	if err != nil {
		g.t.Fatalf("create gateway %s: %v", id, err)
	}
}

func (g *Gateway) start() {
	g.t.Helper()
	if err := g.launch(); err != nil {
		g.t.Fatal(err)
	}
	if err := g.awaitReady(); err != nil {
		g.t.Fatal(err)
	}
}

// launch starts the process without waiting for it (nodes of a cluster start together).
func (g *Gateway) launch() error {
	all := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", g.DataDir}, g.args...)
	cmd := exec.Command(binary, all...)
	cmd.Env = append(os.Environ(), "SWITCHYARD_ADMIN_TOKEN="+token)
	cmd.Env = append(cmd.Env, g.env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	g.stderr = &logBuffer{}
	cmd.Stderr = g.stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	g.cmd = cmd
	g.exited = make(chan struct{})
	g.urlCh = make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				g.urlCh <- m[1]
			}
		}
		io.Copy(io.Discard, out)
	}()
	go func() { cmd.Wait(); close(g.exited) }()
	return nil
}

// awaitReady waits for the process's address and then for /readyz.
func (g *Gateway) awaitReady() error {
	select {
	case g.URL = <-g.urlCh:
	case <-g.exited:
		return fmt.Errorf("switchyard exited at start: %s", g.stderr.String())
	case <-time.After(90 * time.Second):
		return fmt.Errorf("switchyard did not start: %s", g.stderr.String())
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(g.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("switchyard not ready: %s", g.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits for a clean exit.
func (g *Gateway) Stop() {
	if g.cmd == nil {
		return
	}
	select {
	case <-g.exited:
	default:
		g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.exited:
		case <-time.After(60 * time.Second):
			g.cmd.Process.Kill()
			<-g.exited
			g.t.Errorf("switchyard did not stop on SIGTERM")
		}
	}
	g.cmd = nil
}

// Kill sends SIGKILL.
func (g *Gateway) Kill() {
	g.cmd.Process.Kill()
	<-g.exited
	g.cmd = nil
}

// Restart starts the process again on the same data dir.
func (g *Gateway) Restart() {
	g.start()
}

// Base is the data-plane base URL of a provider.
func (g *Gateway) Base(provider string) string {
	return g.URL + "/v1/" + account + "/" + gateway + "/" + provider
}

// API is the hosted control API's Go client pointed at this gateway.
func (g *Gateway) API() *cloudflare.Client {
	return cloudflare.NewClient(option.WithBaseURL(g.URL+"/client/v4/"), option.WithAPIToken(token), option.WithMaxRetries(0))
}

// WaitLog polls the logs API until the log id is there (the projection is asynchronous).
func (g *Gateway) WaitLog(id string) *ai_gateway.LogGetResponse {
	g.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := g.API().AIGateway.Logs.Get(context.Background(), gateway, id, ai_gateway.LogGetParams{AccountID: cloudflare.F(account)})
		if err == nil {
			return l
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("log %s never appeared: %v", id, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logBuffer collects the process's stderr; safe to read while it is written.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
