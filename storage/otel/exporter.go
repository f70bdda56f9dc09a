// Package otel is a consumer of the event log exporting spans: one span per finished
// request (and its children, spans.go) to the OTLP/HTTP collectors of the request's gateway
// (its `otel` setting), never from the request path. It runs its own durable consumer and
// keeps its position in the store, advanced only once every exporter has accepted the
// spans before it or refused them for good (a 4xx other than 408 and 429): a slow or dead
// collector costs a request nothing and loses nothing, delivery resumes from the position
// after an outage or a restart. A batch is exported in chunks of bounded size, one at a
// time, so memory stays bounded however long a collector is down.
package otel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/switchyard/switchyard/storage/export"
	"github.com/tidwall/gjson"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// CheckpointName is the exporter's position in the store.
const CheckpointName = "otel"

// Bounds of one chunk (one export request per exporter): requests and body bytes.
const (
	chunkRequests = 256
	chunkBytes    = 4 << 20
	// parallel bounds the export requests in flight at once (one per gateway exporter).
	parallel = 8
)

// Results counted by Options.Count.
const (
	Exported = "exported" // accepted by a collector
	Retried  = "retried"  // refused for now (429, 5xx, network): sent again later
	Dropped  = "dropped"  // refused for good (4xx), or the exporter or its secret is gone
)

// Options configure an Exporter.
type Options struct {
	Store    *storage.Store
	Config   func() *config.Snapshot
	Payloads interface {
		GetPayload(ctx context.Context, name string) ([]byte, error)
	}
	Logger *slog.Logger
	// Count counts spans by result (Exported, Retried, Dropped); nil counts nothing.
	Count func(result string, n int)
	// Client sends the export requests; nil is a client with a 10 s timeout.
	Client *http.Client
	// RetryMin and RetryMax bound the backoff between tries (default 500 ms and 30 s).
	RetryMin, RetryMax time.Duration
}

// Exporter is the consumer.
type Exporter struct {
	o   Options
	pos *export.Position

	mu   sync.Mutex
	snap *config.Snapshot
	exps map[string][]config.OTelExporter
}

// New reads the exporter's position from the store.
func New(o Options) (*Exporter, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Count == nil {
		o.Count = func(string, int) {}
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 500 * time.Millisecond
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(30*time.Second, o.RetryMin)
	}
	x := &Exporter{o: o}
	pos, err := export.OpenPosition(o.Store, CheckpointName)
	if err != nil {
		return nil, err
	}
	x.pos = pos
	return x, nil
}

// Applied is the position of the last event whose spans are delivered (or dropped).
func (x *Exporter) Applied() uint64 { return x.pos.Applied() }

// StartAt places an exporter that never ran at seq (the log's end when it starts); see
// export.Position.StartAt.
func (x *Exporter) StartAt(seq uint64) error { return x.pos.StartAt(seq) }

// SkipTo moves the position forward to seq (see export.Position.SkipTo).
func (x *Exporter) SkipTo(seq uint64) error { return x.pos.SkipTo(seq) }

// Run consumes the log as name from the exporter's position until ctx ends; after an error
// it starts again from the position kept.
func (x *Exporter) Run(ctx context.Context, log export.Consumer, name string) {
	export.Run(ctx, log, name, x.pos, func(b []events.Msg) error { return x.Apply(ctx, b) }, x.o.Logger, x.o.RetryMin, x.o.RetryMax)
}

// group is one gateway's spans in a chunk.
type group struct {
	acct, gw string
	spans    []*tracepb.Span
}

// chunk is the spans gathered so far, by gateway.
type chunk struct {
	groups   map[string]*group
	order    []string
	requests int
	bytes    int
}

func (c *chunk) full() bool { return c.requests >= chunkRequests || c.bytes >= chunkBytes }

// Apply exports the spans of a batch's finished requests, chunk by chunk, and advances the
// position after each: at a message boundary, so a restart never skips part of a message.
// It returns only when every exporter took or refused them for good, or ctx ended.
func (x *Exporter) Apply(ctx context.Context, batch []events.Msg) error {
	exps := x.exporters()
	c := &chunk{groups: map[string]*group{}}
	for i, m := range batch {
		if m.Seq <= x.pos.Applied() {
			continue
		}
		if i > 0 && batch[i-1].Seq != m.Seq && c.full() {
			if err := x.flush(ctx, c, batch[i-1].Seq); err != nil {
				return err
			}
			c = &chunk{groups: map[string]*group{}}
			exps = x.exporters()
		}
		if len(exps) == 0 {
			continue
		}
		env, err := m.Envelope()
		if err != nil || env.Type != events.TypeRequestFinished {
			continue
		}
		ids := gjson.GetManyBytes(env.Data, "account_id", "gateway_id")
		key := ids[0].String() + "/" + ids[1].String()
		if len(exps[key]) == 0 {
			continue
		}
		f, err := events.DecodeRequestFinished(env)
		if err != nil {
			x.o.Logger.Warn("otel: undecodable request.finished event skipped", "seq", m.Seq, "err", err)
			continue
		}
		b := x.bodies(ctx, &f)
		g := c.groups[key]
		if g == nil {
			g = &group{acct: f.AccountID, gw: f.GatewayID}
			c.groups[key] = g
			c.order = append(c.order, key)
		}
		g.spans = append(g.spans, Spans(&f, b)...)
		c.requests++
		c.bytes += min(len(b.Prompt), MaxBodyAttr) + min(len(b.Completion), MaxBodyAttr) + 1024
	}
	if len(batch) == 0 {
		return nil
	}
	return x.flush(ctx, c, batch[len(batch)-1].Seq)
}

