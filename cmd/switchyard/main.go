// Command switchyard runs the gateway. Subcommands: serve (the default), replay, token,
// audit, route, logpush, version (the command table is in cli.go).
// This file wires the parts: event log, store, projections, actor system, front end.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	_ "net/http/pprof" // profiles on --debug-listen only
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/actors"
	"github.com/switchyard/switchyard/dashboard"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/cache"
	"github.com/switchyard/switchyard/engine/compat"
	"github.com/switchyard/switchyard/engine/controlapi"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/engine/server"
	"github.com/switchyard/switchyard/engine/upstream"
	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/switchyard/switchyard/storage/metrics"
	"github.com/switchyard/switchyard/storage/otel"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// newLogger is the process's logger on stderr, in the --log-format asked for (console.go).
func newLogger(format string) *slog.Logger {
	return slog.New(newHandler(resolveLogFormat(format), os.Stderr))
}

// logNode holds the event log connection and, when embedded, the server under it.
type logNode struct {
	embedded *events.Embedded
	bus      *events.Bus
}

func openLog(ctx context.Context, c *Config, node string, log *slog.Logger) (*logNode, error) {
	n := &logNode{}
	o := events.ConnectOptions{URL: c.NATSURL, Logger: log, Retention: c.EventRetention, Replicas: c.Replicas}
	if c.NATSURL == "" {
		eo := events.EmbeddedOptions{StoreDir: filepath.Join(c.DataDir, "nats"), ListenAddr: c.NATSListen}
		if c.NATSClusterListen != "" {
			eo.ServerName, eo.ClusterListen, eo.ClusterName = node, c.NATSClusterListen, c.NATSClusterName
			eo.Routes = strings.Split(c.NATSRoutes, ",")
		} else if c.NATSRoutes != "" {
			return nil, fmt.Errorf("--nats-routes needs --nats-cluster-listen (the embedded server's cluster address)")
		}
		emb, err := events.StartEmbedded(eo)
		if err != nil {
			return nil, err
		}
		n.embedded, o.Embedded = emb, emb
	}
	bus, err := events.Connect(ctx, o)
	if err != nil {
		if n.embedded != nil {
			n.embedded.Shutdown()
		}
		return nil, err
	}
	n.bus = bus
	return n, nil
}

func (n *logNode) close() {
	n.bus.Close()
	if n.embedded != nil {
		n.embedded.Shutdown()
	}
}

// adminToken returns the bootstrap admin token and where it comes from.
func adminToken(dataDir string) (tok, at string, created bool, err error) {
	if t := os.Getenv("SWITCHYARD_ADMIN_TOKEN"); t != "" {
		return t, "$SWITCHYARD_ADMIN_TOKEN", false, nil
	}
	path := filepath.Join(dataDir, "admin-token")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), path, false, nil
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", "", false, err
	}
	tok = "sy_" + hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", "", false, fmt.Errorf("write admin token: %w", err)
	}
	return tok, path, true, nil
}

// configNode is the running configuration: the projection following the config stream
// and the service writing to it.
type configNode struct {
	service *config.Service
	stopped chan error
	stop    func()
}

