package engine

import "testing"

func TestFailedStreamIsNotCacheable(t *testing.T) {
	cases := []struct {
		body   string
		failed bool
	}{
		{"data: {\"choices\":[]}\n\ndata: [DONE]\n\n", false},
		{"event: message_start\ndata: {}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}\n\n", true},
		{"event: response.failed\ndata: {\"type\":\"response.failed\"}\n\n", true},
		{"data: {\"type\":\"error\",\"message\":\"boom\"}\n\n", true},
	}
	for _, c := range cases {
		if got := failedStream([]byte(c.body)); got != c.failed {
			t.Errorf("failedStream(%q) = %v, want %v", c.body, got, c.failed)
		}
	}
}

func TestUncachedHeaders(t *testing.T) {
	for k, want := range map[string]bool{"Date": true, "Set-Cookie": true, "x-ratelimit-remaining-tokens": true,
		"anthropic-ratelimit-requests-remaining": true, "OpenAI-Organization": true, "x-request-id": true,
		"Content-Type": false, "openai-processing-ms": false, "x-custom": false} {
		if got := uncachedHeader(k); got != want {
			t.Errorf("uncachedHeader(%s) = %v, want %v", k, got, want)
		}
	}
}
