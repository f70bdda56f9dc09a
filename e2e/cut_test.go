// cut_test.go checks that an upstream answer that breaks off reaches the client as broken
// (no chunked terminator, the connection closed; an error on the WebSocket and in the
// OpenAI SDK) and is logged as failed with code 2010, never as a clean, successful end.
package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"
)

const sseChunk = `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hello"}}]}` + "\n\n"

// cuttingUpstream answers per model: "whole" a complete stream, "boundary" a stream that
// closes cleanly after two events without [DONE], "chunked" a stream whose connection
// drops without the chunked terminator, "length" a body shorter than its Content-Length.
func cuttingUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		model := gjson.GetBytes(body, "model").String()
		switch model {
		case "whole", "boundary":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, sseChunk+sseChunk)
			if model == "whole" {
				io.WriteString(w, "data: [DONE]\n\n")
			}
		case "chunked":
			conn, bw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(sseChunk), sseChunk)
			bw.Flush()
			conn.Close()
		case "length":
			conn, bw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"data\":\"%s", 1<<20, strings.Repeat("x", 100<<10))
			bw.Flush()
			conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCutUpstreamAnswersLookBroken(t *testing.T) {
	up := cuttingUpstream(t)
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})

	for _, tc := range []struct {
		model  string
		broken bool
	}{{"whole", false}, {"boundary", true}, {"chunked", true}, {"length", true}} {
		t.Run(tc.model, func(t *testing.T) {
			resp, err := http.Post(g.Base("openai")+"/chat/completions", "application/json",
				strings.NewReader(`{"model":"`+tc.model+`","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			got, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(got) == 0 {
				t.Fatalf("status %d, %d bytes", resp.StatusCode, len(got))
			}
			if tc.broken != (rerr != nil) {
				t.Fatalf("read error %v, want broken=%v (body %q…)", rerr, tc.broken, got[:min(len(got), 80)])
			}
			l := g.WaitLog(resp.Header.Get("cf-aig-log-id"))
			code := gjson.Get(l.JSON.RawJSON(), "error_code").Int()
			if l.Success == tc.broken || tc.broken && code != 2010 {
				t.Fatalf("log success=%v code=%d: %s", l.Success, code, l.JSON.RawJSON())
			}
		})
	}

	// Through the unified API the OpenAI SDK's stream ends in an error, not a clean end.
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1/"+account+"/"+gateway+"/compat"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	st := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: "openai/boundary", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	n := 0
	for st.Next() {
		n++
	}
	if st.Err() == nil || n == 0 {
		t.Fatalf("compat stream: %d chunks, err %v", n, st.Err())
	}

	// On the WebSocket API the step ends with universal.error, not universal.done.
	msgs := socketRoundTrip(t, g, `{"type":"universal.create","request":{"eventId":"e1","provider":"openai","endpoint":"chat/completions","headers":{"Content-Type":"application/json"},"query":{"model":"boundary","stream":true,"messages":[{"role":"user","content":"hi"}]}}}`)
	last := msgs[len(msgs)-1]
	if gjson.Get(last, "type").String() != "universal.error" || gjson.Get(last, "error.code").Int() != 2010 {
		t.Fatalf("socket messages %q", msgs)
	}
}

// socketRoundTrip sends one message on the gateway's universal WebSocket and returns the
// messages answered until the step's universal.done or universal.error, or the
// universal.created that carries a whole (not streamed) response.
func socketRoundTrip(t *testing.T, g *Gateway, msg string) []string {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(g.URL, "http")+"/v1/"+account+"/"+gateway, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
		_, data, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %q: %v", out, err)
		}
		out = append(out, string(data))
		typ := gjson.GetBytes(data, "type").String()
		if typ == "universal.done" || typ == "universal.error" || (typ == "universal.created" && gjson.GetBytes(data, "response").Exists()) {
			return out
		}
	}
}