// startConfig loads the master key, rebuilds the config projection from the whole config
// stream (the data plane must not answer before it knows its gateways) and keeps it
// following new events.
func startConfig(ctx context.Context, c *Config, bus *events.Bus, log *slog.Logger) (*configNode, error) {
	keyPath := filepath.Join(c.DataDir, "master-key")
	_, statErr := os.Stat(keyPath)
	key, keyAt, err := config.LoadMasterKey(os.Getenv("SWITCHYARD_MASTER_KEY"), keyPath)
	if err != nil {
		return nil, err
	}
	if keyAt == keyPath && errors.Is(statErr, os.ErrNotExist) {
		log.Info("created the master key: it seals stored provider keys, back it up with the data (SWITCHYARD_MASTER_KEY replaces it)", "path", keyAt)
	}
	sealer, err := config.NewSealer(key)
	if err != nil {
		return nil, err
	}
	if err := bus.CheckMasterKey(ctx, config.KeyCheck(key)); err != nil {
		return nil, fmt.Errorf("master key %s: %w; every node of a cluster needs the same SWITCHYARD_MASTER_KEY", keyAt, err)
	}
	proj := config.NewProjection(bus, sealer, log)
	svc := config.NewService(bus, proj, sealer)
	svc.CheckBaseURL = func(u string) error { return upstream.CheckBaseURL(u, c.AllowInsecure) }
	svc.CheckSecret = func(slug, secret string) (string, error) {
		if slug == "google-vertex-ai" {
			return compat.NormalizeVertexKey(secret)
		}
		return secret, nil
	}
	svc.KnownDLPProfile = server.KnownDLPProfile(proj)
	svc.KnownProvider = func(acct, slug string) bool {
		if name, ok := strings.CutPrefix(slug, "custom-"); ok {
			return proj.Current().CustomProviderBySlug(acct, name) != nil
		}
		_, ok := providers.Lookup(slug)
		return ok
	}
	last, err := bus.ConfigLastSeq(ctx)
	if err != nil {
		return nil, err
	}
	fctx, cancel := context.WithCancel(context.Background())
	n := &configNode{service: svc, stopped: make(chan error, 1)}
	go func() { n.stopped <- proj.Follow(fctx, bus) }()
	n.stop = cancel
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Minute)
	defer wcancel()
	if err := proj.WaitFor(wctx, last); err != nil {
		cancel()
		return nil, err
	}
	log.Info("configuration loaded", "config_seq", last, "master_key", keyAt)
	return n, nil
}

// projections are the Badger projections of the requests stream. One durable consumer
// feeds them all: each stored message is delivered and decoded once, whatever number of
// projections read its events.
type projections struct {
	logs      *storage.Logs
	analytics *storage.Analytics
	counters  *storage.Counters
	observers []func([]events.Msg)
}

func openProjections(store *storage.Store) (*projections, error) {
	logs, err := storage.NewLogs(store)
	if err != nil {
		return nil, err
	}
	analytics, err := storage.NewAnalytics(store)
	if err != nil {
		return nil, err
	}
	counters, err := storage.NewCounters(store)
	if err != nil {
		return nil, err
	}
	return &projections{logs: logs, analytics: analytics, counters: counters}, nil
}

// observers read every batch after the projections (metrics, request log lines); they
// keep nothing across restarts and cannot fail.
func (p *projections) observe(batch []events.Msg) {
	for _, o := range p.observers {
		o(batch)
	}
}

// applied is the position every projection has reached (each skips what it has already).
func (p *projections) applied() uint64 {
	return min(p.logs.Applied(), p.analytics.Applied(), p.counters.Applied())
}

// apply hands a batch to every projection, in the same order on every node and in replay.
func (p *projections) apply(batch []events.Msg) error {
	if err := p.logs.Apply(batch); err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	if err := p.analytics.Apply(batch); err != nil {
		return fmt.Errorf("analytics: %w", err)
	}
	if err := p.counters.Apply(batch); err != nil {
		return fmt.Errorf("counters: %w", err)
	}
	p.observe(batch)
	return nil
}

// waitFor blocks until every projection has applied seq.
func (p *projections) waitFor(ctx context.Context, seq uint64) error {
	for _, w := range []func(context.Context, uint64) error{p.logs.WaitFor, p.analytics.WaitFor, p.counters.WaitFor} {
		if err := w(ctx, seq); err != nil {
			return err
		}
	}
	return nil
}

// logLimits reads a gateway's log_management and log_management_strategy from the
// current configuration snapshot.
func logLimits(svc *config.Service) storage.LogLimits {
	return func(acct, gw string) (int64, string) {
		g := svc.Projection().Current().Gateway(acct, gw)
		if g == nil || g.LogManagement == nil {
			return 0, ""
		}
		strategy := ""
		if g.LogManagementStrategy != nil {
			strategy = *g.LogManagementStrategy
		}
		return *g.LogManagement, strategy
	}
}

// nodeID names this node's consumers and, in a cluster, its embedded NATS server; kept in
// the data dir so it survives restarts. A --node-id given replaces the kept one.
func nodeID(dataDir, given string) (string, error) {
	path := filepath.Join(dataDir, "node-id")
	if given != "" {
		if !validNodeID(given) {
			return "", fmt.Errorf("--node-id %q: use letters, digits, '-' and '_' (at most 64)", given)
		}
		b, _ := os.ReadFile(path)
		if strings.TrimSpace(string(b)) == given {
			return given, nil
		}
		return given, os.WriteFile(path, []byte(given+"\n"), 0o644)
	}
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	raw := make([]byte, 6)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	id := hex.EncodeToString(raw)
	return id, os.WriteFile(path, []byte(id+"\n"), 0o644)
}

