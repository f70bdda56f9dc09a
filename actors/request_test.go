package actors

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/engine/upstream"
	"github.com/switchyard/switchyard/events"
	"github.com/valyala/fasthttp"
)

// recorder is a Publisher that keeps what it was given.
type recorder struct {
	mu     sync.Mutex
	events []events.Envelope
	sync   int
	stored []string // name=body of each payload put in the object store
}

func (r *recorder) add(b []byte) {
	env, err := events.Decode(b)
	if err != nil {
		panic(err)
	}
	r.mu.Lock()
	r.events = append(r.events, env)
	r.mu.Unlock()
}
func (r *recorder) PublishAsync(_ events.Type, _ string, b []byte) error { r.add(b); return nil }
func (r *recorder) PublishEventAsync(t events.Type, v int, id string, at time.Time, data any) error {
	b, err := events.Encode(t, v, id, at, data)
	if err != nil {
		return err
	}
	r.add(b)
	return nil
}
func (r *recorder) Publish(_ context.Context, _ events.Type, _ string, b []byte) (uint64, error) {
	r.add(b)
	r.mu.Lock()
	r.sync++
	r.mu.Unlock()
	return 1, nil
}
func (r *recorder) PutPayload(_ context.Context, name string, b []byte) error {
	r.mu.Lock()
	r.stored = append(r.stored, name+"="+string(b))
	r.mu.Unlock()
	return nil
}

func (r *recorder) finished(t *testing.T) events.RequestFinished {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Type == events.TypeRequestFinished {
			f, err := events.DecodeRequestFinished(e)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatal("no request.finished event")
	return events.RequestFinished{}
}

// upstreamServer answers every request with a small chat completion on a loopback port.
func upstreamServer(t *testing.T) string {
	return upstreamAnswering(t, `{"id":"x","usage":{"prompt_tokens":3,"completion_tokens":4}}`)
}

// upstreamAnswering answers every request with body (JSON) on a loopback port.
func upstreamAnswering(tb testing.TB, body string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(body)
	}}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

func newSystem(pub Publisher, durable bool) *System {
	return New(Options{
		Forwarder:     &engine.Forwarder{Client: upstream.New(upstream.Options{}), CaptureMax: 1 << 20, SmallBody: 64 << 10},
		Events:        pub,
		Durable:       durable,
		InlinePayload: 32 << 10,
	})
}

func request(p *providers.Resolved) *engine.Request {
	return &engine.Request{LogID: "01JTESTLOG", EventID: "01JTESTEVT", AccountID: "a", GatewayID: "g",
		Target: engine.Target{Provider: p, Slug: p.Slug, Rest: "/chat/completions"}, Method: "POST",
		Body: []byte(`{"model":"m"}`), BodySize: 13, ReceivedAt: time.Now()}
}

// relay does what the front end does with an exchange.
func relay(x *engine.Exchange) []byte {
	if x.Streaming() {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		x.Relay(w)
		x.Done()
		return buf.Bytes()
	}
	x.Done()
	return x.Body
}

func TestRequestActorForwardsAndEmitsEvents(t *testing.T) {
	for _, durable := range []bool{false, true} {
		rec := &recorder{}
		s := newSystem(rec, durable)
		base := upstreamServer(t)
		a, _ := providers.Lookup("openai")
		x := s.Dispatch(request(&providers.Resolved{Adapter: a, Base: base}))
		if x.DoneBeforeAnswer != durable { // durable: the client sees no answer before its event is stored
			t.Fatalf("durable %v: the exchange asks to be finished before its answer: %v", durable, x.DoneBeforeAnswer)
		}
		body := relay(x)
		if err := s.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if x.Status != 200 || !bytes.Contains(body, []byte(`"prompt_tokens":3`)) {
			t.Fatalf("status %d body %s", x.Status, body)
		}
		f := rec.finished(t)
		if !f.Success || f.TokensIn != 3 || f.TokensOut != 4 || f.Status != 200 || f.LogID != "01JTESTLOG" {
			t.Fatalf("finished event: %+v", f)
		}
		if len(rec.events) != 1 || rec.events[0].Type != events.TypeRequestFinished {
			t.Fatalf("want one request.finished event per plain request, got %d events", len(rec.events))
		}
		if durable && rec.sync != 1 {
			t.Fatalf("durable mode must publish the finished event synchronously, got %d sync publishes", rec.sync)
		}
		s.Shutdown()
	}
}

