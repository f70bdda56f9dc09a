// translate_fuzz_test.go fuzzes the unified API's translators: a client's OpenAI request
// into each provider's native request, and each provider's answer (whole, error, SSE
// stream, Bedrock's AWS event-stream) back into OpenAI's shapes. Seeds are the golden
// fixtures in testdata/. Fuzz one with
// go test ./engine/compat -run '^$' -fuzz '^FuzzStreamTranslate$' -parallel 1.
package compat

import (
	"bytes"
	stdjson "encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/tidwall/sjson"
)

// fuzzTargets are one model (and a key it accepts) per native API family.
var fuzzTargets = []struct{ dir, model, key string }{
	{"openai", "groq/llama-3.3-70b-versatile", "gsk-test"},
	{"anthropic", "anthropic/claude-sonnet-4-5", "sk-ant-test"},
	{"gemini", "google-ai-studio/gemini-2.5-flash", "AIza-test"},
	{"vertex", "google-vertex-ai/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-pro", "ya29.direct"},
	{"cohere", "cohere/command-a-03-2025", "co-test"},
	{"bedrock", "aws-bedrock/anthropic.claude-3-5-haiku-20241022-v1:0", "ABSKbedrockapikey"},
	{"azure", "azure-openai/res/dep", "azure-key"},
}

// fuzzCall builds a call of family i (stream or not) with fixed ids.
func fuzzCall(t testing.TB, i int, stream bool) *Call {
	ft := fuzzTargets[i%len(fuzzTargets)]
	body := []byte(`{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}`)
	body, _ = sjson.SetBytes(body, "model", ft.model)
	if stream {
		body, _ = sjson.SetBytes(body, "stream", true)
		body, _ = sjson.SetRawBytes(body, "stream_options", []byte(`{"include_usage":true}`))
	}
	plan, perr := Parse(body)
	if perr != nil {
		t.Fatalf("Parse: %v", perr)
	}
	c, perr := plan.Build(Credential{Key: ft.key}, nil)
	if perr != nil {
		t.Fatalf("Build: %v", perr)
	}
	c.ID, c.Created = "chatcmpl-fuzz", 1700000000
	return c
}

// checkClientError: a refusal is a 4xx OpenAI error whose JSON is valid.
func checkClientError(t *testing.T, what string, e *Error) {
	if e.Status < 400 || e.Status >= 500 || e.Type == "" || e.Message == "" || !stdjson.Valid(e.JSON()) {
		t.Fatalf("%s: refusal %+v (%s)", what, e, e.JSON())
	}
}