// configSyncWait bounds how long a configuration write waits for the other nodes to apply
// it; a node that does not answer by then is down or stuck (and leaves the live list within
// 15 s of its last heartbeat).
const configSyncWait = 5 * time.Second

// caughtUp waits until a projection (its WaitFor) has applied every event in the log.
func caughtUp(bus *events.Bus, waitFor func(context.Context, uint64) error) func(context.Context) error {
	return func(ctx context.Context) error {
		last, err := bus.LastSeq(ctx)
		if err != nil {
			return err
		}
		return waitFor(ctx, last)
	}
}

// validNodeID: a node id names NATS consumers and servers, so it keeps to their alphabet.
func validNodeID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func serve(args []string) error {
	c, err := loadConfig("serve", args)
	if err != nil {
		return err
	}
	return runServer(c, nil)
}

// setRuntimeMemory applies --memory-limit-mb and --gc-percent to the Go runtime, unless
// GOMEMLIMIT or GOGC (looked up with lookup) set them already. Go's default lets the heap
// grow to twice its live data before a collection; about 45 MB of that data is buffers
// (the event log's block caches, Badger's memtables) that stay live, so 50 % keeps peak
// RSS about 35 MB lower for about 2 µs more collection per request
// (docs/performance.md, "Half the heap growth between collections").
func setRuntimeMemory(c *Config, lookup func(string) (string, bool)) {
	if _, set := lookup("GOMEMLIMIT"); !set && c.MemoryLimitMB > 0 {
		debug.SetMemoryLimit(int64(c.MemoryLimitMB) << 20)
	}
	if _, set := lookup("GOGC"); !set && c.GCPercent > 0 {
		debug.SetGCPercent(c.GCPercent)
	}
}