// Bodies over the inline limit go to the object store as <log id>/request and
// <log id>/response, and the event refers to them; smaller ones stay in the event.
func TestLargePayloadsStoredByName(t *testing.T) {
	for _, inline := range []int{8, 32 << 10} {
		rec := &recorder{}
		s := New(Options{
			Forwarder:     &engine.Forwarder{Client: upstream.New(upstream.Options{}), CaptureMax: 1 << 20, SmallBody: 64 << 10},
			Events:        rec,
			InlinePayload: inline,
		})
		answer := `{"id":"x","usage":{"prompt_tokens":3,"completion_tokens":4}}`
		a, _ := providers.Lookup("openai")
		x := s.Dispatch(request(&providers.Resolved{Adapter: a, Base: upstreamAnswering(t, answer)}))
		relay(x)
		if err := s.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		f := rec.finished(t)
		s.Shutdown()
		if !f.BodiesLast { // so projections stop reading before the bodies (events.Msg.Finished)
			t.Fatal("the request.finished event does not say its bodies come last")
		}
		if inline == 8 {
			want := []string{`01JTESTLOG/request={"model":"m"}`, "01JTESTLOG/response=" + answer}
			if !slices.Equal(rec.stored, want) || f.RequestPayload.Ref != "01JTESTLOG/request" || f.ResponsePayload.Ref != "01JTESTLOG/response" {
				t.Fatalf("stored %q, refs %q %q", rec.stored, f.RequestPayload.Ref, f.ResponsePayload.Ref)
			}
			continue
		}
		if len(rec.stored) != 0 || string(f.RequestPayload.Body()) != `{"model":"m"}` || string(f.ResponsePayload.Body()) != answer {
			t.Fatalf("inline: stored %q, payloads %+v %+v", rec.stored, f.RequestPayload, f.ResponsePayload)
		}
	}
}

func TestPanicBecomes500AndFailedLog(t *testing.T) {
	rec := &recorder{}
	s := newSystem(rec, false)
	defer s.Shutdown()
	broken := &providers.Adapter{Slug: "broken", BaseURL: "http://127.0.0.1:1",
		Route: func(string) (providers.Target, error) { panic("adapter bug") }}
	x := s.Dispatch(request(&providers.Resolved{Adapter: broken, Base: broken.BaseURL}))
	body := relay(x)
	if err := s.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if x.Status != 500 || !bytes.Contains(body, []byte(`"code":2015`)) {
		t.Fatalf("panic answer: %d %s", x.Status, body)
	}
	f := rec.finished(t)
	if f.Success || f.Status != 500 || f.ErrorCode != engine.CodeInternal {
		t.Fatalf("panic not logged as failed: %+v", f)
	}
	// The system still serves after the panic.
	a, _ := providers.Lookup("openai")
	x = s.Dispatch(request(&providers.Resolved{Adapter: a, Base: upstreamServer(t)}))
	relay(x)
	if x.Status != 200 {
		t.Fatalf("after panic: %d", x.Status)
	}
}

func BenchmarkDispatch(b *testing.B) {
	rec := &recorder{}
	s := newSystem(rec, false)
	defer s.Shutdown()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"usage":{"prompt_tokens":3,"completion_tokens":4}}`)
	}}
	go srv.Serve(ln)
	defer srv.Shutdown()
	a, _ := providers.Lookup("openai")
	p := &providers.Resolved{Adapter: a, Base: "http://" + ln.Addr().String()}
	for b.Loop() {
		relay(s.Dispatch(request(p)))
		rec.mu.Lock()
		rec.events = rec.events[:0]
		rec.mu.Unlock()
	}
}

// A request of several upstream calls (here a first step that cannot connect, then a second
// that answers) is still one event: its calls are request.finished's attempts, not
// request.attempt and request.fallback events of their own.
func TestRequestOfSeveralCallsIsOneEvent(t *testing.T) {
	rec := &recorder{}
	s := newSystem(rec, false)
	defer s.Shutdown()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	a, _ := providers.Lookup("openai")
	req := request(&providers.Resolved{Adapter: a, Base: refused})
	second := req.Target
	second.Provider = &providers.Resolved{Adapter: a, Base: upstreamServer(t)}
	req.Steps = []*engine.Target{&req.Target, &second}
	x := s.Dispatch(req)
	relay(x)
	if err := s.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if x.Status != 200 {
		t.Fatalf("status %d, attempts %+v", x.Status, x.Attempts)
	}
	rec.mu.Lock()
	n := len(rec.events)
	var types []events.Type
	for _, e := range rec.events {
		types = append(types, e.Type)
	}
	rec.mu.Unlock()
	if n != 1 {
		t.Fatalf("want one request.finished event, got %v", types)
	}
	f := rec.finished(t)
	if len(f.Attempts) != 2 || f.Attempts[0].Outcome != engine.OutcomeFallback || f.Attempts[1].Outcome != engine.OutcomeAnswered {
		t.Fatalf("request.finished attempts: %+v", f.Attempts)
	}
}
