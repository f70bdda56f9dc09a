// unified.go is the unified API's part of an exchange: the translated request goes out
// with its own headers (and SigV4 signature), and the native answer comes back as an
// OpenAI chat completion, error or chunk stream, with its usage.
package engine

import (
	"bufio"
	"io"
	"strings"

	"github.com/switchyard/switchyard/engine/compat"
	"github.com/valyala/fasthttp"
)

// maxUnifiedBody bounds a whole native answer read for translation.
const maxUnifiedBody = 32 << 20

// prepareUnified puts the translated body and headers on the upstream request.
func prepareUnified(ureq *fasthttp.Request, c *compat.Call, method, url string) *GatewayError {
	for _, h := range c.Headers {
		ureq.Header.Set(h.Key, h.Value)
	}
	ureq.SetBodyRaw(c.Body)
	if c.Signer == nil {
		return nil
	}
	hs, err := c.Signer.Sign(method, url, c.Body)
	if err != nil {
		return Errorf(500, CodeInternal, "the request to "+c.Provider+" could not be signed")
	}
	for _, h := range hs {
		ureq.Header.Set(h.Key, h.Value)
	}
	return nil
}

// keepUnifiedHeader lists the upstream headers a unified-API client gets: the ones that
// still mean something after translation (rate limits, retry hints, request ids).
func keepUnifiedHeader(lk string) bool {
	switch lk {
	case "retry-after", "retry-after-ms", "request-id", "x-request-id", "x-amzn-requestid":
		return true
	}
	return strings.HasPrefix(lk, "x-ratelimit-") || strings.HasPrefix(lk, "anthropic-ratelimit-")
}

// unifiedAnswer translates the provider's answer: a 2xx stream is relayed through a
// compat.Stream, anything else is read whole and translated.
func (f *Forwarder) unifiedAnswer(x *Exchange, resp *fasthttp.Response) {
	c := x.Req.Compat
	ok := x.Status >= 200 && x.Status < 300
	if ok && c.Stream {
		x.RespCType = "text/event-stream; charset=utf-8"
		x.conv = c.NewStream()
		x.captureMax = f.CaptureMax
		x.stream = resp.BodyStream()
		return
	}
	x.RespCType = "application/json"
	body, err := io.ReadAll(io.LimitReader(resp.BodyStream(), maxUnifiedBody+1))
	switch {
	case err != nil:
		x.Fail(upstreamError(x.Req.Slug, err))
		x.Body = openAIError(x.Err)
		return
	case len(body) > maxUnifiedBody:
		x.Fail(Errorf(502, CodeUpstreamFailed, "upstream "+x.Req.Slug+" answer is too large to translate"))
		x.Body = openAIError(x.Err)
		return
	case !ok:
		x.Body = c.Error(x.Status, body)
	default:
		out, u, e := c.Response(body)
		if e != nil {
			x.Fail(&GatewayError{Status: e.Status, Code: CodeUpstreamFailed, Message: e.Message, Body: e.JSON()})
			return
		}
		x.Body = out
		x.setUnifiedUsage(u)
	}
	x.BytesOut = int64(len(x.Body))
	x.RespBody = capture(nil, x.Body, f.CaptureMax, &x.RespTrunc)
}

// openAIError renders a gateway error in the OpenAI shape for unified-API clients.
func openAIError(e *GatewayError) []byte {
	ce := &compat.Error{Status: e.Status, Type: compat.ErrorType(e.Status), Message: e.Message}
	e.Body = ce.JSON()
	return e.Body
}

// failUnified is Fail for a unified-API client: the error in the OpenAI shape, unless it
// already has a body of its own (a refusal planned by the unified API).
func (x *Exchange) failUnified(e *GatewayError) {
	if e.Body == nil {
		openAIError(e)
	}
	x.Fail(e)
}

// closeUnified ends a translated stream: the closing chunks on success, an error event
// when the upstream broke off (nothing more when the client is gone), and the usage.
func (x *Exchange) closeUnified(w *bufio.Writer) {
	if x.Err == nil && x.ClientErr == nil && !x.conv.Complete() {
		x.Err, x.cut = cutAnswer(x.Req.Slug), true
	}
	var tail []byte
	if x.Err != nil {
		tail = x.conv.Abort(x.Err.Message)
	} else {
		tail = x.conv.Close()
	}
	if x.ClientErr == nil && len(tail) > 0 {
		x.BytesOut += int64(len(tail))
		x.keepForCache(tail)
		x.RespBody = capture(x.RespBody, tail, x.captureMax, &x.RespTrunc)
		if _, err := w.Write(tail); err != nil {
			x.ClientErr = err
		} else if err := w.Flush(); err != nil {
			x.ClientErr = err
		}
	}
	if x.conv.Failed() && x.Err == nil {
		x.Err = Errorf(502, CodeUpstreamFailed, "upstream "+x.Req.Slug+" reported an error in the stream")
	}
	x.setUnifiedUsage(x.conv.Usage())
}

func (x *Exchange) setUnifiedUsage(u *compat.Usage) {
	if u == nil {
		return
	}
	x.Usage.In, x.Usage.Out = u.PromptTokens, u.CompletionTokens
	x.TokensCached, x.TokensEstimated = u.Cached(), u.Estimated
}
