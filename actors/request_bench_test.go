// request_bench_test.go measures one provider pass-through request through its request
// actor: the dispatch, the upstream call to a loopback server answering a ~600-byte chat
// completion, the relay, the request.finished event encoded and handed to a publisher that
// drops it. Allocations per request are the figure to watch (issue 15: at most 60).
package actors

import (
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/engine/upstream"
)

var benchAnswer = `{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1735689600,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"` +
	strings.Repeat("Road freight is moved through the gateway. ", 7) + `","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29},"system_fingerprint":"fp_0"}`

var benchRequest = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("Tell me a story about a gateway. ", 16) + `"}]}`)

func BenchmarkRequestActor(b *testing.B) {
	base := upstreamAnswering(b, benchAnswer)
	s := New(Options{
		Forwarder:     &engine.Forwarder{Client: upstream.New(upstream.Options{}), CaptureMax: 4 << 20, SmallBody: 64 << 10},
		Events:        dropPublisher{},
		InlinePayload: 32 << 10,
	})
	defer s.Shutdown()
	a, _ := providers.Lookup("openai")
	p := &providers.Resolved{Adapter: a, Base: base}
	b.ReportAllocs()
	for b.Loop() {
		req := &engine.Request{LogID: "01JTESTLOG0000000000000000", EventID: "01JTESTEVT0000000000000000", AccountID: "acct", GatewayID: "gw",
			Target: engine.Target{Provider: p, Slug: "openai", Rest: "/chat/completions"}, Method: "POST",
			Body: benchRequest, BodySize: int64(len(benchRequest)), CType: "application/json", ReceivedAt: time.Now()}
		x := s.Dispatch(req)
		if x.Status != 200 {
			b.Fatalf("status %d", x.Status)
		}
		relay(x)
	}
}
