// targets.go prepares the switchyard targets that need state before the load: sy-route
// (a dynamic route, created through the control API) and sy-cache (a cached answer,
// warmed with one request). Each is checked with single requests first, so a broken
// setup fails the bench instead of measuring errors.
package main

import (
	"fmt"
	"time"
)

const benchRoute = "bench"

// routeCell creates the route start -> openai model -> end, checks that model
// dynamic/<route> on the unified API answers 200 through it, and returns its cell.
func routeCell(g *gateway, jsonBody []byte) (cell, error) {
	if err := createRoute(g.url, benchRoute, benchModel); err != nil {
		return cell{}, err
	}
	c := cell{target: "sy-route", mode: "json", conc: streamConc, url: g.url + compatPrefix + "/chat/completions",
		body: withModel(jsonBody, "dynamic/"+benchRoute), pid: g.pid}
	status, h, body, err := g.probe(c.url, c.body, nil)
	switch {
	case err != nil:
		return c, fmt.Errorf("sy-route: checking dynamic/%s: %w", benchRoute, err)
	case status != 200:
		return c, fmt.Errorf("sy-route: dynamic/%s answered HTTP %d: %s", benchRoute, status, body)
	case h.Get("cf-aig-route") != benchRoute:
		return c, fmt.Errorf("sy-route: dynamic/%s answered 200 without cf-aig-route: %s (headers %v)", benchRoute, benchRoute, h)
	}
	return c, nil
}

// cacheCell warms the response cache with the json request (cf-aig-cache-ttl: 600),
// waits until the same request is answered from it (cf-aig-cache-status: HIT), and
// returns a cell whose every answer must be such a hit.
func cacheCell(g *gateway, jsonBody []byte) (cell, error) {
	c := cell{target: "sy-cache", mode: "json", conc: streamConc, url: g.url + proxyPrefix + "/chat/completions", body: jsonBody,
		header: [][2]string{{"cf-aig-cache-ttl", "600"}}, expect: [2]string{"cf-aig-cache-status", "HIT"}, pid: g.pid}
	var last string
	for try := 0; try < 20; try++ { // the entry is stored once the first answer is relayed: it may land a little later
		status, h, body, err := g.probe(c.url, c.body, c.header)
		if err != nil {
			return c, fmt.Errorf("sy-cache: warming: %w", err)
		}
		if status != 200 {
			return c, fmt.Errorf("sy-cache: warming: HTTP %d: %s", status, body)
		}
		last = h.Get("cf-aig-cache-status")
		if try > 0 && last == "HIT" {
			return c, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c, fmt.Errorf("sy-cache: the same request was not answered from the cache after 20 tries (cf-aig-cache-status %q)", last)
}
