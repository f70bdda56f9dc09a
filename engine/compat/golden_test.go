// golden_test.go checks each translation against fixtures written from the providers'
// documented wire formats: the native request built from one OpenAI conversation, a
// native answer and a native stream translated back. Run with -update to rewrite the
// *.golden files after a deliberate change, then read the diff.
package compat

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/tidwall/sjson"
)

var update = flag.Bool("update", false, "rewrite golden files")

// conversation is the OpenAI request every golden case starts from: system and developer
// messages, multi-part user content with a base64 image, parallel tool calls and their
// results, and a follow-up question.
const conversation = `{
  "messages": [
    {"role": "system", "content": "You are a weather bot."},
    {"role": "developer", "content": [{"type": "text", "text": "Answer in one sentence."}]},
    {"role": "user", "content": [
      {"type": "text", "text": "Weather in Paris and Tokyo? Here is a map."},
      {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    ]},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}},
      {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Tokyo\"}"}}
    ]},
    {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
    {"role": "tool", "tool_call_id": "call_2", "content": "22C, rain"},
    {"role": "user", "content": "And tomorrow?"}
  ],
  "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}]
}`

type goldenCase struct {
	dir, model string
	params     string // extra top-level parameters, merged into the conversation
	key        string
	stream     func(t *testing.T, dir string) []byte
}

var goldenCases = []goldenCase{
	{dir: "anthropic", model: "anthropic/claude-sonnet-4-5", key: "sk-ant-test",
		params: `{"temperature":0.2,"top_p":0.9,"max_completion_tokens":256,"stop":["END"],"user":"u-1","parallel_tool_calls":false,
			"tool_choice":"required","response_format":{"type":"json_schema","json_schema":{"name":"w","schema":{"type":"object"}}}}`},
	{dir: "gemini", model: "google-ai-studio/gemini-2.5-flash", key: "AIza-test",
		params: `{"temperature":0.2,"top_p":0.9,"max_tokens":256,"stop":"END","seed":7,"n":2,"presence_penalty":0.5,
			"tool_choice":{"type":"function","function":{"name":"get_weather"}},"response_format":{"type":"json_object"}}`},
	{dir: "vertex", model: "google-vertex-ai/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-pro", key: "ya29.direct",
		params: `{"max_tokens":64,"tool_choice":"none","response_format":{"type":"json_schema","json_schema":{"name":"w","schema":{"type":"object"}}}}`},
	{dir: "cohere", model: "cohere/command-a-03-2025", key: "co-test",
		params: `{"temperature":0.3,"top_p":0.8,"max_tokens":100,"stop":["END"],"seed":3,"frequency_penalty":0.1,"tool_choice":"required",
			"response_format":{"type":"json_schema","json_schema":{"name":"w","schema":{"type":"object"}}}}`},
	{dir: "bedrock", model: "aws-bedrock/anthropic.claude-3-5-haiku-20241022-v1:0", key: "ABSKbedrockapikey",
		params: `{"temperature":0.5,"top_p":1,"max_tokens":512,"stop":["END"],"tool_choice":"auto"}`, stream: bedrockFixtureStream},
	{dir: "openai", model: "groq/llama-3.3-70b-versatile", key: "gsk-test",
		params: `{"temperature":0.5,"seed":9,"logprobs":true,"tool_choice":"auto"}`},
}

func goldenRequest(t *testing.T, tc goldenCase, stream bool) []byte {
	t.Helper()
	body := []byte(conversation)
	var extra map[string]json.RawMessage
	if err := json.Unmarshal([]byte(tc.params), &extra); err != nil {
		t.Fatalf("params: %v", err)
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a fixed order: the passthrough body keeps the client's field order
	var err error
	for _, k := range keys {
		if body, err = sjson.SetRawBytes(body, k, extra[k]); err != nil {
			t.Fatal(err)
		}
	}
	body, _ = sjson.SetBytes(body, "model", tc.model)
	if stream {
		body, _ = sjson.SetBytes(body, "stream", true)
		body, _ = sjson.SetRawBytes(body, "stream_options", []byte(`{"include_usage":true}`))
	}
	return body
}

func buildCall(t *testing.T, body []byte, key string) *Call {
	t.Helper()
	plan, perr := Parse(body)
	if perr != nil {
		t.Fatalf("Parse: %v", perr)
	}
	c, perr := plan.Build(Credential{Key: key}, nil)
	if perr != nil {
		t.Fatalf("Build: %v", perr)
	}
	c.ID, c.Created = "chatcmpl-test", 1700000000
	return c
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.dir, func(t *testing.T) {
			dir := filepath.Join("testdata", tc.dir)
			c := buildCall(t, goldenRequest(t, tc, false), tc.key)
			headers := map[string]string{}
			for _, h := range c.Headers {
				headers[h.Key] = h.Value
			}
			native := map[string]any{"path": c.Rest, "query": c.Query, "headers": headers, "body": json.RawMessage(c.Body)}
			checkGolden(t, filepath.Join(dir, "request.golden.json"), pretty(t, native))

			resp, u, err := c.Response(read(t, filepath.Join(dir, "response.native.json")))
			if err != nil {
				t.Fatalf("Response: %v", err)
			}
			if u == nil || u.PromptTokens == 0 || u.Estimated {
				t.Errorf("usage = %+v, want the provider's counts", u)
			}
			checkGolden(t, filepath.Join(dir, "response.golden.json"), pretty(t, json.RawMessage(resp)))

			sc := buildCall(t, goldenRequest(t, tc, true), tc.key)
			var native2 []byte
			if tc.stream != nil {
				native2 = tc.stream(t, dir)
			} else {
				native2 = read(t, filepath.Join(dir, "stream.native.txt"))
			}
			// Feed the stream in awkward pieces: translation must not depend on the split.
			s := sc.NewStream()
			var out []byte
			for len(native2) > 0 {
				n := min(7, len(native2))
				out = append(out, s.Feed(native2[:n])...)
				native2 = native2[n:]
			}
			if !s.Complete() {
				t.Errorf("a whole native stream was judged cut")
			}
			out = append(out, s.Close()...)
			checkGolden(t, filepath.Join(dir, "stream.golden.txt"), out)
			if tc.stream == nil { // an SSE fixture: without its last event the answer was cut
				full := bytes.TrimRight(read(t, filepath.Join(dir, "stream.native.txt")), "\r\n")
				cut := sc.NewStream()
				end := max(bytes.LastIndex(full, []byte("\n\n")), bytes.LastIndex(full, []byte("\n\r\n")))
				cut.Feed(full[:end+2])
				if cut.Complete() {
					t.Errorf("a stream without its last event was judged complete")
				}
			}
			if s.Usage() == nil || s.Usage().PromptTokens == 0 || s.Usage().Estimated {
				t.Errorf("stream usage = %+v, want the provider's counts", s.Usage())
			}
		})
	}
}

// bedrockFixtureStream encodes the JSON event list as AWS event-stream messages.
func bedrockFixtureStream(t *testing.T, dir string) []byte {
	var evs []struct {
		Event   string          `json:"event"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(read(t, filepath.Join(dir, "stream.native.json")), &evs); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	for _, e := range evs {
		msg := eventstream.Message{Payload: e.Payload}
		msg.Headers.Set(":event-type", eventstream.StringValue(e.Event))
		msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		msg.Headers.Set(":message-type", eventstream.StringValue("event"))
		if err := enc.Encode(&buf, msg); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pretty(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./engine/compat -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, strings.TrimSpace(string(want)))
	}
}
