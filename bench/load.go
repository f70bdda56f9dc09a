// load.go is the load generator: a closed loop of C workers sending the same chat
// request to one target for a warm-up and then a measured window, recording each
// latency (and, for streams, time to first byte) and the target process's CPU time.
//
// CPU is counted over the whole cell, warm-up included, from an idle process to the
// moment it is idle again (so work a proxy defers, like writing logs, is charged to the
// requests that caused it), and divided by every request it answered in that time.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

const warmup = 500 * time.Millisecond

// cell is one measurement: a target at one concurrency in one mode.
type cell struct {
	target string // "direct", "bare-proxy", "switchyard" or "sy-..." (see README.md)
	mode   string // "json", "stream", "ws" (requests in flight on one WebSocket), "json-20ms"
	conc   int
	url    string
	body   []byte
	header [][2]string // extra request headers
	expect [2]string   // a header a 200 answer must carry (e.g. cf-aig-cache-status: HIT); none when empty
	pid    int         // process whose CPU is charged to the requests; 0 for none
}

type result struct {
	cell
	secs       float64         // length of the measured window
	lat        []time.Duration // successful requests started in the window, sorted
	ttfb       []time.Duration // stream mode: time to the first body byte, sorted
	errs       int             // transport errors and malformed answers
	non200     int
	firstErr   string
	cpuPerReq  time.Duration // target's CPU time per answered request; -1 if not measured
	cpuMissing string        // why cpuPerReq is -1, when it was wanted
	tail       time.Duration // how long the target stayed busy after the last answer
	ok200      int           // 200 answers, warm-up included: what a gateway should have logged
}

// tally is one worker's share of a result.
type tally struct {
	lat, ttfb    []time.Duration
	errs, non200 int
	answered     int // any HTTP answer, warm-up included: the CPU divisor
	ok           int // 200 answers, warm-up included
	firstErr     string
}

func runCell(c cell, d time.Duration) result {
	if c.mode == "ws" {
		return socketCell(c, d)
	}
	client := &fasthttp.Client{
		MaxConnsPerHost:          c.conc,
		MaxConnWaitTimeout:       5 * time.Second,
		ReadTimeout:              10 * time.Second,
		WriteTimeout:             10 * time.Second,
		StreamResponseBody:       c.mode == "stream",
		NoDefaultUserAgentHeader: true,
	}
	defer client.CloseIdleConnections()

	return runWorkers(c, d, func(from, to time.Time, t *tally) { work(client, c, from, to, t) })
}

// runWorkers runs c.conc workers over the warm-up and the measured window and gathers
// their tallies and the target's CPU time into the cell's result.
func runWorkers(c cell, d time.Duration, worker func(from, to time.Time, t *tally)) result {
	settle(c.pid)
	cpu0, err0 := cpuOf(c.pid)
	from := time.Now().Add(warmup)
	to := from.Add(d)
	tallies := make([]tally, c.conc)
	var wg sync.WaitGroup
	for i := range tallies {
		wg.Go(func() { worker(from, to, &tallies[i]) })
	}
	wg.Wait()
	r := result{cell: c, secs: d.Seconds(), cpuPerReq: -1, tail: settle(c.pid)}
	cpu1, err1 := cpuOf(c.pid)

	answered := 0
	for _, t := range tallies {
		answered += t.answered
		r.ok200 += t.ok
		r.lat = append(r.lat, t.lat...)
		r.ttfb = append(r.ttfb, t.ttfb...)
		r.errs += t.errs
		r.non200 += t.non200
		if r.firstErr == "" {
			r.firstErr = t.firstErr
		}
	}
	slices.Sort(r.lat)
	slices.Sort(r.ttfb)
	switch {
	case c.pid == 0:
	case errors.Join(err0, err1) != nil:
		r.cpuMissing = errors.Join(err0, err1).Error()
	case answered > 0:
		r.cpuPerReq = (cpu1 - cpu0) / time.Duration(answered)
	}
	return r
}

