// logpush.go: the Logpush exporter's wiring (startLogpush: the sink from the node's
// settings, a durable consumer of its own) and `switchyard logpush decrypt --key
// private.pem FILE...`, which prints the records of exported files with their metadata and
// bodies decrypted, as the reference's Node script does.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"

	json "github.com/goccy/go-json"

	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/switchyard/switchyard/storage/logpush"
	"github.com/switchyard/switchyard/storage/metrics"
)

// logpushSink is the sink the settings name: at most one; nil when none.
func logpushSink(c *Config) (logpush.Sink, error) {
	n := 0
	for _, v := range []string{c.LogpushDir, c.LogpushURL, c.LogpushS3} {
		if v != "" {
			n++
		}
	}
	switch {
	case n > 1:
		return nil, errors.New("logpush: give one sink of --logpush-dir, --logpush-url, --logpush-s3")
	case c.LogpushDir != "":
		if err := os.MkdirAll(c.LogpushDir, 0o755); err != nil {
			return nil, fmt.Errorf("logpush: %w", err)
		}
		return logpush.DirSink{Dir: c.LogpushDir}, nil
	case c.LogpushURL != "":
		return logpush.HTTPSink{URL: c.LogpushURL, Authorization: c.LogpushAuth}, nil
	case c.LogpushS3 != "":
		o := logpush.S3Options{Endpoint: c.LogpushS3Endpoint, Region: c.LogpushS3Region,
			AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
			SessionToken: os.Getenv("AWS_SESSION_TOKEN")}
		if o.Endpoint == "" {
			o.Endpoint = os.Getenv("AWS_ENDPOINT_URL_S3")
		}
		if o.Region == "" {
			o.Region = os.Getenv("AWS_REGION")
		}
		return logpush.NewS3Sink(c.LogpushS3, o)
	}
	return nil, nil
}

// startLogpush runs the Logpush exporter when the node has a sink: its own durable consumer
// of the log, from its own position (the log's end on its first start). wait waits, a few
// seconds at most, for it to write up to a sequence; stop stops it.
func startLogpush(c *Config, store *storage.Store, bus *events.Bus, svc *config.Service, logs *storage.Logs, prom *metrics.Metrics,
	node string, startSeq uint64, log *slog.Logger) (wait func(context.Context, uint64), stop func(), err error) {
	noop := func(context.Context, uint64) {}
	sink, err := logpushSink(c)
	if err != nil || sink == nil {
		return noop, func() {}, err
	}
	o := logpush.Options{Store: store, Config: func() *config.Snapshot { return svc.Projection().Current() }, Payloads: bus,
		Sink: sink, Logs: logs, Limits: logLimits(svc), Node: node, Logger: log}
	var x *logpush.Exporter
	if prom != nil {
		o.Count = prom.Logpush(func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			last, err := bus.LastSeq(ctx)
			if err != nil || x == nil {
				return math.NaN()
			}
			return float64(last - min(last, x.Applied()))
		})
	}
	if x, err = logpush.New(o); err != nil {
		return nil, nil, err
	}
	if err = x.StartAt(startSeq); err != nil {
		return nil, nil, err
	}
	log.Info("logpush: exporting the logs of gateways with logpush on", "sink", sink.String())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); x.Run(ctx, bus, "logpush-"+node) }()
	wait = func(ctx context.Context, seq uint64) {
		deadline := time.Now().Add(5 * time.Second)
		for x.Applied() < seq && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		if x.Applied() < seq {
			log.Warn("logpush exporter did not write everything before shutdown: it resumes on the next start", "applied", x.Applied(), "last", seq)
		}
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	return wait, stop, nil
}

// logpushCmd: switchyard logpush decrypt --key private.pem FILE...
func logpushCmd(args []string) error {
	if len(args) > 0 && args[0] == "decrypt" {
		args = args[1:]
	} else if len(args) == 0 || !isHelpFlag(args[0]) {
		return errors.New("usage: switchyard logpush decrypt --key private.pem FILE...")
	}
	fs := newFlags("logpush decrypt")
	keyPath := fs.String("key", "", "PEM RSA private key (PKCS #8 or PKCS #1) of the gateway's logpush_public_key")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *keyPath == "" || fs.NArg() == 0 {
		return errors.New("usage: switchyard logpush decrypt --key private.pem FILE...")
	}
	raw, err := os.ReadFile(*keyPath)
	if err != nil {
		return err
	}
	key, err := logpush.ParsePrivateKey(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", *keyPath, err)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for _, name := range fs.Args() {
		if err := decryptFile(name, key, out); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// decryptFile prints each record of a file (gzipped or not) as one JSON line, its
// Metadata, RequestBody and ResponseBody replaced by their decrypted text.
func decryptFile(name string, priv *rsa.PrivateKey, out io.Writer) error {
	raw, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	var r io.Reader = bytes.NewReader(raw)
	if len(raw) > 1 && raw[0] == 0x1f && raw[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return err
		}
		r = zr
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 64<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var rec map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		for _, f := range []string{"Metadata", "RequestBody", "ResponseBody"} {
			var e logpush.Encrypted
			if json.Unmarshal(rec[f], &e) != nil || e.Key == "" {
				continue // not encrypted: printed as it is, like the reference's script
			}
			plain, err := logpush.Decrypt(priv, e)
			if err != nil {
				return fmt.Errorf("line %d: %s: %w", line, f, err)
			}
			if rec[f], err = json.Marshal(string(plain)); err != nil {
				return err
			}
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if _, err := out.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return sc.Err()
}