// runServer runs the gateway with settings c until SIGINT/SIGTERM; onStarted, when set, is
// called once the HTTP port is open, with its URL, the admin token and where it is kept.
func runServer(c *Config, onStarted func(url, adminToken, tokenAt string)) error {
	log := newLogger(c.LogFormat)
	started := time.Now()
	setRuntimeMemory(c, os.LookupEnv)
	// Settings that would fail later, or silently, fail here, before anything is created.
	if err := checkUpstreamOverrides(os.LookupEnv); err != nil {
		return err
	}
	if err := checkListen(c.Listen); err != nil {
		return err
	}
	if err := checkDataDir(c.DataDir); err != nil {
		return err
	}
	token, tokenAt, created, err := adminToken(c.DataDir)
	if err != nil {
		return err
	}
	if created {
		log.Info("created the admin token (send it as Authorization: Bearer to /client/v4; SWITCHYARD_ADMIN_TOKEN replaces it)", "path", tokenAt)
	}
	node, err := nodeID(c.DataDir, c.NodeID)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	lg, err := openLog(ctx, c, node, log)
	if err != nil {
		return err
	}
	defer lg.close()
	store, err := storage.Open(storage.Options{Dir: filepath.Join(c.DataDir, "badger"), Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()
	proj, err := openProjections(store)
	if err != nil {
		return err
	}
	logs, analytics, counters := proj.logs, proj.analytics, proj.counters
	startSeq, err := lg.bus.LastSeq(ctx)
	if err != nil {
		return err
	}
	cfg, err := startConfig(ctx, c, lg.bus, log)
	if err != nil {
		return err
	}
	defer cfg.stop()
	// The projections start once the configuration is loaded: the logs projection reads
	// each gateway's log limit from it.
	logs.Limits = logLimits(cfg.service)
	for _, old := range []string{"logs-", "analytics-", "counters-"} { // one consumer per projection before 0.2
		lg.bus.DropConsumer(ctx, old+node)
	}
	if c.RequestLog {
		var lines func(io.Writer) slog.Handler // nil: logfmt, written by the request log itself
		if format := resolveLogFormat(c.LogFormat); format != "text" {
			lines = func(w io.Writer) slog.Handler { return newHandler(format, w) }
		}
		reqLog := metrics.NewRequestLog(lines, os.Stderr, started)
		defer reqLog.Flush() // the lines of the last 100 ms
		proj.observers = append(proj.observers, reqLog.Apply)
	}
	// lag is how many events in the log the projections have not applied yet.
	lag := func(ctx context.Context) (uint64, error) {
		last, err := lg.bus.LastSeq(ctx)
		return last - min(last, proj.applied()), err
	}
	var prom *metrics.Metrics
	if c.Metrics {
		prom = metrics.New(func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := lag(ctx)
			if err != nil {
				return math.NaN()
			}
			return float64(n)
		})
		proj.observers = append(proj.observers, prom.Apply)
	}
	consumeCtx, stopConsume := context.WithCancel(context.Background())
	defer stopConsume()
	consumed := make(chan error, 1)
	go func() {
		consumed <- lg.bus.Consume(consumeCtx, "projections-"+node, proj.applied(), proj.apply)
	}()
	otelWait, stopOTel, err := startOTel(store, lg.bus, cfg.service, prom, node, startSeq, log)
	if err != nil {
		return err
	}
	defer stopOTel()
	logpushWait, stopLogpush, err := startLogpush(c, store, lg.bus, cfg.service, logs, prom, node, startSeq, log)
	if err != nil {
		return err
	}
	defer stopLogpush()

	fwd := &engine.Forwarder{
		Client:     upstream.New(upstream.Options{IdleTimeout: c.UpstreamIdleTimeout, LoopbackOK: loopbackOK(c.AllowInsecure)}),
		CaptureMax: c.CaptureMaxKB << 10,
		SmallBody:  64 << 10,
		Cache:      storage.NewCache(store),
	}
	sys := actors.New(actors.Options{Forwarder: fwd, Events: lg.bus, Durable: c.DurableEvents,
		InlinePayload: c.InlinePayloadKB << 10, Logger: log})
	// Limiter actors rebuild their windows from the counters projection once it has
	// applied every limit event in the log.
	// With other nodes on the same log, a configuration write is answered once every live
	// node has applied it.
	clustered := c.NATSURL != "" || c.NATSClusterListen != ""
	if clustered {
		nodes, err := lg.bus.JoinNodes(ctx, node, cfg.service.Projection().WaitFor)
		if err != nil {
			return err
		}
		defer nodes.Close()
		cfg.service.Replicated = func(ctx context.Context, seq uint64) {
			wctx, cancel := context.WithTimeout(ctx, configSyncWait)
			defer cancel()
			if err := nodes.WaitApplied(wctx, seq); err != nil {
				log.Warn("configuration write not confirmed by every node", "err", err)
			}
		}
	}
	sharedCache := on(c.SharedCache, clustered)
	if sharedCache {
		sc, err := lg.bus.SharedCache(ctx)
		if err != nil {
			return err
		}
		tiered := cache.NewTiered(fwd.Cache, sc)
		tiered.OnError = func(op string, err error) { log.Warn("shared cache "+op+" failed; a miss", "err", err) }
		defer tiered.Wait()
		fwd.Cache = tiered
	}
	var shared actors.SharedWindows
	if on(c.SharedLimits, clustered) {
		if shared, err = lg.bus.LimitWindows(ctx); err != nil {
			return err
		}
	}
	fwd.Limiter = actors.NewLimiters(sys, actors.LimiterOptions{Counters: counters, Publisher: lg.bus, Logger: log, Shared: shared,
		CaughtUp: caughtUp(lg.bus, counters.WaitFor)})
	table := providers.NewTable(nil)
	control := controlapi.New(controlapi.Options{Config: cfg.service, AdminToken: token, Providers: table,
		Logs: logs, Analytics: analytics, Payloads: lg.bus, Events: lg.bus, LogsApplied: logs.WaitFor,
		LogsCaughtUp: caughtUp(lg.bus, logs.WaitFor), Logger: log})
	front := server.New(server.Options{Dispatcher: sys, Sessions: sys, Providers: table, Spend: analytics,
		Control: control.Handle, Dashboard: dashboard.New().Serve, Config: cfg.service, AdminToken: token, MaxBody: c.MaxBodyMB << 20, Logger: log,
		Compat: &compat.Env{Vertex: compat.NewVertexTokens(upstream.HTTPClient(30*time.Second),
			func(u string) error { return upstream.CheckBaseURL(u, c.AllowInsecure) })},
		MetricsToken: c.MetricsToken, GuardClient: fwd.Client, Node: node,
		Lag: lag})
	if prom != nil {
		prom.InFlight(sys.InFlight)
		prom.PublishQueue(lg.bus.PublishQueue)
		front.SetMetrics(fasthttpadaptor.NewFastHTTPHandler(prom.Handler()))
	}

	if c.DebugListen != "" {
		go func() { log.Warn("debug listener stopped", "err", http.ListenAndServe(c.DebugListen, nil)) }()
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- front.Serve(ln) }()
	// One plain line on stdout for scripts and harnesses to find the address; the rest of the
	// start-up report goes through the logger like every other line.
	fmt.Printf("switchyard %s listening on http://%s\n", version, ln.Addr())
	attrs := []any{"version", version, "url", "http://" + ln.Addr().String(), "data_dir", c.DataDir, "admin_token", tokenAt}
	if c.NATSURL != "" {
		attrs = append(attrs, "event_log", c.NATSURL)
	}
	if c.NATSURL != "" || c.NATSClusterListen != "" {
		attrs = append(attrs, "node", node, "replicas", lg.bus.Replicas(), "shared_limits", shared != nil, "shared_cache", sharedCache)
	}
	log.Info("switchyard started", attrs...)
	if onStarted != nil {
		go onStarted("http://"+ln.Addr().String(), token, tokenAt)
	}

	go func() {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		if proj.waitFor(wctx, startSeq) == nil {
			front.SetReady(true)
			log.Info("ready", "projection_seq", logs.Applied())
		}
	}()

	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	case err := <-consumed:
		return fmt.Errorf("projections stopped: %w", err)
	case err := <-cfg.stopped:
		return fmt.Errorf("config projection stopped: %w", err)
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	if err := front.Shutdown(sctx); err != nil {
		log.Warn("front end shutdown", "err", err)
	}
	if err := sys.Wait(sctx); err != nil {
		log.Warn("requests still in flight at shutdown", "err", err)
	}
	sys.Shutdown()
	if err := lg.bus.Flush(sctx); err != nil {
		log.Warn("event flush", "err", err)
	}
	if last, err := lg.bus.LastSeq(sctx); err == nil {
		if err := proj.waitFor(sctx, last); err != nil {
			log.Warn("projections did not catch up before shutdown", "logs", logs.Applied(),
				"analytics", analytics.Applied(), "counters", counters.Applied(), "last", last)
		}
	}
	stopConsume()
	<-consumed
	if err := logs.Settle(); err != nil {
		log.Warn("logs projection", "err", err)
	}
	if last, err := lg.bus.LastSeq(sctx); err == nil {
		otelWait(sctx, last)
		logpushWait(sctx, last)
	}
	stopOTel()
	stopLogpush()
	if err := analytics.Flush(); err != nil {
		log.Warn("analytics flush", "err", err)
	}
	if err := counters.Flush(); err != nil {
		log.Warn("counters flush", "err", err)
	}
	log.Info("stopped cleanly")
	return nil
}

// startOTel runs the OpenTelemetry exporter: its own durable consumer of the log, from its
// own position (the log's end on its first start). wait waits, a few seconds at most, for it
// to deliver up to a sequence; stop stops it.
func startOTel(store *storage.Store, bus *events.Bus, svc *config.Service, prom *metrics.Metrics, node string,
	startSeq uint64, log *slog.Logger) (wait func(context.Context, uint64), stop func(), err error) {
	o := otel.Options{Store: store, Config: func() *config.Snapshot { return svc.Projection().Current() }, Payloads: bus, Logger: log}
	var x *otel.Exporter
	if prom != nil {
		o.Count = prom.OTel(func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			last, err := bus.LastSeq(ctx)
			if err != nil || x == nil {
				return math.NaN()
			}
			return float64(last - min(last, x.Applied()))
		})
	}
	if x, err = otel.New(o); err != nil {
		return nil, nil, err
	}
	if err = x.StartAt(startSeq); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var running atomic.Bool
	go func() { defer close(done); superviseOTel(ctx, x, bus, o.Config, "otel-"+node, &running, log) }()
	wait = func(ctx context.Context, seq uint64) {
		if !running.Load() {
			return // no gateway exports: nothing to deliver
		}
		deadline := time.Now().Add(5 * time.Second)
		for x.Applied() < seq && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		if x.Applied() < seq {
			log.Warn("otel exporter did not deliver everything before shutdown: it resumes on the next start", "applied", x.Applied(), "last", seq)
		}
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	return wait, stop, nil
}

// superviseOTel runs the exporter's consumer only while some gateway has exporters, so a
// node where none exports is not delivered every message for nothing. Started again after
// being idle, it skips what the log held at its last idle check (no gateway exported then;
// the requests of the last second before exporters appeared are exported, none is lost); at
// start it resumes from its kept position.
func superviseOTel(ctx context.Context, x *otel.Exporter, bus *events.Bus, snap func() *config.Snapshot, name string,
	running *atomic.Bool, log *slog.Logger) {
	var stop context.CancelFunc
	var stopped chan struct{}
	var idleSeq uint64 // the log's end at the last check with no exporter, 0 before one
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		want := len(snap().OTelExporters()) > 0
		switch {
		case !want && !running.Load():
			if last, err := bus.LastSeq(ctx); err == nil {
				idleSeq = last
			}
		case want && !running.Load():
			if err := x.SkipTo(idleSeq); err != nil {
				log.Error("otel: cannot move the exporter's position", "err", err)
			}
			rctx, c := context.WithCancel(ctx)
			stop, stopped = c, make(chan struct{})
			running.Store(true)
			go func(done chan struct{}) { defer close(done); x.Run(rctx, bus, name) }(stopped)
		case !want && running.Load():
			stop()
			<-stopped
			running.Store(false)
		}
		select {
		case <-ctx.Done():
			if running.Load() {
				stop()
				<-stopped
			}
			return
		case <-tick.C:
		}
	}
}

