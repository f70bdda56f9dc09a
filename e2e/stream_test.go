// stream_test.go shows SSE chunks leave the gateway as they arrive: the mock upstream
// sends its first chunk and then holds the stream until the client has that chunk
// through the gateway. A buffering gateway would deadlock here (bounded by a timeout).
package e2e

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/mock"
)

func TestStreamFirstChunkBeforeUpstreamFinishes(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	body := `{"model":"gated","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	start := time.Now()
	resp, err := http.Post(g.Base("openai")+"/chat/completions", "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	first := make(chan string, 1)
	rest := make(chan string, 1)
	go func() {
		r := bufio.NewReader(resp.Body)
		line, _ := r.ReadString('\n')
		first <- line
		var all strings.Builder
		for {
			l, err := r.ReadString('\n')
			all.WriteString(l)
			if err != nil {
				break
			}
		}
		rest <- all.String()
	}()
	select {
	case line := <-first:
		if !strings.Contains(line, `"role":"assistant"`) {
			t.Fatalf("first line %q", line)
		}
		t.Logf("time to first chunk through the gateway: %v", time.Since(start))
	case <-time.After(30 * time.Second):
		up.Release()
		t.Fatal("first chunk held back: the gateway buffers the stream")
	}
	up.Release()
	select {
	case all := <-rest:
		if !strings.Contains(all, "data: [DONE]") {
			t.Fatalf("stream incomplete: %q", all)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("stream did not finish")
	}
}
