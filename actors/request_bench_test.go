// request_bench_test.go measures one provider pass-through request through its request
// actor: the dispatch, the upstream call to a loopback server answering a ~600-byte chat
// completion (or a 20-event SSE stream), the relay, the request.finished event encoded and
// handed to a publisher that drops it. Allocations per request are the figure to watch
// (issue 15: at most 60).
package actors

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/engine/upstream"
	"github.com/valyala/fasthttp"
)

var benchAnswer = `{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1735689600,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"` +
	strings.Repeat("Road freight is moved through the gateway. ", 7) + `","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29},"system_fingerprint":"fp_0"}`

var benchRequest = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("Tell me a story about a gateway. ", 16) + `"}]}`)

// benchSystem is a request actor system whose events are encoded and dropped, and the
// OpenAI provider at base.
func benchSystem(b *testing.B, base string) (*System, *providers.Resolved) {
	s := New(Options{
		Forwarder:     &engine.Forwarder{Client: upstream.New(upstream.Options{}), CaptureMax: 4 << 20, SmallBody: 64 << 10},
		Events:        dropPublisher{},
		InlinePayload: 32 << 10,
	})
	b.Cleanup(s.Shutdown)
	a, _ := providers.Lookup("openai")
	return s, &providers.Resolved{Adapter: a, Base: base}
}

// benchChat is the bench's chat completion request to p.
func benchChat(p *providers.Resolved) *engine.Request {
	return &engine.Request{LogID: "01JTESTLOG0000000000000000", EventID: "01JTESTEVT0000000000000000", AccountID: "acct", GatewayID: "gw",
		Target: engine.Target{Provider: p, Slug: "openai", Rest: "/chat/completions"}, Method: "POST",
		Body: benchRequest, BodySize: int64(len(benchRequest)), CType: "application/json", ReceivedAt: time.Now()}
}

func BenchmarkRequestActor(b *testing.B) {
	s, p := benchSystem(b, upstreamAnswering(b, benchAnswer))
	b.ReportAllocs()
	for b.Loop() {
		x := s.Dispatch(benchChat(p))
		if x.Status != 200 {
			b.Fatalf("status %d", x.Status)
		}
		relay(x)
	}
}

// benchStream is a 20-event OpenAI chat.completion.chunk stream with usage in its last
// event, as the bench's mock sends it (about 3.9 KB).
func benchStream() [][]byte {
	const pre = `data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1735689600,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_b376dfbbd5",`
	var evs [][]byte
	for i := range 19 {
		finish := "null"
		if i == 18 {
			finish = `"stop"`
		}
		evs = append(evs, fmt.Appendf(nil, `%s"choices":[{"index":0,"delta":{"content":" word%d"},"logprobs":null,"finish_reason":%s}],"usage":null}`+"\n\n", pre, i, finish))
	}
	evs = append(evs, []byte(pre+`"choices":[],"usage":{"prompt_tokens":118,"completion_tokens":18,"total_tokens":136}}`+"\n\n"))
	return append(evs, []byte("data: [DONE]\n\n"))
}

// upstreamStreaming serves evs as an SSE stream, flushing after each event.
func upstreamStreaming(tb testing.TB, evs [][]byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/event-stream")
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			for _, e := range evs {
				_, _ = w.Write(e)
				_ = w.Flush()
			}
		})
	}}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// BenchmarkRequestActorStream is BenchmarkRequestActor with a streamed answer, relayed to
// a buffered writer as the front end relays it (usage counted, body captured for the log).
func BenchmarkRequestActorStream(b *testing.B) {
	s, p := benchSystem(b, upstreamStreaming(b, benchStream()))
	w := bufio.NewWriterSize(io.Discard, 4<<10)
	b.ReportAllocs()
	for b.Loop() {
		x := s.Dispatch(benchChat(p))
		if x.Status != 200 || !x.Streaming() {
			b.Fatalf("status %d, streaming %v", x.Status, x.Streaming())
		}
		x.Relay(w)
		x.Done()
		if x.Usage.Out != 18 {
			b.Fatalf("completion tokens %d, want 18", x.Usage.Out)
		}
	}
}
