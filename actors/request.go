// Package actors runs the request path on protoactor-go: one short-lived request actor
// per data-plane request, which makes the upstream call through the engine, emits the
// request's events and stops itself. System implements engine.Dispatcher.
package actors

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/events"
)

// Publisher is what the request actor needs from the event log.
type Publisher interface {
	PublishAsync(t events.Type, id string, data []byte) error
	// PublishEventAsync takes the event unencoded: the publisher encodes it off the
	// request path. The request actor hands over events it never touches again.
	PublishEventAsync(t events.Type, version int, id string, at time.Time, data any) error
	Publish(ctx context.Context, t events.Type, id string, data []byte) (uint64, error)
	PutPayload(ctx context.Context, name string, data []byte) error
}

// Options configures the actor system.
type Options struct {
	Forwarder *engine.Forwarder
	Events    Publisher
	// Durable makes the end of every response wait for the JetStream ack of its
	// request.finished event.
	Durable bool
	// InlinePayload is the largest body kept inside the event; larger ones go to the
	// payload object store.
	InlinePayload int
	Logger        *slog.Logger
}

// System owns the protoactor actor system and dispatches requests to request actors.
type System struct {
	opts     Options
	sys      *actor.ActorSystem
	props    *actor.Props
	inflight sync.WaitGroup
	active   atomic.Int64 // requests dispatched and not finished (InFlight)
}

// New starts the actor system.
func New(o Options) *System {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("lib", "protoactor")
	s := &System{opts: o, sys: actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))}
	shrinkRegistry(s.sys)
	// A request actor's messages run on the goroutine that sends them (the connection's),
	// instead of a new goroutine per actor: no stack to grow and copy per request.
	s.props = actor.PropsFromProducer(func() actor.Actor { return &requestActor{sys: s} },
		actor.WithDispatcher(actor.NewSynchronizedDispatcher(16)))
	return s
}

// call is the first message a request actor gets.
type call struct {
	req   *engine.Request
	reply chan *engine.Exchange
}

// finished tells the request actor its answer has been relayed.
type finished struct {
	x     *engine.Exchange
	acked chan struct{}
}

// Dispatch spawns a request actor for req and returns its exchange once the answer's
// status and headers are known.
func (s *System) Dispatch(req *engine.Request) *engine.Exchange {
	s.inflight.Add(1)
	s.active.Add(1)
	reply := make(chan *engine.Exchange, 1)
	pid := s.sys.Root.Spawn(s.props)
	s.sys.Root.Send(pid, &call{req: req, reply: reply})
	return <-reply
}

// InFlight is the number of requests dispatched and not finished.
func (s *System) InFlight() int64 { return s.active.Load() }

// Wait blocks until every request actor has finished, or ctx ends.
func (s *System) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown stops the actor system.
func (s *System) Shutdown() { s.sys.Shutdown() }

// requestActor handles one request from call to finished, then stops.
type requestActor struct {
	sys     *System
	x       *engine.Exchange
	replied bool
	stopped bool
}

func (a *requestActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *call:
		a.onCall(ctx, m)
	case *finished:
		a.onFinished(ctx, m)
	}
}