// FuzzRequestTranslate: an OpenAI request is refused with a 4xx OpenAI error, or becomes
// a native request whose body is JSON, whose path is a path, and whose headers cannot
// carry a line break; the same request retargeted to every family does the same.
func FuzzRequestTranslate(f *testing.F) {
	f.Add([]byte(conversation), uint8(0))
	for i, tc := range goldenCases {
		f.Add([]byte(tc.params), uint8(i))
	}
	for _, s := range []string{
		`{"model":"openai/gpt-5-mini","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`,
		`{"model":"anthropic/claude-sonnet-4-5","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}],"max_tokens":10}`,
		`{"model":"google/gemini-2.5-pro","messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"w","schema":{"type":"object"}}}}`,
		`{"model":"aws-bedrock/us-west-2/anthropic.claude-3-5-haiku-20241022-v1:0","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"x"}]}`,
		`{"model":"custom-acme/m","messages":[]}`, `{"model":"dynamic/support","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"acme/x","messages":[{"role":"user","content":"hi"}]}`, `{"model":"openai/","messages":null}`, `[]`, ``,
		`{"model":"cohere/command-a","messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"function","function":{"name":"f"}},"n":3}`,
		`{"model":"google-vertex-ai/projects/p/locations/us-central1/publishers/google/models/g?x=1#f\r\n","messages":[{"role":"user","content":"hi"}]}`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	upstreams := providers.NewTable(func(string) string { return "" })
	f.Fuzz(func(t *testing.T, body []byte, retarget uint8) {
		if !bytes.Contains(body, []byte(`"model"`)) { // the golden params carry no model or messages
			body, _ = sjson.SetRawBytes(body, "messages", []byte(`[{"role":"user","content":"hi"}]`))
			body, _ = sjson.SetBytes(body, "model", fuzzTargets[int(retarget)%len(fuzzTargets)].model)
		}
		plan, perr := Parse(body)
		if perr != nil {
			checkClientError(t, "Parse", perr)
			return
		}
		plans := []*Plan{plan}
		for _, ft := range fuzzTargets {
			prefix, model, _ := strings.Cut(ft.model, "/")
			if q, err := plan.Retarget(prefix, model); err == nil {
				plans = append(plans, q)
			} else {
				checkClientError(t, "Retarget", err)
			}
		}
		for _, p := range plans {
			if p.Dynamic() {
				continue
			}
			key := "sk-fuzz"
			for _, ft := range fuzzTargets {
				if strings.HasPrefix(ft.model, p.Prefix+"/") {
					key = ft.key
				}
			}
			c, err := p.Build(Credential{Key: key}, nil)
			if err != nil {
				checkClientError(t, "Build "+p.Prefix, err)
				continue
			}
			if !stdjson.Valid(c.Body) {
				t.Fatalf("%s: native body is not JSON: %s", p.Prefix, c.Body)
			}
			if !strings.HasPrefix(c.Rest, "/") {
				t.Fatalf("%s: native path %q", p.Prefix, c.Rest)
			}
			// the upstream URL the provider endpoint builds from Rest and Query keeps them:
			// nothing in the client's model string adds a query, a fragment or a line
			if r := upstreams[c.Provider]; r != nil {
				if full, _, err := r.URL("acc123", c.Rest); err == nil {
					u, err := url.Parse(full + "?" + c.Query)
					if err != nil || u.Fragment != "" || u.RawQuery != c.Query {
						t.Fatalf("%s: native path %q query %q make the URL %q (%v)", p.Prefix, c.Rest, c.Query, full, err)
					}
				}
			}
			for _, h := range c.Headers {
				if strings.ContainsAny(h.Key+h.Value, "\r\n\x00") {
					t.Fatalf("%s: header %q: %q", p.Prefix, h.Key, h.Value)
				}
			}
		}
	})
}

// FuzzResponseTranslate: a native 2xx answer becomes an OpenAI chat.completion (JSON) or
// a 502 bad_upstream_response; a native error answer always becomes OpenAI error JSON.
func FuzzResponseTranslate(f *testing.F) {
	for i, ft := range fuzzTargets {
		if b, err := os.ReadFile(filepath.Join("testdata", ft.dir, "response.native.json")); err == nil {
			f.Add(b, uint8(i), uint16(200))
		}
	}
	f.Add([]byte(`{"error":{"message":"bad key","type":"invalid_request_error","code":"invalid_api_key"}}`), uint8(0), uint16(401))
	f.Add([]byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`), uint8(1), uint16(529))
	f.Add([]byte(`{"error":{"code":400,"message":"x","status":"INVALID_ARGUMENT"}}`), uint8(2), uint16(400))
	f.Add([]byte(`{"message":"throttled"}`), uint8(5), uint16(429))
	f.Add([]byte(`<html>502</html>`), uint8(4), uint16(502))
	calls := make([]*Call, len(fuzzTargets))
	for i := range fuzzTargets {
		calls[i] = fuzzCall(f, i, false)
	}
	f.Fuzz(func(t *testing.T, body []byte, family uint8, status uint16) {
		c := calls[int(family)%len(calls)]
		out, u, err := c.Response(body)
		switch {
		case err != nil:
			if err.Status != 502 || err.Code != "bad_upstream_response" || !stdjson.Valid(err.JSON()) {
				t.Fatalf("%s: refusal %+v", c.Provider, err)
			}
		case bytes.Equal(out, body):
			// an OpenAI-like provider's answer, relayed byte for byte
		default:
			var comp struct {
				Object  string
				Choices []stdjson.RawMessage
			}
			if e := stdjson.Unmarshal(out, &comp); e != nil || comp.Object != "chat.completion" {
				t.Fatalf("%s: answer %q is not a chat.completion: %v", c.Provider, out, e)
			}
			if u == nil {
				t.Fatalf("%s: no usage", c.Provider)
			}
		}
		st := int(status)%500 + 100
		if e := c.Error(st, body); !stdjson.Valid(e) {
			t.Fatalf("%s: error answer for %d is not JSON: %s", c.Provider, st, e)
		}
	})
}

// checkSSE: out is OpenAI chunk SSE: "data: {json}\n\n" events, the last one [DONE] and
// only that one.
func checkSSE(t *testing.T, c *Call, out []byte) {
	provider := c.Provider
	_, relayed := c.tr.(passthrough) // OpenAI-like: the provider's own chunks, relayed
	if !bytes.HasSuffix(out, []byte("data: [DONE]\n\n")) {
		t.Fatalf("%s: stream does not end with [DONE]: %q", provider, out)
	}
	events := bytes.Split(bytes.TrimSuffix(out, []byte("\n\n")), []byte("\n\n"))
	for i, ev := range events {
		d, ok := bytes.CutPrefix(ev, []byte("data: "))
		if !ok || bytes.IndexByte(d, '\n') >= 0 {
			t.Fatalf("%s: event %d is not one data line: %q", provider, i, ev)
		}
		if i == len(events)-1 {
			break
		}
		var ch struct {
			Object string
			Error  stdjson.RawMessage
		}
		if relayed {
			if !stdjson.Valid(d) {
				t.Fatalf("%s: relayed event %d is not JSON: %q", provider, i, d)
			}
			continue
		}
		err := stdjson.Unmarshal(d, &ch)
		if err != nil || (ch.Object != "chat.completion.chunk" && ch.Error == nil) {
			t.Fatalf("%s: event %d is not a chunk or error: %q (%v)", provider, i, d, err)
		}
	}
}

// translate feeds native in pieces of n bytes and returns the client's bytes and the
// completeness verdict.
func translate(c *Call, native []byte, n int) ([]byte, bool) {
	s := c.NewStream()
	var out []byte
	for len(native) > 0 {
		k := min(n, len(native))
		out = append(out, s.Feed(native[:k])...)
		native = native[k:]
	}
	complete := s.Complete()
	out = append(out, s.Close()...)
	return out, complete
}

// FuzzStreamTranslate: any upstream SSE stream (OpenAI-like, Anthropic, Gemini, Vertex,
// Cohere) translates to well-formed chunk SSE ending in [DONE], the same whatever the
// split of the upstream bytes.
func FuzzStreamTranslate(f *testing.F) {
	for i, ft := range fuzzTargets {
		if b, err := os.ReadFile(filepath.Join("testdata", ft.dir, "stream.native.txt")); err == nil {
			f.Add(b, uint8(i), uint8(7))
			f.Add(b[:len(b)/2], uint8(i), uint8(1))
		}
	}
	f.Add([]byte("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"), uint8(1), uint8(3))
	f.Add([]byte("data: {\"error\":{\"message\":\"boom\"}}\r\n\r\n"), uint8(0), uint8(2))
	calls := make([]*Call, len(fuzzTargets))
	for i := range fuzzTargets {
		calls[i] = fuzzCall(f, i, true)
	}
	f.Fuzz(func(t *testing.T, native []byte, family, split uint8) {
		c := calls[int(family)%len(calls)]
		if c.Provider == "aws-bedrock" {
			c = calls[0]
		}
		whole, wc := translate(c, native, len(native)+1)
		checkSSE(t, c, whole)
		parts, pc := translate(c, native, int(split)%32+1)
		if !bytes.Equal(whole, parts) || wc != pc {
			t.Fatalf("%s: split %d changes the answer (complete %v/%v):\n%s\nvs\n%s", c.Provider, int(split)%32+1, wc, pc, whole, parts)
		}
	})
}

// bedrockFrames encodes "eventType payload" lines as event-stream messages; a line
// starting with "!" is an exception of that type.
func bedrockFrames(t testing.TB, lines string) []byte {
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	for _, l := range strings.Split(lines, "\n") {
		typ, payload, _ := strings.Cut(l, " ")
		msg := eventstream.Message{Payload: []byte(payload)}
		if name, ok := strings.CutPrefix(typ, "!"); ok {
			msg.Headers.Set(":message-type", eventstream.StringValue("exception"))
			msg.Headers.Set(":exception-type", eventstream.StringValue(name))
		} else {
			msg.Headers.Set(":event-type", eventstream.StringValue(typ))
			msg.Headers.Set(":message-type", eventstream.StringValue("event"))
		}
		msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		if err := enc.Encode(&buf, msg); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// FuzzBedrockStream: ConverseStream's AWS event-stream, as well-formed frames of any
// events and as raw bytes after them, translates to well-formed chunk SSE ending in
// [DONE], the same whatever the split.
func FuzzBedrockStream(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "bedrock", "stream.native.json")); err == nil {
		var evs []struct {
			Event   string
			Payload stdjson.RawMessage
		}
		if stdjson.Unmarshal(b, &evs) == nil {
			var lines []string
			for _, e := range evs {
				lines = append(lines, e.Event+" "+string(e.Payload))
			}
			f.Add(strings.Join(lines, "\n"), []byte{}, uint8(7))
			f.Add(strings.Join(lines[:len(lines)/2], "\n"), []byte{0, 0, 0, 16}, uint8(1))
		}
	}
	f.Add(`messageStart {"role":"assistant"}`+"\n"+`!throttlingException {"message":"Too many requests"}`, []byte{}, uint8(5))
	f.Add(`contentBlockDelta {"delta":{"toolUse":{"input":"{}"}},"contentBlockIndex":3}`, []byte{0xff, 0xff, 0xff, 0xff}, uint8(2))
	f.Add(`metadata {"usage":{"inputTokens":-1,"outputTokens":1e99}}`, []byte("\x00\x00\x00\x20\x00\x00\x00\x00garbage"), uint8(9))
	c := fuzzCall(f, 5, true)
	f.Fuzz(func(t *testing.T, lines string, tail []byte, split uint8) {
		native := append(bedrockFrames(t, lines), tail...)
		whole, wc := translate(c, native, len(native)+1)
		checkSSE(t, c, whole)
		parts, pc := translate(c, native, int(split)%64+1)
		if !bytes.Equal(whole, parts) || wc != pc {
			t.Fatalf("split %d changes the answer (complete %v/%v):\n%s\nvs\n%s", int(split)%64+1, wc, pc, whole, parts)
		}
	})
}
