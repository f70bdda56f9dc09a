// compose_test.go runs the services of deploy/'s compose files without Docker (there is no
// Docker engine on the machines these tests run on): each service's command line and
// environment are read from the file, the service host names and container ports are mapped
// to loopback ports, and the command runs as a process (switchyard) or in this process (NATS).
// So the cluster tests exercise exactly the flags a user of those files gets.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/mock"
	"go.yaml.in/yaml/v4"
)

// composeService is the part of a compose service the tests run.
type composeService struct {
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
}

// compose is one compose file with its loopback address plan.
type compose struct {
	t        *testing.T
	services map[string]composeService
	vars     map[string]string         // values for ${NAME...} in the file
	ports    map[string]int            // "service:containerPort" -> loopback port
	dirs     map[string]string         // service -> the directory standing for its /data volume
	nats     map[string]*server.Server // running NATS services
}

// loadCompose reads a compose file of deploy/; vars answer its ${NAME} references.
func loadCompose(t *testing.T, file string, vars map[string]string) *compose {
	t.Helper()
	b, err := os.ReadFile("../deploy/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return &compose{t: t, services: f.Services, vars: vars, ports: map[string]int{}, dirs: map[string]string{}, nats: map[string]*server.Server{}}
}

// port is the loopback port standing for svc's containerPort, the same on every call.
func (c *compose) port(svc, containerPort string) int {
	key := svc + ":" + containerPort
	if p, ok := c.ports[key]; ok {
		return p
	}
	p := freePorts(c.t, 1)[0]
	c.ports[key] = p
	return p
}

var hostPort = regexp.MustCompile(`([A-Za-z0-9_.-]+):(\d+)`)

// local rewrites one argument of svc: "0.0.0.0:P" and "svc:P" (any service of the file)
// become 127.0.0.1 and that service's port, and the /data volume its own directory.
func (c *compose) local(svc, arg string) string {
	arg = hostPort.ReplaceAllStringFunc(arg, func(m string) string {
		host, p, _ := strings.Cut(m, ":")
		switch {
		case host == "0.0.0.0":
			return fmt.Sprintf("127.0.0.1:%d", c.port(svc, p))
		case c.services[host].Command != nil || c.services[host].Environment != nil:
			return fmt.Sprintf("127.0.0.1:%d", c.port(host, p))
		}
		return m
	})
	if arg == "/data" || strings.HasSuffix(arg, "=/data") {
		arg = strings.TrimSuffix(arg, "/data") + c.dataDir(svc)
	}
	return arg
}

func (c *compose) dataDir(svc string) string {
	if c.dirs[svc] == "" {
		c.dirs[svc] = c.t.TempDir()
	}
	return c.dirs[svc]
}

var composeVar = regexp.MustCompile(`\$\{(\w+)(?::?[?-][^}]*)?\}`)

// env is svc's environment with the file's ${NAME} references answered.
func (c *compose) env(svc string) []string {
	var env []string
	for k, v := range c.services[svc].Environment {
		v = composeVar.ReplaceAllStringFunc(v, func(m string) string {
			name := composeVar.FindStringSubmatch(m)[1]
			val, ok := c.vars[name]
			if !ok {
				c.t.Fatalf("compose variable %s has no value in the test", name)
			}
			return val
		})
		env = append(env, k+"="+v)
	}
	return env
}

// gateway makes the switchyard service svc a test Gateway (not started): its command
// without the listen address and data directory, which the harness sets.
func (c *compose) gateway(svc string, env ...string) *Gateway {
	var args []string
	for _, a := range c.services[svc].Command {
		if strings.HasPrefix(a, "--listen=") || strings.HasPrefix(a, "--data-dir=") {
			continue
		}
		args = append(args, c.local(svc, a))
	}
	if len(args) == 0 {
		c.t.Fatalf("service %s has no command", svc)
	}
	return &Gateway{t: c.t, DataDir: c.dataDir(svc) + "/gateway", env: append(c.env(svc), env...), args: args}
}

// startNATS runs the NATS service svc in this process with the file's command line
// (parsed by nats-server's own flag parser), listening for clients on its port 4222.
func (c *compose) startNATS(svc string) {
	c.t.Helper()
	cmd := c.services[svc].Command
	var args []string
	for i := 0; i < len(cmd); i++ {
		a := c.local(svc, cmd[i])
		if a == "-m" && i+1 < len(cmd) { // monitoring port
			args = append(args, a, strconv.Itoa(c.port(svc, cmd[i+1])))
			i++
			continue
		}
		args = append(args, a)
	}
	args = append(args, "-a", "127.0.0.1", "-p", strconv.Itoa(c.port(svc, "4222")))
	fs := flag.NewFlagSet(svc, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	opts, err := server.ConfigureOptions(fs, args, func() {}, func() {}, func() {})
	if err != nil {
		c.t.Fatalf("%s's command line: %v (%q)", svc, err, args)
	}
	opts.NoSigs, opts.NoLog = true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		c.t.Fatalf("%s: %v", svc, err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		c.t.Fatalf("%s not ready", svc)
	}
	c.nats[svc] = ns
	c.t.Cleanup(func() { c.stopNATS(svc) })
}

// streamLeader is the NATS service leading stream.
func (c *compose) streamLeader(stream string) string {
	c.t.Helper()
	for svc, ns := range c.nats {
		nc, err := nats.Connect(ns.ClientURL())
		if err != nil {
			c.t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			c.t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			c.t.Fatalf("stream %s through %s: %v", stream, svc, err)
		}
		leader := s.CachedInfo().Cluster.Leader
		if _, ok := c.nats[leader]; !ok {
			c.t.Fatalf("stream %s's leader %q is not a service of the file", stream, leader)
		}
		return leader
	}
	c.t.Fatal("no NATS service running")
	return ""
}

// stopNATS shuts the NATS service svc down (its store stays, for a restart).
func (c *compose) stopNATS(svc string) {
	if ns := c.nats[svc]; ns != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		delete(c.nats, svc)
	}
}

// TestNATSClusterServerLoss runs deploy/compose.nats-cluster.yaml: three NATS servers in a
// JetStream cluster and three gateway nodes using them through --nats-url (with
// --durable-events). Limits hold across the nodes; with one NATS server stopped under load
// requests keep being answered, those that fail fail with an error (never a 200), and every
// request answered 200 is in the log of every node once the server is back.
func TestNATSClusterServerLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("three NATS servers and three gateway processes")
	}
	up := mock.NewOpenAI()
	defer up.Close()
	c := loadCompose(t, "compose.nats-cluster.yaml", map[string]string{"SWITCHYARD_ADMIN_TOKEN": token, "SWITCHYARD_MASTER_KEY": clusterMasterKey})
	for _, svc := range []string{"nats1", "nats2", "nats3"} {
		c.startNATS(svc)
	}
	nodes := startGateways(t, c, []string{"sy1", "sy2", "sy3"}, []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})

	limitedGateway(t, nodes[0], "limited", 15)
	if ok, limited := hammer(t, nodes, "limited", 60); ok != 15 || limited != 45 {
		t.Fatalf("three nodes on a NATS cluster admitted %d and refused %d of 60; want exactly 15 admitted", ok, limited)
	}

	// The server stopped is the leader of the request log's stream: its loss is the one
	// that makes the cluster elect a new leader under load.
	load := startLoad(nodes)
	load.await(t, 30, "answers before the NATS server stops")
	leader := c.streamLeader(events.RequestsStream)
	c.stopNATS(leader)
	load.await(t, 30, "answers with one of the three NATS servers stopped")
	c.startNATS(leader)
	load.await(t, 30, "answers after the NATS server is back")
	answered, failed := load.stop()
	t.Logf("%d requests answered, %d failed while a NATS server was stopped and restarted", len(answered), len(failed))
	for _, f := range failed {
		if f.status == 200 || (f.status != 0 && !strings.Contains(f.body, `"error"`)) {
			t.Errorf("a failed request was answered %d %q: it must fail with a JSON error", f.status, f.body)
		}
	}
	for _, g := range nodes {
		for _, id := range answered {
			g.WaitLog(id)
		}
	}
}

