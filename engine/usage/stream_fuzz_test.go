// stream_fuzz_test.go fuzzes the SSE reader of upstream streams (Counter.Write): token
// counts and the cut-stream verdict never depend on how the bytes were split. Fuzz with
// go test ./engine/usage -run '^$' -fuzz '^FuzzCounterSplit$' -parallel 1.
package usage

import "testing"

// FuzzCounterSplit: a stream fed whole and fed in pieces of any size gives the same counts
// and the same Cut verdict; counts are never negative.
func FuzzCounterSplit(f *testing.F) {
	chunk := "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
	for _, s := range []string{
		chunk + chunk + "data: {\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":20}}\n\ndata: [DONE]\n\n",
		chunk + "data: {\"object\":\"chat.co",
		"event: response.created\ndata: {\"type\":\"response.created\"}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":5,\"output_tokens\":6}}}\n\n",
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
		"data: {\"candidates\":[{\"content\":{}}],\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":4}}\r\n\r\ndata: {\"candidates\":[{\"finishReason\":\"STOP\"}]}\r\n\r\n",
		"event: message-start\ndata: {\"type\":\"message-start\"}\n\nevent: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"usage\":{\"billed_units\":{\"input_tokens\":7,\"output_tokens\":8}}}}\n\n",
		"data: {\"usage\":{\"inputTokens\":1,\"outputTokens\":2}}",
		"\n\n\ndata:\ndata:[DONE]",
	} {
		for i := range 6 {
			f.Add([]byte(s), uint8(i), uint8(7))
		}
	}
	formats := []*Format{None, OpenAI, Anthropic, Google, Cohere, Bedrock}
	f.Fuzz(func(t *testing.T, stream []byte, format, split uint8) {
		fm := formats[int(format)%len(formats)]
		whole := Counter{Format: fm}
		whole.Write(stream)
		whole.Close()
		n := int(split)%64 + 1
		parts := Counter{Format: fm}
		for s := stream; len(s) > 0; {
			k := min(n, len(s))
			if w, err := parts.Write(s[:k]); w != k || err != nil {
				t.Fatalf("Write took %d of %d: %v", w, k, err)
			}
			s = s[k:]
		}
		parts.Close()
		if whole.In != parts.In || whole.Out != parts.Out || whole.Cut() != parts.Cut() {
			t.Fatalf("%s split %d: whole in=%d out=%d cut=%v, pieces in=%d out=%d cut=%v", fm.Name, n,
				whole.In, whole.Out, whole.Cut(), parts.In, parts.Out, parts.Cut())
		}
		if whole.In < 0 || whole.Out < 0 {
			t.Fatalf("negative counts %d %d", whole.In, whole.Out)
		}
	})
}
