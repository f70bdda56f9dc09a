// config.go reads Switchyard's settings: each flag, else SWITCHYARD_<NAME> from the
// environment, else the --config JSON file, else the default.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/switchyard/switchyard/engine/providers"
)

// Config is every setting of the serve and replay commands.
type Config struct {
	Listen              string
	DataDir             string
	NATSURL             string
	NATSListen          string
	NodeID              string
	NATSClusterListen   string
	NATSRoutes          string
	NATSClusterName     string
	Replicas            int
	SharedLimits        string
	SharedCache         string
	DurableEvents       bool
	EventRetention      time.Duration
	MaxBodyMB           int
	InlinePayloadKB     int
	CaptureMaxKB        int
	UpstreamIdleTimeout time.Duration
	ShutdownTimeout     time.Duration
	Out                 string // replay only
	DebugListen         string
	MemoryLimitMB       int
	GCPercent           int
	AllowInsecure       bool
	Metrics             bool
	MetricsToken        string
	RequestLog          bool
	LogFormat           string
	LogpushDir          string
	LogpushURL          string
	LogpushAuth         string
	LogpushS3           string
	LogpushS3Endpoint   string
	LogpushS3Region     string
}

type setting struct {
	name, help string
	def        string
	set        func(string) error
	isBool     bool
}

// flagValue records what was given on the command line; bool settings take no argument.
type flagValue struct {
	v      string
	isBool bool
}

func (f *flagValue) String() string     { return f.v }
func (f *flagValue) Set(v string) error { f.v = v; return nil }
func (f *flagValue) IsBoolFlag() bool   { return f.isBool }