// load sends chats through every node from 12 clients until stopped, keeping the log id of
// each request answered 200 with a whole body and what each failed request got.
type load struct {
	mu       sync.Mutex
	answered []string
	failed   []failure
	done     chan struct{}
	wg       sync.WaitGroup
}

type failure struct {
	status int // 0: no answer (connection refused or cut)
	body   string
}

func startLoad(nodes []*Gateway) *load {
	l := &load{done: make(chan struct{})}
	client := &http.Client{Timeout: 90 * time.Second}
	for w := range 12 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			url := nodes[w%len(nodes)].Base("openai") + "/chat/completions"
			for {
				select {
				case <-l.done:
					return
				default:
				}
				resp, err := client.Post(url, "application/json", strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
				if err != nil {
					l.fail(failure{})
					time.Sleep(100 * time.Millisecond)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err == nil && resp.StatusCode == 200 && strings.Contains(string(body), `"usage"`):
					l.mu.Lock()
					l.answered = append(l.answered, resp.Header.Get("cf-aig-log-id"))
					l.mu.Unlock()
				default:
					l.fail(failure{resp.StatusCode, string(body)})
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	return l
}

func (l *load) fail(f failure) {
	l.mu.Lock()
	l.failed = append(l.failed, f)
	l.mu.Unlock()
}

// await waits until n more requests have been answered.
func (l *load) await(t *testing.T, n int, what string) {
	t.Helper()
	l.mu.Lock()
	want := len(l.answered) + n
	l.mu.Unlock()
	eventually(t, what, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.answered) >= want
	})
}

func (l *load) stop() (answered []string, failed []failure) {
	close(l.done)
	l.wg.Wait()
	return l.answered, l.failed
}