// settle waits (at most 10 s) until pid has used no more than one clock tick of CPU in
// 200 ms, and says how long that took.
func settle(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	start := time.Now()
	prev, err := cpuTime(pid)
	for err == nil && time.Since(start) < 10*time.Second {
		time.Sleep(200 * time.Millisecond)
		var now time.Duration
		if now, err = cpuTime(pid); err == nil && now-prev <= time.Second/userHZ {
			break
		}
		prev = now
	}
	return time.Since(start)
}

func cpuOf(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	return cpuTime(pid)
}

// work sends requests back to back until to; only those started at or after from count.
func work(client *fasthttp.Client, c cell, from, to time.Time, t *tally) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.url)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.Set("Authorization", "Bearer sk-bench-not-a-real-key")
	for _, h := range c.header {
		req.Header.Set(h[0], h[1])
	}
	req.SetBodyRaw(c.body)
	buf := make([]byte, 16<<10)

	for {
		start := time.Now()
		if !start.Before(to) {
			return
		}
		var status int
		var ttfb time.Duration
		var snippet []byte // start of the body, for a non-200's message
		var err error
		if c.mode == "stream" {
			status, ttfb, snippet, err = doStream(client, req, resp, buf, start)
		} else {
			status, err = doJSON(client, req, resp, c.expect)
			snippet = resp.Body()
		}
		took := time.Since(start)
		if status != 0 {
			t.answered++
		}
		if status == fasthttp.StatusOK {
			t.ok++
		}
		if start.Before(from) {
			continue
		}
		switch {
		case err != nil:
			t.errs++
			if t.firstErr == "" {
				t.firstErr = err.Error()
			}
		case status != fasthttp.StatusOK:
			t.non200++
			if t.firstErr == "" {
				t.firstErr = fmt.Sprintf("HTTP %d: %.200s", status, snippet)
			}
		default:
			t.lat = append(t.lat, took)
			if c.mode == "stream" {
				t.ttfb = append(t.ttfb, ttfb)
			}
		}
	}
}

// doJSON sends one request and checks a 200 is a chat.completion carrying the expected
// header, if any.
func doJSON(client *fasthttp.Client, req *fasthttp.Request, resp *fasthttp.Response, expect [2]string) (int, error) {
	if err := client.Do(req, resp); err != nil {
		return 0, err
	}
	if resp.StatusCode() != fasthttp.StatusOK {
		return resp.StatusCode(), nil
	}
	if !bytes.Contains(resp.Body(), []byte(`"chat.completion"`)) {
		return resp.StatusCode(), fmt.Errorf("200 without a chat.completion: %.200s", resp.Body())
	}
	if expect[0] != "" {
		if got := string(resp.Header.Peek(expect[0])); got != expect[1] {
			return resp.StatusCode(), fmt.Errorf("200 with %s %q, not %q", expect[0], got, expect[1])
		}
	}
	return resp.StatusCode(), nil
}

// doStream reads the whole SSE stream, noting when its first byte arrived and checking
// that it ends with the [DONE] event.
func doStream(client *fasthttp.Client, req *fasthttp.Request, resp *fasthttp.Response, buf []byte, start time.Time) (status int, ttfb time.Duration, snippet []byte, err error) {
	if err := client.Do(req, resp); err != nil {
		return 0, 0, nil, err
	}
	defer resp.CloseBodyStream()
	status = resp.StatusCode()
	r := resp.BodyStream()
	if r == nil {
		r = bytes.NewReader(resp.Body())
	}
	var first, last []byte // the first and the last bytes of the body
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if ttfb == 0 {
				ttfb = time.Since(start)
				first = append(first, buf[:min(n, 200)]...)
			}
			last = append(last, buf[:n]...)
			if len(last) > 256 {
				last = append(last[:0], last[len(last)-64:]...)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return status, ttfb, first, fmt.Errorf("reading stream: %w", err)
		}
	}
	if status == fasthttp.StatusOK && !bytes.HasSuffix(last, []byte("data: [DONE]\n\n")) {
		return status, ttfb, first, fmt.Errorf("stream did not end with [DONE]: %q", last)
	}
	return status, ttfb, first, nil
}
