// bareproxy.go is the baseline (`bench bareproxy`): the least a fasthttp reverse proxy
// must do to forward /v1/acct/gw/openai/* to the mock, streaming SSE back as it arrives.
// Switchyard's overhead is measured against it.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

const proxyPrefix = "/v1/acct/gw/openai"

type bareProxy struct {
	upstream string // base URL of the mock, e.g. http://127.0.0.1:1234
	client   *fasthttp.Client
	bufs     sync.Pool
}

func runBareProxy(args []string) error {
	fs := flag.NewFlagSet("bareproxy", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	upstream := fs.String("upstream", "", "base URL of the upstream, e.g. http://127.0.0.1:1234")
	fs.Parse(args)

	p := &bareProxy{
		upstream: *upstream,
		client: &fasthttp.Client{
			MaxConnsPerHost:          4096,
			ReadTimeout:              30 * time.Second,
			WriteTimeout:             30 * time.Second,
			StreamResponseBody:       true,
			NoDefaultUserAgentHeader: true,
		},
		bufs: sync.Pool{New: func() any { b := make([]byte, 4096); return &b }},
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Printf("bareproxy listening on http://%s\n", ln.Addr())
	return (&fasthttp.Server{Handler: p.handle, Name: "bareproxy"}).Serve(ln)
}

func (p *bareProxy) handle(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	if !bytes.HasPrefix(path, []byte(proxyPrefix+"/")) {
		ctx.Error("not found", fasthttp.StatusNotFound)
		return
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI(p.upstream + string(path[len(proxyPrefix):]))
	req.Header.SetMethodBytes(ctx.Method())
	req.Header.SetContentTypeBytes(ctx.Request.Header.ContentType())
	if auth := ctx.Request.Header.Peek("Authorization"); len(auth) > 0 {
		req.Header.SetBytesV("Authorization", auth)
	}
	req.SetBodyRaw(ctx.PostBody())

	resp := fasthttp.AcquireResponse()
	if err := p.client.Do(req, resp); err != nil {
		fasthttp.ReleaseResponse(resp)
		ctx.Error("upstream: "+err.Error(), fasthttp.StatusBadGateway)
		return
	}
	ctx.SetStatusCode(resp.StatusCode())
	for k, v := range resp.Header.All() {
		switch string(k) {
		case "Content-Length", "Transfer-Encoding", "Connection", "Date", "Server":
		default:
			ctx.Response.Header.SetBytesKV(k, v)
		}
	}

	if bytes.HasPrefix(resp.Header.ContentType(), []byte("text/event-stream")) {
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			defer p.release(resp)
			bp := p.bufs.Get().(*[]byte)
			defer p.bufs.Put(bp)
			r := resp.BodyStream()
			for {
				n, err := r.Read(*bp)
				if n > 0 {
					if _, werr := w.Write((*bp)[:n]); werr != nil {
						return
					}
					if w.Flush() != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		})
		return
	}

	bp := p.bufs.Get().(*[]byte)
	_, err := io.CopyBuffer(ctx, resp.BodyStream(), *bp)
	p.bufs.Put(bp)
	p.release(resp)
	if err != nil {
		ctx.Error("upstream body: "+err.Error(), fasthttp.StatusBadGateway)
	}
}

func (p *bareProxy) release(resp *fasthttp.Response) {
	resp.CloseBodyStream()
	fasthttp.ReleaseResponse(resp)
}
