// mock.go is the mock OpenAI upstream (`bench mock`): POST /chat/completions answers a
// fixed chat.completion, or an SSE stream flushed chunk by chunk when the request asks
// for "stream":true; with -delay it sleeps that long before answering (a model's
// latency), so a proxy's cost can be read against a realistic upstream.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

func runMock(args []string) error {
	fs := flag.NewFlagSet("mock", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	chunks := fs.Int("chunks", 20, "chat.completion.chunk events per streamed answer")
	delay := fs.Duration("delay", 0, "time to wait before answering (before the first chunk of a stream)")
	fs.Parse(args)

	events := streamEvents(*chunks)
	handler := func(ctx *fasthttp.RequestCtx) {
		if !ctx.IsPost() || string(ctx.Path()) != "/chat/completions" {
			ctx.Error(`{"error":{"message":"mock: unknown route","type":"invalid_request_error"}}`, fasthttp.StatusNotFound)
			return
		}
		if *delay > 0 {
			time.Sleep(*delay)
		}
		body := ctx.PostBody()
		if !bytes.Contains(body, []byte(`"stream":true`)) && !bytes.Contains(body, []byte(`"stream": true`)) {
			ctx.SetContentType("application/json")
			ctx.SetBody(chatCompletion)
			return
		}
		ctx.SetContentType("text/event-stream")
		ctx.Response.Header.Set("Cache-Control", "no-cache")
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			for _, e := range events {
				if _, err := w.Write(e); err != nil {
					return
				}
				if err := w.Flush(); err != nil {
					return
				}
			}
		})
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Printf("mock listening on http://%s\n", ln.Addr())
	// Every connection is served by its own goroutine while it sleeps: the limit on
	// connections served at once must stay far above any concurrency the bench uses.
	srv := &fasthttp.Server{Handler: handler, Name: "mock-openai", Concurrency: 64 << 10}
	return srv.Serve(ln)
}
