// payloads.go holds the bodies the bench sends and the mock answers with: an OpenAI chat
// request padded to a chosen size, a ~600-byte chat.completion, and the SSE chunks of a
// streamed completion.
package main

import (
	"fmt"
	"strings"
)

// chatRequest returns an OpenAI chat request of about size bytes (never less than the
// fixed fields need). The streaming variant asks for usage in the final chunk, and keeps
// the compact `"stream":true` spelling the mock looks for.
func chatRequest(size int, stream bool) []byte {
	head := `{"model":"` + benchModel + `","messages":[{"role":"system","content":"You are a concise assistant for a logistics company. Answer in plain English."},{"role":"user","content":"`
	tail := `"}],"temperature":0.2,"max_tokens":256,"user":"bench-user-0001"`
	if stream {
		tail += `,"stream":true,"stream_options":{"include_usage":true}`
	}
	tail += "}"
	const filler = "Summarise the trade-offs between rail and road freight for a 400 km route with perishable goods, weekly volume of twelve pallets, and a strict delivery window. "
	n := size - len(head) - len(tail)
	if n < 16 {
		n = 16
	}
	fill := strings.Repeat(filler, n/len(filler)+1)[:n]
	return []byte(head + fill + tail)
}

// chatCompletion is the mock's non-streaming answer (about 600 bytes).
var chatCompletion = []byte(`{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1735689600,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Road freight usually wins: refrigerated trucks meet tight windows.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":118,"completion_tokens":12,"total_tokens":130,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}},"service_tier":"default","system_fingerprint":"fp_b376dfbbd5"}`)

// streamEvents returns the SSE events of a streamed completion: n chat.completion.chunk
// events (the first carries the role, the one before last the finish reason, the last
// only the usage, as OpenAI sends with include_usage), then the [DONE] sentinel.
func streamEvents(n int) [][]byte {
	if n < 2 {
		n = 2
	}
	const pre = `data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1735689600,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_b376dfbbd5",`
	words := strings.Fields("Road freight usually wins for twelve perishable pallets a week over four hundred kilometres because refrigerated trucks meet tight windows")
	events := make([][]byte, 0, n+1)
	for i := 0; i < n-1; i++ {
		delta := `{"role":"assistant","content":"","refusal":null}`
		if i > 0 {
			delta = fmt.Sprintf(`{"content":" %s"}`, words[(i-1)%len(words)])
		}
		finish := "null"
		if i == n-2 {
			finish = `"stop"`
		}
		events = append(events, fmt.Appendf(nil, `%s"choices":[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}],"usage":null}`+"\n\n", pre, delta, finish))
	}
	events = append(events, []byte(pre+`"choices":[],"usage":{"prompt_tokens":118,"completion_tokens":`+fmt.Sprint(n-2)+`,"total_tokens":`+fmt.Sprint(118+n-2)+`}}`+"\n\n"))
	events = append(events, []byte("data: [DONE]\n\n"))
	return events
}

// compatPrefix is the unified API of the benchmark's gateway.
const compatPrefix = "/v1/acct/gw/compat"

// compatBody is a chat request for the unified API: the model gets its provider prefix.
func compatBody(b []byte) []byte { return withModel(b, "openai/"+benchModel) }

// benchModel is the model of every chat request the bench sends.
const benchModel = "gpt-4o-mini"

// withModel is the chat request b asking for model instead (e.g. dynamic/<route>).
func withModel(b []byte, model string) []byte {
	return []byte(strings.Replace(string(b), `"model":"`+benchModel+`"`, `"model":"`+model+`"`, 1))
}

// universalBody is the same chat request as one universal-endpoint step.
func universalBody(b []byte) []byte {
	return []byte(`[{"provider":"openai","endpoint":"chat/completions","headers":{"Authorization":"Bearer bench","Content-Type":"application/json"},"query":` + string(b) + `}]`)
}
