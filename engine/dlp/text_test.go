// text_test.go: tests of Text over JSON, SSE streams of several providers, NDJSON, multipart,
// plain text, binary and base64 payloads.
package dlp

import (
	"bytes"
	"strings"
	"testing"
)

func TestTextJSON(t *testing.T) {
	body := `{"model":"gpt-4o","temperature":0.2,"messages":[{"role":"user","content":"my card is 4111\u0020111111111111 \"ok\""},
	{"role":"assistant","tool_calls":[{"id":"call_1","function":{"name":"pay","arguments":"{\"iban\":\"DE89370400440532013000\"}"}}]},
	{"role":"tool","content":[{"type":"text","text":"done \ud83d\ude00"}]},
	{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="}}]}]}`
	got := string(Text([]byte(body), "application/json; charset=utf-8"))
	for _, want := range []string{"gpt-4o\n", "my card is 4111 111111111111 \"ok\"\n", `{"iban":"DE89370400440532013000"}`, "done 😀\n", "data:image/png;base64,\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in %q", want, got)
		}
	}
	for _, no := range []string{"iVBOR", "temperature", "0.2"} {
		if strings.Contains(got, no) {
			t.Errorf("unexpected %q in %q", no, got)
		}
	}
	s := allScanner(t)
	if f := s.Scan(Text([]byte(body), "application/json")); len(f) != 1 || f[0].ProfileID != ProfileFinancial || len(f[0].EntryIDs) != 2 { // Visa + IBAN in the tool call
		t.Fatalf("%+v", f)
	}
	// broken JSON: scanned raw
	if got := string(Text([]byte(`{"a":"4111 1111 1111 1111"`), "application/json")); !strings.Contains(got, "4111 1111 1111 1111") {
		t.Fatalf("%q", got)
	}
	// long base64 runs are dropped, keys are not
	long := strings.Repeat("QUJD", 200)
	got = string(Text([]byte(`{"a":"x `+long+` y","k":"sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3i"}`), "application/json"))
	if strings.Contains(got, "QUJD") || !strings.Contains(got, "x  y") || !strings.Contains(got, "sk-proj-") {
		t.Fatalf("%q", got)
	}
}

func TestTextSSE(t *testing.T) {
	s := allScanner(t)
	cases := map[string]string{
		"openai": "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Your card 4111 \"}}]}\n\n" +
			"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"1111 11\"}}]}\n\n" +
			"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"11 1111.\"}}]}\n\n" +
			"data: [DONE]\n\n",
		"openai-tools": "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"card\\\":\\\"4111\"}}]}}]}\n\n" +
			"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"111111111111\\\"}\"}}]}}]}\n\n",
		"anthropic": "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"content\":[]}}\n\n" +
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"4111 1111\"}}\n\n" +
			"event: ping\ndata: {\"type\": \"ping\"}\n\n" +
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" 1111 1111\"}}\n\n",
		"gemini": "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"41111111\"}],\"role\":\"model\"}}]}\r\n\r\n" +
			"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"11111111\"}],\"role\":\"model\"}}]}\r\n\r\n",
		"workers-ai": "data: {\"response\":\"4444\"}\n\ndata: {\"response\":\"4444\"}\n\ndata: {\"response\":\"4444\"}\n\ndata: {\"response\":\"4448\"}\n\ndata: {\"response\":\"\"}\n\ndata: [DONE]\n\n",
		"cohere": "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\"4111-1111-\"}}}}\n\n" +
			"event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\"1111-1111\"}}}}\n\n",
	}
	for name, body := range cases {
		text := Text([]byte(body), "text/event-stream; charset=utf-8")
		f := s.Scan(text)
		if len(f) != 1 || f[0].ProfileID != ProfileFinancial {
			t.Errorf("%s: %+v in %q", name, f, text)
		}
	}
	// constant paths are output once
	got := string(Text([]byte(cases["openai"]), "text/event-stream"))
	if strings.Count(got, "chat.completion.chunk") != 1 || !strings.Contains(got, "Your card 4111 1111 1111 1111.") {
		t.Fatalf("%q", got)
	}
	// ndjson (Ollama)
	nd := "{\"message\":{\"content\":\"4111 1111 \"}}\n{\"message\":{\"content\":\"1111 1111\"}}\n"
	if f := s.Scan(Text([]byte(nd), "application/x-ndjson")); len(f) != 1 {
		t.Fatalf("ndjson %+v", f)
	}
	// non-JSON data kept
	if got := string(Text([]byte("data: hello 4111\n\ndata: world\n\n"), "text/event-stream")); got != "hello 4111\nworld\n" {
		t.Fatalf("%q", got)
	}
}

func TestTextMultipartAndOthers(t *testing.T) {
	body := "--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"prompt\"\r\nContent-Type: text/plain\r\n\r\ncard 4111 1111 1111 1111\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\nContent-Type: audio/mpeg\r\n\r\nID3\x00\x01 5555 5555 5555 4444\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{\"note\":\"a@b.io\"}\r\n" +
		"--XyZ--\r\n"
	got := string(Text([]byte(body), `multipart/form-data; boundary=XyZ`))
	if !strings.Contains(got, "whisper-1") || !strings.Contains(got, "card 4111 1111 1111 1111") || strings.Contains(got, "5555") || !strings.Contains(got, "a@b.io\n") {
		t.Fatalf("%q", got)
	}
	if got := Text([]byte("hello 4111"), "text/plain"); string(got) != "hello 4111" {
		t.Fatalf("%q", got)
	}
	if got := Text([]byte("\x89PNG\r\n\x1a\n4111 1111 1111 1111"), "image/png"); got != nil {
		t.Fatalf("%q", got)
	}
	if got := Text([]byte("\x89PNG\x00"), ""); got != nil {
		t.Fatalf("%q", got)
	}
	if got := Text([]byte(`{"a":"b"}`), ""); string(got) != "b\n" {
		t.Fatalf("%q", got)
	}
	if got := Text(nil, "application/json"); got != nil {
		t.Fatal("nil")
	}
	deep := bytes.Repeat([]byte("["), 100000)
	if got := Text(deep, "application/json"); len(got) != len(deep) { // not JSON we can walk: scanned raw
		t.Fatalf("deep: %d", len(got))
	}
}