func settings(c *Config) []setting {
	str := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	num := func(p *int) func(string) error {
		return func(v string) error { n, err := strconv.Atoi(v); *p = n; return err }
	}
	dur := func(p *time.Duration) func(string) error {
		return func(v string) error { d, err := time.ParseDuration(v); *p = d; return err }
	}
	return []setting{
		{"listen", "address of the HTTP front end", "127.0.0.1:8787", str(&c.Listen), false},
		{"data-dir", "directory for the event log, the store and the admin token", "./switchyard-data", str(&c.DataDir), false},
		{"nats-url", "external NATS JetStream URL; empty runs the embedded server", "", str(&c.NATSURL), false},
		{"nats-listen", "also open the embedded NATS server on this TCP address (e.g. 127.0.0.1:4222)", "", str(&c.NATSListen), false},
		{"node-id", "this node's name in a cluster (its consumers, its embedded NATS server); default: the one kept in the data dir, made up on first start", "", str(&c.NodeID), false},
		{"nats-cluster-listen", "join the embedded NATS server to a cluster: accept routes from the other servers on this address (e.g. 0.0.0.0:6222)", "", str(&c.NATSClusterListen), false},
		{"nats-routes", "cluster addresses of every embedded NATS server of the cluster, itself included, comma-separated (nats://sy1:6222,nats://sy2:6222,nats://sy3:6222)", "", str(&c.NATSRoutes), false},
		{"nats-cluster-name", "the NATS cluster's name, the same on every node", "switchyard", str(&c.NATSClusterName), false},
		{"replicas", "copies the cluster keeps of each stream and bucket; 0: 3 when the cluster has three or more servers, else as many as it has", "0", num(&c.Replicas), false},
		{"shared-limits", "decide rate limits and budgets against windows shared by every node (auto: on with an external NATS or a cluster)", "auto", autoBool("shared-limits", &c.SharedLimits), false},
		{"shared-cache", "share cached answers between nodes through the cluster (auto: on with an external NATS or a cluster)", "auto", autoBool("shared-cache", &c.SharedCache), false},
		{"durable-events", "end each response only after its events are acknowledged by JetStream", "false",
			func(v string) error { b, err := strconv.ParseBool(v); c.DurableEvents = b; return err }, true},
		{"allow-insecure-upstreams", "let custom providers use plain http and loopback base URLs (tests, local models)", "false",
			func(v string) error { b, err := strconv.ParseBool(v); c.AllowInsecure = b; return err }, true},
		{"event-retention", "how long request events and stored bodies are kept in the event log (0: forever); config changes are kept forever", "720h", dur(&c.EventRetention), false},
		{"max-body-mb", "largest request body accepted, in MB", "25", num(&c.MaxBodyMB), false},
		{"inline-payload-kb", "bodies up to this size are kept inside the event; larger ones in the object store", "32", num(&c.InlinePayloadKB), false},
		{"capture-max-kb", "how much of each body is kept for the log", "4096", num(&c.CaptureMaxKB), false},
		{"upstream-idle-timeout", "longest silence accepted from an upstream (first byte and between chunks)", "5m", dur(&c.UpstreamIdleTimeout), false},
		{"shutdown-timeout", "how long shutdown waits for in-flight requests", "30s", dur(&c.ShutdownTimeout), false},
		{"memory-limit-mb", "soft memory limit for the Go runtime (GOMEMLIMIT, when set, wins); 0 turns it off", "128", num(&c.MemoryLimitMB), false},
		{"gc-percent", "how far the heap grows past its live data before a collection, in percent (GOGC, when set, wins); 0 leaves Go's default, 100", "50", num(&c.GCPercent), false},
		{"debug-listen", "serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060); off when empty", "", str(&c.DebugListen), false},
		{"metrics", "serve Prometheus metrics at /metrics", "true",
			func(v string) error { b, err := strconv.ParseBool(v); c.Metrics = b; return err }, true},
		{"metrics-token", "bearer token /metrics asks for; open when empty", "", str(&c.MetricsToken), false},
		{"request-log", "print one line per finished request on stderr", "true",
			func(v string) error { b, err := strconv.ParseBool(v); c.RequestLog = b; return err }, true},
		{"log-format", "format of the lines on stderr: auto (console on a terminal, else text), console (plain lines), text (logfmt) or json", "auto", func(v string) error {
			if !slices.Contains(logFormats, v) {
				return fmt.Errorf("log-format must be one of %s, got %q", strings.Join(logFormats, ", "), v)
			}
			c.LogFormat = v
			return nil
		}, false},
		{"logpush-dir", "Logpush sink: write the exported log files under this directory", "", str(&c.LogpushDir), false},
		{"logpush-url", "Logpush sink: POST each exported log file to this URL", "", str(&c.LogpushURL), false},
		{"logpush-authorization", "Authorization header of the --logpush-url POSTs (better from the environment)", "", str(&c.LogpushAuth), false},
		{"logpush-s3", "Logpush sink: put each exported log file in this bucket, s3://bucket/prefix (credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)", "", str(&c.LogpushS3), false},
		{"logpush-s3-endpoint", "URL of an S3-compatible service for --logpush-s3 (MinIO, R2...; default AWS_ENDPOINT_URL_S3, else AWS)", "", str(&c.LogpushS3Endpoint), false},
		{"logpush-s3-region", "region of --logpush-s3 (default AWS_REGION, else us-east-1)", "", str(&c.LogpushS3Region), false},
		{"out", "replay: directory of the rebuilt store (default <data-dir>/replay-<time>)", "", str(&c.Out), false},
	}
}

// autoBool sets a setting that is auto, true or false.
func autoBool(name string, p *string) func(string) error {
	return func(v string) error {
		if v != "auto" && v != "true" && v != "false" {
			return fmt.Errorf("%s must be auto, true or false, got %q", name, v)
		}
		*p = v
		return nil
	}
}

// on says whether an auto/true/false setting is on: auto means on with other nodes on the log.
func on(setting string, clustered bool) bool {
	return setting == "true" || setting == "auto" && clustered
}