// replay rebuilds the logs, analytics and counters projections from the event log into a
// fresh store.
func replay(args []string) error {
	c, err := loadConfig("replay", args)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if c.DebugListen != "" { // profiles of a replay
		go func() { log.Warn("debug listener stopped", "err", http.ListenAndServe(c.DebugListen, nil)) }()
	}
	out := c.Out
	if out == "" {
		out = filepath.Join(c.DataDir, "replay-"+time.Now().UTC().Format("20060102T150405"))
	}
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		return errors.New("replay: output directory " + out + " is not empty")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// With an embedded server in a cluster, replay joins the cluster as this node (stopped
	// first); against a running cluster use --nats-url instead.
	node, err := nodeID(c.DataDir, c.NodeID)
	if err != nil {
		return err
	}
	lg, err := openLog(ctx, c, node, log)
	if err != nil {
		return err
	}
	defer lg.close()
	store, err := storage.Open(storage.Options{Dir: out, Bulk: true})
	if err != nil {
		return err
	}
	defer store.Close()
	proj, err := openProjections(store)
	if err != nil {
		return err
	}
	// Log limits come from the configuration as it is now (the limits in force when each
	// request was logged are not in the log).
	cfg, err := startConfig(ctx, c, lg.bus, log)
	if err != nil {
		return err
	}
	defer cfg.stop()
	proj.logs.Limits = logLimits(cfg.service)
	started, applied := time.Now(), 0
	// The logs' records are made and encoded on the reading goroutine, while the batch
	// before is applied and written.
	last, err := lg.bus.Replay(ctx, func(b []events.Msg) error { applied += len(b); return proj.apply(b) }, proj.logs.Prepare)
	if err != nil {
		return err
	}
	if err := proj.logs.Settle(); err != nil {
		return err
	}
	if err := proj.analytics.Flush(); err != nil {
		return err
	}
	if err := proj.counters.Flush(); err != nil {
		return err
	}
	took := time.Since(started)
	fmt.Printf("replayed %d events (%d messages) into %s in %s (%.0f events/s)\n", applied, last, out,
		took.Round(time.Millisecond), float64(applied)/max(took.Seconds(), 1e-9))
	return nil
}

// loopbackOK says which upstream hosts may resolve to a loopback address: all of them
// with --allow-insecure-upstreams, otherwise only the hosts the operator named in a
// SWITCHYARD_UPSTREAM_* override (custom providers' names are refused if they resolve there).
func loopbackOK(allowInsecure bool) func(addr string) bool {
	if allowInsecure {
		return nil
	}
	hosts := map[string]bool{}
	for _, slug := range providers.Slugs() {
		if u, err := url.Parse(os.Getenv(providers.EnvOverride(slug))); err == nil && u.Host != "" {
			hosts[fasthttp.AddMissingPort(u.Host, u.Scheme == "https")] = true
		}
	}
	return func(addr string) bool { return hosts[addr] }
}
