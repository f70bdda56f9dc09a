// cached.go is the response cache on the request path: before a step's first try the
// exchange looks its key up (answering from the entry on a hit), joins or leads the
// flight of identical requests in flight, and once the answer is relayed whole it stores
// a cacheable answer (2xx, complete, at most cache.MaxEntry bytes) with the policy's TTL.
package engine

import (
	"bytes"
	"strings"
	"time"

	"github.com/switchyard/switchyard/engine/cache"
)

// cacheKey is the entry key of target t of the request.
func cacheKey(req *Request, t *Target) string {
	in := cache.KeyInput{AccountID: req.AccountID, GatewayID: req.GatewayID, Provider: t.Slug,
		Method: req.Method, Path: t.Rest, Query: t.Query, Header: req.header, Body: req.Body}
	switch {
	case t.Compat != nil:
		// The native call is built from the client's body; the client's stream options
		// shape the translated answer, so they are part of the key too.
		in.Path = "compat:" + t.Rest
		if t.Compat.IncludeUsage {
			in.Path += "+usage"
		}
		in.Body = t.Compat.Body
	case t.Send != nil:
		in.Body = t.Send
	}
	if u := t.targetURL(); u != "" {
		in.Path = "target:" + u // the header, not the path, says where the request goes
	}
	return cache.Key(req.Cache, in)
}

// header reads one of the client's request headers kept on the target.
func (r *Request) header(name string) string {
	for _, h := range r.Target.Header {
		if strings.EqualFold(h.Key, name) {
			return h.Value
		}
	}
	return ""
}

// fromCache looks the current target up. On a hit the exchange holds the cached answer
// and it returns true. On a miss the exchange remembers the key (to store the answer) and
// leads the key's flight; when another identical request is already in flight it waits
// for that one and looks again.
func (f *Forwarder) fromCache(x *Exchange) bool {
	req := x.Req
	if req.Cache == nil || f.Cache == nil || req.Method != "POST" || req.BodyStream != nil || req.Target.Refused != nil || req.Target.Provider == nil {
		return false // only POSTs: a GET polls state (batches, jobs) that must not go stale
	}
	key := cacheKey(req, &req.Target)
	x.cacheKey, x.CacheStatus, x.cacheStore, x.captureMax = key, cache.Miss, f.Cache, f.CaptureMax
	if _, leading := x.flights[key]; leading || req.Cache.Skip {
		return false
	}
	for round := 0; round < 2; round++ {
		if f.hit(x, key) {
			return true
		}
		leader, wait, done := f.Flights.Join(key)
		if leader {
			if x.flights == nil {
				x.flights = map[string]func(){}
			}
			x.flights[key] = done
			// the previous leader may have stored its answer between the lookup and Join
			if f.hit(x, key) {
				x.releaseFlights()
				return true
			}
			return false
		}
		t := time.NewTimer(flightWait)
		select {
		case <-wait:
			t.Stop()
		case <-t.C:
			return false // the leader is slow (a long stream): do not wait longer
		}
	}
	return false // the leaders' answers were not cacheable: go upstream
}

// flightWait bounds how long a request waits for an identical one in flight.
const flightWait = 30 * time.Second

// hit answers from the cache entry of key, if there is one.
func (f *Forwarder) hit(x *Exchange, key string) bool {
	b, err := f.Cache.Get(key)
	if err != nil || b == nil {
		return false
	}
	e, err := cache.Decode(b)
	if err != nil {
		return false
	}
	x.replay(e)
	return true
}

// releaseFlights lets the requests waiting on this exchange's keys go: its answer is
// stored, or it will not be (a failed step, a failed request).
func (x *Exchange) releaseFlights() {
	for _, done := range x.flights {
		done()
	}
	x.flights = nil
}

// failedStream reports an event stream that carried an error event inside its 2xx
// answer (Anthropic's "event: error", the Responses API's response.failed / error).
func failedStream(body []byte) bool {
	return bytes.Contains(body, []byte("event: error")) || bytes.Contains(body, []byte(`"type":"error"`)) ||
		bytes.Contains(body, []byte(`"type":"response.failed"`))
}

// uncachedHeader: response headers about the caller or the moment, not the answer.
func uncachedHeader(k string) bool {
	k = strings.ToLower(k)
	return k == "set-cookie" || k == "date" || k == "openai-organization" || k == "openai-project" ||
		k == "x-request-id" || k == "request-id" || k == "cf-ray" || strings.HasPrefix(k, "x-ratelimit-") ||
		strings.HasPrefix(k, "anthropic-ratelimit-")
}

// replay turns a cache entry into the exchange's answer.
func (x *Exchange) replay(e *cache.Entry) {
	x.Cached, x.CacheStatus = true, cache.Hit
	x.Status, x.RespCType, x.cachedHeader = e.Status, e.ContentType, e.Header
	x.TTFB = time.Since(x.Started)
	x.Usage.In, x.Usage.Out, x.TokensCached = e.TokensIn, e.TokensOut, e.TokensCached
	x.Usage.Format = nil // counted already: the replayed stream is not scanned again
	if e.Model != "" {
		x.Req.Model = e.Model
	}
	if e.Stream {
		x.stream, x.sse = bytes.NewReader(e.Body), true
		return
	}
	x.Body = e.Body
	x.BytesOut = int64(len(e.Body))
	x.RespBody = capture(nil, e.Body, x.captureMax, &x.RespTrunc)
}

// keepForCache adds relayed bytes to the copy the cache will store, until it is too big.
func (x *Exchange) keepForCache(chunk []byte) {
	if x.cacheKey == "" || x.Cached || x.cacheOver {
		return
	}
	if len(x.cacheBody)+len(chunk) > cache.MaxEntry {
		x.cacheOver, x.cacheBody = true, nil
		return
	}
	x.cacheBody = append(x.cacheBody, chunk...)
}

// storeInCache keeps a complete, successful, fresh answer, then lets the requests
// waiting on its flight look it up. It runs in Done, before the upstream response (whose
// headers the entry keeps) is released.
func (x *Exchange) storeInCache() {
	store := x.cacheStore
	defer x.releaseFlights()
	if x.cacheKey == "" || x.Cached || x.cacheOver || store == nil || !x.Success() || x.Req.Method == "HEAD" {
		return
	}
	e := &cache.Entry{Status: x.Status, ContentType: x.RespCType, Stream: x.stream != nil,
		Model: x.Req.Model, TokensIn: x.Usage.In, TokensOut: x.Usage.Out, TokensCached: x.TokensCached,
		StoredAt: time.Now().UTC()}
	x.VisitResponseHeaders(func(k, v []byte) {
		if !uncachedHeader(string(k)) {
			e.Header = append(e.Header, [2]string{string(k), string(v)})
		}
	})
	if e.Stream {
		if failedStream(x.cacheBody) {
			return
		}
		e.Body = x.cacheBody
	} else {
		e.Body = x.Body
	}
	if len(e.Body) > cache.MaxEntry {
		return
	}
	if b, err := e.Encode(); err == nil {
		_ = store.Put(x.cacheKey, b, x.Req.Cache.TTL) // a failed write only costs a later miss
	}
}