// EnvName is the environment variable read for a flag.
func EnvName(flagName string) string {
	return "SWITCHYARD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// loadConfig parses args for command cmd.
func loadConfig(cmd string, args []string) (*Config, error) {
	c := &Config{}
	fs := newFlags(cmd)
	var ss []setting
	known := map[string]bool{"config": true}
	for _, s := range settings(c) {
		if s.name == "out" && cmd != "replay" {
			continue // replay's alone
		}
		ss = append(ss, s)
		known[s.name] = true
	}
	given := map[string]*flagValue{}
	for _, s := range ss {
		given[s.name] = &flagValue{isBool: s.isBool}
		fs.Var(given[s.name], s.name, fmt.Sprintf("%s (env %s, default %q)", s.help, EnvName(s.name), s.def))
	}
	cfgFile := fs.String("config", os.Getenv("SWITCHYARD_CONFIG"), "JSON file of settings keyed by flag name (env SWITCHYARD_CONFIG)")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	file := map[string]any{}
	if *cfgFile != "" {
		b, err := os.ReadFile(*cfgFile)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := json.Unmarshal(b, &file); err != nil {
			return nil, fmt.Errorf("config %s: %w", *cfgFile, err)
		}
		for k := range file {
			if !known[k] {
				return nil, fmt.Errorf("config %s: unknown setting %q (the keys are the flag names of `switchyard %s --help`)", *cfgFile, k, cmd)
			}
		}
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	for _, s := range ss {
		v := s.def
		if fv, ok := file[s.name]; ok {
			v = fmt.Sprint(fv)
		}
		if ev, ok := os.LookupEnv(EnvName(s.name)); ok {
			v = ev
		}
		if explicit[s.name] {
			v = given[s.name].v
		}
		if err := s.set(v); err != nil {
			return nil, fmt.Errorf("--%s %q: %w", s.name, v, err)
		}
	}
	return c, nil
}

// checkUpstreamOverrides refuses a SWITCHYARD_UPSTREAM_* override that is set but empty or
// not an http(s) URL with a host: such a gateway would answer every request of that
// provider 502 and say nothing at start.
func checkUpstreamOverrides(lookup func(string) (string, bool)) error {
	for _, slug := range providers.Slugs() {
		name := providers.EnvOverride(slug)
		v, ok := lookup(name)
		if !ok {
			continue
		}
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("%s is set but empty: unset it to reach %s's own API, or give a URL", name, slug)
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s=%q is not an http:// or https:// URL with a host", name, v)
		}
	}
	return nil
}

// dataDirLayout is what the data directory holds: name -> whether it is a directory.
var dataDirLayout = map[string]bool{"nats": true, "badger": true, "admin-token": false, "master-key": false, "node-id": false}

// checkDataDir makes the data directory when it is missing and says at once, naming the
// setting, when it cannot be used: not a directory, not writable or not readable (a file
// can be made and the entries listed), or one of its entries of the wrong kind. Without it
// these fail later, deep in the event log or the store.
func checkDataDir(dir string) error {
	fail := func(err error) error { return fmt.Errorf("--data-dir %s: %w", dir, err) }
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	probe, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fail(fmt.Errorf("not writable: %w", err))
	}
	probe.Close()
	os.Remove(probe.Name())
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fail(fmt.Errorf("not readable: %w", err))
	}
	for _, e := range entries {
		wantDir, known := dataDirLayout[e.Name()]
		if !known {
			continue
		}
		info, err := os.Stat(filepath.Join(dir, e.Name()))
		switch {
		case err != nil:
			return fail(err)
		case wantDir && !info.IsDir():
			return fail(fmt.Errorf("%s is a file; the gateway keeps a directory there", e.Name()))
		case !wantDir && !info.Mode().IsRegular():
			return fail(fmt.Errorf("%s is not a regular file", e.Name()))
		}
		if f, err := os.Open(filepath.Join(dir, e.Name())); err != nil {
			return fail(fmt.Errorf("%s is not readable: %w", e.Name(), err))
		} else {
			f.Close()
		}
	}
	return nil
}

// checkListen says, before the data directory is created, that --listen cannot be bound
// (in use, not an address); the real listener opens once the log and the store are up.
func checkListen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", addr, err)
	}
	return ln.Close()
}
