// msg_bench_test.go measures what a projection pays to read a stored message of
// request.finished events: split, envelopes and the bodiless decode (Msg.Predecode).
package events

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/klauspost/compress/s2"
)

// benchFinished is a request.finished as the gateway writes it for the bench's OpenAI
// request (about 600 bytes) and answer (about 600 bytes).
func benchFinished(i int) RequestFinished {
	req := `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a concise assistant."},{"role":"user","content":"` +
		strings.Repeat("Summarise the trade-offs between rail and road freight. ", 8) + `"}],"temperature":0.2,"max_tokens":256}`
	resp := `{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1735689600,"model":"gpt-4o-mini-2024-07-18",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"Road freight usually wins: refrigerated trucks meet tight windows.","refusal":null,"annotations":[]},` +
		`"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":118,"completion_tokens":12,"total_tokens":130,` +
		`"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}},` +
		`"service_tier":"default","system_fingerprint":"fp_b376dfbbd5"}`
	cost := 0.000123
	return RequestFinished{
		LogID: fmt.Sprintf("01KBX%021d", i), EventID: "", AccountID: "acct", GatewayID: "bench", Provider: "openai",
		Model: "gpt-4o-mini", Method: "POST", Path: "/chat/completions", RequestType: "chat", Status: 200, Success: true,
		StartedAt: time.Date(2026, 12, 7, 1, 0, 0, i, time.UTC), DurationMs: 1.25, TTFBMs: 1.1, TokensIn: 118, TokensOut: 12,
		RequestSize: int64(len(req)), ResponseSize: int64(len(resp)), RequestCType: "application/json", ResponseCType: "application/json",
		RequestPayload: InlinePayload([]byte(req), int64(len(req)), false), ResponsePayload: InlinePayload([]byte(resp), int64(len(resp)), false),
		Cost: &cost, BodiesLast: true, // as the gateway writes it (actors/request.go)
	}
}

// benchMessage is one stored message of n request.finished events, as the batcher
// writes it (newline-separated envelopes, S2-compressed).
func benchMessage(b testing.TB, n int) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range n {
		if i > 0 {
			buf.WriteByte('\n')
		}
		f := benchFinished(i)
		if err := AppendEncoded(&buf, enc, TypeRequestFinished, VersionRequestFinished, f.LogID+".request.finished", f.StartedAt, f); err != nil {
			b.Fatal(err)
		}
	}
	return append([]byte(compressedMagic), s2.Encode(nil, buf.Bytes())...)
}

// BenchmarkReadFinished: one message of 16 events split and read as the projections read
// it (envelope, then the event without its bodies); ns/op is per event.
func BenchmarkReadFinished(b *testing.B) {
	data := benchMessage(b, 16)
	batch := make([]Msg, 0, 16)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 16 {
		batch = Expand(batch[:0], 1, data)
		for _, m := range batch {
			m.Predecode()
			if f, err := m.Finished(); err != nil || f.TokensIn != 118 {
				b.Fatalf("%+v %v", f, err)
			}
		}
	}
}

// BenchmarkReadFinishedArena is BenchmarkReadFinished as the consumer reads: into an
// Arena reused from batch to batch.
func BenchmarkReadFinishedArena(b *testing.B) {
	data := benchMessage(b, 16)
	batch := make([]Msg, 0, 16)
	var a Arena
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 16 {
		a.Reset()
		batch = a.Expand(batch[:0], 1, data)
		for _, m := range batch {
			m.Predecode()
			if f, err := m.Finished(); err != nil || f.TokensIn != 118 {
				b.Fatalf("%+v %v", f, err)
			}
		}
	}
}

// benchStreamMessage is benchMessage for streamed answers: each event's response is a
// 20-chunk SSE stream of about 4 KB, kept base64 inside the event (about 8 KB an event).
func benchStreamMessage(b testing.TB, first, n int) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := first; i < first+n; i++ {
		if i > first {
			buf.WriteByte('\n')
		}
		f := benchFinished(i)
		var sse []byte
		for c := range 20 {
			sse = fmt.Appendf(sse, `data: {"id":"chatcmpl-%08d","object":"chat.completion.chunk","created":1735689600,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":" word%d"},"finish_reason":null}]}`+"\n\n", i, c)
		}
		f.Stream, f.ResponsePayload = true, InlinePayload(sse, int64(len(sse)), false)
		if err := AppendEncoded(&buf, enc, TypeRequestFinished, VersionRequestFinished, f.LogID+".request.finished", f.StartedAt, f); err != nil {
			b.Fatal(err)
		}
	}
	return append([]byte(compressedMagic), s2.Encode(nil, buf.Bytes())...)
}

// BenchmarkExpandStreamBatches: the consumer's batches of streamed answers, 24 messages of
// 16 events (about 3 MB decompressed) a batch, expanded into one Arena reused from batch to
// batch and read as the projections read them; ns/op and B/op are per event.
func BenchmarkExpandStreamBatches(b *testing.B) {
	const msgs, per = 24, 16
	var data [][]byte
	for m := range msgs {
		data = append(data, benchStreamMessage(b, m*per, per))
	}
	batch := make([]Msg, 0, msgs*per)
	var a Arena
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += msgs * per {
		a.Reset()
		batch = batch[:0]
		for m, d := range data {
			batch = a.Expand(batch, uint64(m+1), d)
		}
		for _, m := range batch {
			if f, err := m.Finished(); err != nil || !f.Stream {
				b.Fatalf("%+v %v", f, err)
			}
		}
	}
}
