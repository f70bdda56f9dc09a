package usage

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestScanJSON(t *testing.T) {
	cases := []struct {
		name    string
		f       *Format
		body    string
		in, out int64
	}{
		{"openai chat", OpenAI, `{"id":"x","usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}`, 12, 7},
		{"openai responses", OpenAI, `{"object":"response","usage":{"input_tokens":5,"output_tokens":9}}`, 5, 9},
		{"openai embeddings", OpenAI, `{"object":"list","usage":{"prompt_tokens":8,"total_tokens":8}}`, 8, 0},
		{"anthropic", Anthropic, `{"type":"message","usage":{"input_tokens":25,"output_tokens":11}}`, 25, 11},
		{"google", Google, `{"candidates":[],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":6}}`, 4, 6},
		{"cohere v2", Cohere, `{"usage":{"billed_units":{"input_tokens":3,"output_tokens":2}}}`, 3, 2},
		{"bedrock converse", Bedrock, `{"usage":{"inputTokens":30,"outputTokens":40}}`, 30, 40},
		{"no usage", OpenAI, `{"error":{"message":"bad"}}`, 0, 0},
		{"format none", None, `{"usage":{"prompt_tokens":1}}`, 0, 0},
		{"not json", OpenAI, `usage garbage {{{`, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Counter{Format: tc.f}
			c.ScanJSON([]byte(tc.body))
			if c.In != tc.in || c.Out != tc.out {
				t.Fatalf("got %d/%d want %d/%d", c.In, c.Out, tc.in, tc.out)
			}
		})
	}
}

func TestStreamAnySplit(t *testing.T) {
	cases := []struct {
		name    string
		f       *Format
		stream  string
		in, out int64
	}{
		{"openai include_usage", OpenAI,
			"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n", 10, 3},
		{"openai responses", OpenAI,
			"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":4,\"output_tokens\":2}}}\n\n", 4, 2},
		{"anthropic", Anthropic,
			"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"usage\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\n", 25, 15},
		{"google", Google,
			"data: {\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":1}}\r\n\r\ndata: {\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":8}}", 3, 8},
	}
	for _, tc := range cases {
		for split := 1; split <= len(tc.stream); split += 7 {
			c := Counter{Format: tc.f}
			s := tc.stream
			for len(s) > 0 {
				n := min(split, len(s))
				c.Write([]byte(s[:n]))
				s = s[n:]
			}
			c.Close()
			if c.In != tc.in || c.Out != tc.out {
				t.Fatalf("%s split %d: got %d/%d want %d/%d", tc.name, split, c.In, c.Out, tc.in, tc.out)
			}
		}
	}
}

func BenchmarkStreamChunk(b *testing.B) {
	chunk := []byte("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hello there\"}}]}\n\n")
	c := Counter{Format: OpenAI}
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		c.Write(chunk)
	}
}

func TestKeyHoldsObject(t *testing.T) {
	cases := []struct {
		doc, key string
		want     bool
	}{
		{`{"usage":{"prompt_tokens":3}}`, "usage", true},
		{`{"usage" : 	{"prompt_tokens":3}}`, "usage", true},
		{`{"usage":null}`, "usage", false},
		{`{"x":"usage"}`, "usage", false},
		{`{"my_usage":{"a":1}}`, "usage", false},
		{`{"usageMetadata":{"promptTokenCount":2}}`, "usage", false},
		{`{"usageMetadata":{"promptTokenCount":2}}`, "usageMetadata", true},
		{`{"message":{"usage":{"input_tokens":1}}}`, "message", true},
		{`{"usage":null,"response":{"usage":{"input_tokens":5}}}`, "response", true},
		{`"usage"`, "usage", false},
		{``, "usage", false},
	}
	for _, tc := range cases {
		if got := keyHoldsObject(tc.doc, tc.key); got != tc.want {
			t.Errorf("keyHoldsObject(%s, %s) = %v, want %v", tc.doc, tc.key, got, tc.want)
		}
	}
}