// flush delivers a chunk to every exporter of its gateways, then keeps upto as the position.
func (x *Exporter) flush(ctx context.Context, c *chunk, upto uint64) error {
	if len(c.order) > 0 {
		exps := x.exporters()
		sem := make(chan struct{}, parallel)
		var wg sync.WaitGroup
		var failed atomic.Bool
		for _, key := range c.order {
			g := c.groups[key]
			for i, e := range exps[key] {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer func() { <-sem; wg.Done() }()
					if x.deliver(ctx, g, i, e.URL) != nil {
						failed.Store(true)
					}
				}()
			}
		}
		wg.Wait()
		if failed.Load() {
			return ctx.Err()
		}
	}
	if upto <= x.pos.Applied() {
		return nil
	}
	if err := x.pos.Advance(upto); err != nil {
		return fmt.Errorf("otel checkpoint: %w", err)
	}
	return nil
}

// deliver sends a gateway's spans to its exporter number i (at url) until the collector
// takes them or refuses them for good. Each try reads the exporter from the current
// configuration: one removed or changed meanwhile drops the spans. It fails only when ctx
// ends.
func (x *Exporter) deliver(ctx context.Context, g *group, i int, url string) error {
	n := len(g.spans)
	log := x.o.Logger.With("account_id", g.acct, "gateway_id", g.gw, "exporter", i, "url", url)
	wait := x.o.RetryMin
	var body []byte
	var bodyType string
	for {
		e, snap := x.exporter(g.acct, g.gw, i, url)
		if e == nil {
			x.o.Count(Dropped, n)
			log.Warn("otel: exporter removed while its spans were pending: dropped", "spans", n)
			return nil
		}
		auth := ""
		if e.Authorization != "" {
			secret, ok := snap.OTelSecret(g.acct, e.Authorization)
			if !ok {
				x.o.Count(Dropped, n)
				log.Warn("otel: authorization names no stored secret: spans dropped", "secret_id", e.Authorization, "spans", n)
				return nil
			}
			auth = secret
		}
		if body == nil || bodyType != e.ContentType {
			var err error
			if body, err = Encode(Request(g.acct, g.gw, g.spans), e.ContentType != config.OTelProtobuf); err != nil {
				x.o.Count(Dropped, n)
				log.Error("otel: spans could not be encoded: dropped", "err", err, "spans", n)
				return nil
			}
			bodyType = e.ContentType
		}
		status, after, err := x.post(ctx, e, auth, body)
		switch {
		case err == nil && status/100 == 2:
			x.o.Count(Exported, n)
			return nil
		case err == nil && status/100 != 5 && status != 429 && status != 408:
			x.o.Count(Dropped, n)
			log.Warn("otel: collector refused the spans: dropped", "status", status, "spans", n)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		x.o.Count(Retried, n)
		delay := wait/2 + rand.N(wait/2+1)
		if after > delay {
			delay = min(after, x.o.RetryMax)
		}
		log.Warn("otel: export failed, trying again", "status", status, "err", err, "spans", n, "in", delay.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		wait = min(wait*2, x.o.RetryMax)
	}
}

// post sends one export request; it answers the status and the Retry-After delay.
func (x *Exporter) post(ctx context.Context, e *config.OTelExporter, auth string, body []byte) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	for k, v := range e.Headers {
		req.Header.Set(k, v)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", ContentJSON)
	if e.ContentType == config.OTelProtobuf {
		req.Header.Set("Content-Type", ContentProtobuf)
	}
	req.Header.Set("User-Agent", "switchyard-otel")
	resp, err := x.o.Client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	var after time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		after = time.Duration(s) * time.Second
	}
	return resp.StatusCode, after, nil
}

// bodies reads a request's recorded bodies: inline in the event, or from the payload
// store. A body that cannot be read is left out (and said), not retried: it would not
// come back.
func (x *Exporter) bodies(ctx context.Context, f *events.RequestFinished) Bodies {
	var b Bodies
	read := func(p *events.Payload) []byte {
		if p == nil {
			return nil
		}
		if p.Ref == "" {
			return p.Body()
		}
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		body, err := x.o.Payloads.GetPayload(c, p.Ref)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				x.o.Logger.Warn("otel: stored body unreadable, left out of the span", "log_id", f.LogID, "ref", p.Ref, "err", err)
			}
			return nil
		}
		return body
	}
	b.Prompt = read(f.RequestPayload)
	b.Completion = read(f.ResponsePayload)
	b.PromptTruncated = f.RequestPayload != nil && f.RequestPayload.Truncated
	b.CompletionTruncated = f.ResponsePayload != nil && f.ResponsePayload.Truncated
	return b
}

// exporters are the current configuration's exporters by "acct/gw" (parsed once per
// configuration snapshot).
func (x *Exporter) exporters() map[string][]config.OTelExporter {
	snap := x.o.Config()
	x.mu.Lock()
	defer x.mu.Unlock()
	if snap != x.snap {
		x.snap, x.exps = snap, snap.OTelExporters()
	}
	return x.exps
}

// exporter finds exporter i of a gateway in the current configuration, if it still
// sends to url, with the snapshot it was read from.
func (x *Exporter) exporter(acct, gw string, i int, url string) (*config.OTelExporter, *config.Snapshot) {
	exps := x.exporters()
	x.mu.Lock()
	snap := x.snap
	x.mu.Unlock()
	list := exps[acct+"/"+gw]
	if i < len(list) && list[i].URL == url {
		return &list[i], snap
	}
	return nil, nil
}
