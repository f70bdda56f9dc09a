// logs.go is `switchyard logs tail`: one line per finished request, live, read from the
// event log (NATS JetStream) rather than the logs API, so it shows every request of every
// gateway of the node or cluster as its event is written.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/events"
)

func logsCmd(args []string) error {
	if len(args) > 0 && args[0] == "tail" {
		args = args[1:]
	} else if len(args) == 0 || !isHelpFlag(args[0]) {
		return errors.New("usage: switchyard logs tail [flags] (`switchyard logs --help` lists them)")
	}
	fs := newFlags("logs tail")
	natsURL := fs.String("nats-url", "", "the event log's NATS URL (env SWITCHYARD_NATS_URL; else nats:// + serve's --nats-listen from SWITCHYARD_NATS_LISTEN or --config)")
	cfgFile := fs.String("config", "", "serve's JSON settings file, read for nats-url and nats-listen (env SWITCHYARD_CONFIG)")
	gw := fs.String("gateway", "", "only this gateway id")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fileStr, _, err := serveConfigFile(*cfgFile)
	if err != nil {
		return err
	}
	url, from := firstSet(*natsURL, "--nats-url", os.Getenv("SWITCHYARD_NATS_URL"), "SWITCHYARD_NATS_URL", fileStr("nats-url"), "nats-url in --config",
		listenURL("nats", os.Getenv("SWITCHYARD_NATS_LISTEN")), "SWITCHYARD_NATS_LISTEN", listenURL("nats", fileStr("nats-listen")), "nats-listen in --config")
	if url == "" {
		return errors.New("no event log to follow: the embedded NATS server takes no clients unless serve runs with --nats-listen 127.0.0.1:4222; " +
			"give that address here with --nats-url nats://127.0.0.1:4222 (or SWITCHYARD_NATS_URL, or the same --config)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	bus, err := events.Connect(cctx, events.ConnectOptions{URL: url, ReadOnly: true})
	cancel()
	if err != nil {
		return fmt.Errorf("cannot reach the event log at %s (from %s): %w", url, from, err)
	}
	defer bus.Close()
	fmt.Fprintf(os.Stderr, "following %s (from %s); Ctrl-C stops\n", url, from)
	return bus.Tail(ctx, func(batch []events.Msg) error {
		for _, m := range batch {
			if f, err := m.Finished(); err == nil && (*gw == "" || f.GatewayID == *gw) {
				printFinished(os.Stdout, f)
			}
		}
		return nil
	})
}

// printFinished writes one request as one line: when, where, what, how it ended.
func printFinished(w io.Writer, f events.RequestFinished) {
	cost, cache := "-", ""
	if f.Cost != nil {
		cost = fmt.Sprintf("$%.6f", *f.Cost)
	}
	if f.Cached {
		cache = " cached"
	}
	fmt.Fprintf(w, "%s %s/%s %s %s %s %d %.0fms tokens=%d/%d cost=%s%s log=%s\n",
		f.StartedAt.UTC().Format(time.RFC3339), f.AccountID, f.GatewayID, f.Provider, orDash(f.Model), f.Path, f.Status, f.DurationMs,
		f.TokensIn, f.TokensOut, cost, cache, f.LogID)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