// FuzzScanAgreesWithGJSON: skipping paths with a key on the way (first, or nested) that
// holds no object never changes the counts a plain lookup of every path finds.
func FuzzScanAgreesWithGJSON(f *testing.F) {
	f.Add([]byte(`{"usage":{"prompt_tokens":3,"completion_tokens":4}}`))
	f.Add([]byte(`{"usage":null,"choices":[]}`))
	f.Add([]byte(`{"response":{"usage":{"input_tokens":5,"output_tokens":6}}}`))
	// The usage object is walked to once and read twice; a repeated key, or one that holds
	// null first and an object later, is read the way gjson reads the whole path.
	f.Add([]byte(`{"usage":{"x":1},"usage":{"prompt_tokens":3}}`))
	f.Add([]byte(`{"usage":null,"usage":{"prompt_tokens":3,"completion_tokens":4}}`))
	f.Add([]byte(`{"a":{"usage":{"prompt_tokens":2}},"usage":{"completion_tokens":3}}`))
	f.Add([]byte(`{"a":{"usage":{"prompt_tokens":2}}}`))
	f.Add([]byte(`{"response":{"usage":null},"usage":null}`))
	f.Add([]byte(`{"meta":{"billed_units":{"input_tokens":3,"output_tokens":4}},"usage":null}`))
	f.Add([]byte(`{"delta":{"usage":{"billed_units":{"input_tokens":7}}}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if !gjson.ValidBytes(doc) {
			return // gjson reads malformed JSON leniently ({"usage"{"prompt_tokens"1); providers send JSON
		}
		for _, fm := range []*Format{OpenAI, Anthropic, Google, Cohere, Bedrock} {
			c := Counter{Format: fm}
			c.scan(doc)
			want := func(paths []string) int64 {
				for _, p := range paths {
					if r := gjson.GetBytes(doc, p); r.Exists() && r.Int() > 0 {
						return r.Int()
					}
				}
				return 0
			}
			if w := want(fm.In); w > 0 && c.In != w {
				t.Fatalf("%s in: %d, gjson %d (%s)", fm.Name, c.In, w, doc)
			}
			if w := want(fm.Out); w > 0 && c.Out != w {
				t.Fatalf("%s out: %d, gjson %d (%s)", fm.Name, c.Out, w, doc)
			}
		}
	})
}

// BenchmarkStreamChunks: a 20-chunk OpenAI stream, usage on the last chunk only.
func BenchmarkStreamChunks(b *testing.B) {
	var sb strings.Builder
	for i := range 19 {
		fmt.Fprintf(&sb, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word %d \"},\"finish_reason\":null}],\"usage\":null}\n\n", i)
	}
	sb.WriteString("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":20,\"total_tokens\":39}}\n\ndata: [DONE]\n\n")
	stream := []byte(sb.String())
	benchCounts(b, func(c *Counter) { c.Write(stream) }, 19, 20)
}

// benchCounts feeds a fresh OpenAI counter once per iteration and checks its counts.
func benchCounts(b *testing.B, feed func(c *Counter), in, out int64) {
	b.ReportAllocs()
	c := new(Counter) // one counter, reset each time: the figures are the counting's own
	for b.Loop() {
		*c = Counter{Format: OpenAI}
		feed(c)
		if c.In != in || c.Out != out {
			b.Fatal(c.In, c.Out)
		}
	}
}

// A stream of a known kind that closes without its final event is cut; complete streams,
// streams of no known kind and in-band errors are not.
func TestCut(t *testing.T) {
	chunk := "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
	cases := []struct {
		name   string
		f      *Format
		stream string
		cut    bool
	}{
		{"openai complete", OpenAI, chunk + chunk + "data: [DONE]\n\n", false},
		{"openai cut on an event boundary", OpenAI, chunk + chunk, true},
		{"openai cut mid-line", OpenAI, chunk + "data: {\"object\":\"chat.co", true},
		{"openai [DONE] without newline", OpenAI, chunk + "data: [DONE]", false},
		{"responses complete", OpenAI, "event: response.created\ndata: {\"type\":\"response.created\"}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\"}\n\n", false},
		{"responses cut", OpenAI, "event: response.created\ndata: {\"type\":\"response.created\"}\n\nevent: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\"}\n\n", true},
		{"unknown kind", OpenAI, "data: {\"response\":\"hi\"}\n\n", false},
		{"anthropic complete", Anthropic, "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", false},
		{"anthropic error event", Anthropic, "event: message_start\ndata: {}\n\nevent: error\ndata: {\"type\":\"error\"}\n\n", false},
		{"anthropic cut", Anthropic, "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: content_block_delta\ndata: {}\n\n", true},
		{"gemini complete", Google, "data: {\"candidates\":[{\"content\":{}}]}\n\ndata: {\"candidates\":[{\"finishReason\":\"STOP\"}]}\n\n", false},
		{"gemini cut", Google, "data: {\"candidates\":[{\"content\":{}}]}\n\n", true},
		{"cohere cut", Cohere, "event: message-start\ndata: {\"type\":\"message-start\"}\n\n", true},
		{"no endings", None, chunk, false},
	}
	for _, tc := range cases {
		for split := 1; split <= len(tc.stream); split += 5 {
			c := Counter{Format: tc.f}
			for s := tc.stream; len(s) > 0; {
				n := min(split, len(s))
				c.Write([]byte(s[:n]))
				s = s[n:]
			}
			c.Close()
			if c.Cut() != tc.cut {
				t.Fatalf("%s split %d: Cut() = %v", tc.name, split, c.Cut())
			}
		}
	}
}

// BenchmarkScanJSON: a whole OpenAI chat answer (the bench's 586-byte shape), usage last.
func BenchmarkScanJSON(b *testing.B) {
	body := []byte(`{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_06737a9306"}`)
	b.SetBytes(int64(len(body)))
	benchCounts(b, func(c *Counter) { c.ScanJSON(body) }, 19, 10)
}