func (a *requestActor) onCall(ctx actor.Context, m *call) {
	self := ctx.Self()
	root := a.sys.sys.Root
	a.x = engine.NewExchange(m.req, func(x *engine.Exchange) {
		f := &finished{x: x}
		if a.sys.opts.Durable {
			f.acked = make(chan struct{})
		}
		root.Send(self, f)
		if f.acked != nil {
			<-f.acked
		}
	})
	a.x.DoneBeforeAnswer = a.sys.opts.Durable
	defer func() {
		if r := recover(); r != nil {
			a.sys.opts.Logger.Error("request actor panicked", "log_id", m.req.LogID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			a.x.Fail(engine.Errorf(500, engine.CodeInternal, "internal gateway error; the request was logged as failed"))
			if !a.replied {
				a.replied = true
				m.reply <- a.x
			}
		}
	}()
	// One event per request: its upstream calls (request.finished's attempts) and its
	// route's walk (route) travel in the request.finished event; the request.attempt,
	// request.fallback and route.step events that repeated them are no longer written.
	a.sys.opts.Forwarder.Do(a.x)
	a.replied = true
	m.reply <- a.x
}

func (a *requestActor) onFinished(ctx actor.Context, m *finished) {
	defer func() {
		if r := recover(); r != nil {
			a.sys.opts.Logger.Error("request actor panicked while finishing", "log_id", m.x.Req.LogID, "panic", fmt.Sprint(r))
		}
		if m.acked != nil {
			close(m.acked)
		}
		if !a.stopped {
			a.stopped = true
			ctx.Stop(ctx.Self())
			a.sys.inflight.Done()
			a.sys.active.Add(-1)
		}
	}()
	ev := a.finishedEvent(m.x)
	a.publish(events.TypeRequestFinished, events.VersionRequestFinished, ev, m.acked != nil)
}

// publish encodes and appends an event; durable waits for the ack. The envelope id is
// derived from the log id, so a republished event is deduplicated by JetStream.
func (a *requestActor) publish(t events.Type, v int, data any, durable bool) {
	req := a.x.Req
	id := req.LogID + "." + string(t)
	if !durable {
		if err := a.sys.opts.Events.PublishEventAsync(t, v, id, time.Now().UTC(), data); err != nil {
			a.sys.opts.Logger.Error("publish event", "type", t, "log_id", req.LogID, "err", err)
		}
		return
	}
	b, err := events.Encode(t, v, id, time.Now().UTC(), data)
	if err != nil {
		a.sys.opts.Logger.Error("encode event", "type", t, "log_id", req.LogID, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err = a.sys.opts.Events.Publish(ctx, t, id, b); err != nil {
		a.sys.opts.Logger.Error("publish event", "type", t, "log_id", req.LogID, "err", err)
	}
}

func (a *requestActor) finishedEvent(x *engine.Exchange) events.RequestFinished {
	r := x.Req
	f := events.RequestFinished{
		LogID: r.LogID, EventID: r.EventID, AccountID: r.AccountID, GatewayID: r.GatewayID,
		Provider: r.Slug, Model: r.Model, Method: r.Method, Path: r.Path(),
		Status: x.Status, Success: x.Success(), Stream: x.Streaming() || x.Buffered(), DLP: r.DLPResult, Guardrails: r.GuardResult,
		TraceID: r.TraceID, ParentSpanID: r.ParentSpanID,
		StartedAt: r.ReceivedAt.UTC(), DurationMs: engine.Millis(x.End.Sub(r.ReceivedAt)), TTFBMs: engine.Millis(x.TTFB),
		TokensIn: x.Usage.In, TokensOut: x.Usage.Out, TokensCached: x.TokensCached, TokensEstimated: x.TokensEstimated,
		RequestSize: r.BodySize, ResponseSize: x.BytesOut,
		RequestCType: r.CType, ResponseCType: x.RespCType,
		KeyID: r.KeyID, KeyAlias: r.KeyAlias,
		Step: x.Step, Cached: x.Cached, Metadata: r.Metadata, NoLog: r.NoLog,
		BodiesLast: true,
	}
	f.Cost, f.CustomCost = x.Cost()
	if rt := x.Route; rt != nil {
		f.Route = &events.RouteWalk{ID: rt.ID, Name: rt.Name, VersionID: rt.VersionID, Nodes: rt.Nodes}
	}
	if len(x.Attempts) > 1 || r.Steps != nil {
		f.Attempts = x.Attempts
	}
	switch {
	case x.Err != nil:
		f.ErrorCode, f.ErrorMessage = x.Err.Code, x.Err.Message
	case x.ClientErr != nil:
		f.ErrorMessage = "client disconnected before the answer was complete"
	}
	if r.NoLog || r.NoPayload {
		return f // no record, or a record without bodies: nothing to keep
	}
	reqBody, reqTrunc := r.Body, r.BodyStream != nil
	if max := a.sys.opts.Forwarder.CaptureMax; len(reqBody) > max {
		reqBody, reqTrunc = reqBody[:max], true
	}
	f.RequestPayload = a.payload(r.LogID, "/request", reqBody, r.BodySize, reqTrunc)
	f.ResponsePayload = a.payload(r.LogID, "/response", x.RespBody, x.BytesOut, x.RespTrunc)
	return f
}

// payload keeps a small body inline and puts a larger one in the object store.
func (a *requestActor) payload(logID, part string, body []byte, size int64, trunc bool) *events.Payload {
	if len(body) == 0 {
		return nil
	}
	if len(body) <= a.sys.opts.InlinePayload {
		return events.InlinePayload(body, size, trunc)
	}
	name := logID + part // the object's name, built only for a body stored out of line
	p := &events.Payload{Size: size, Truncated: trunc}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.sys.opts.Events.PutPayload(ctx, name, body); err != nil {
		a.sys.opts.Logger.Error("store payload", "name", name, "err", err)
		p.Inline, p.Truncated = body[:a.sys.opts.InlinePayload], true
		return p
	}
	p.Ref = name
	return p
}
