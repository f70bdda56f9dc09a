package server

import (
	"strconv"
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/switchyard/switchyard/storage/config/configtest"
	"github.com/valyala/fasthttp"
)

var testActor = configtest.Actor

// testConfig is a configuration with gateway gw (authentication off) in account acc.
func testConfig(t testing.TB) *config.Service { return configtest.Gateway(t) }

// captureDispatcher answers every request with a gateway error and keeps the request.
type captureDispatcher struct{ got *engine.Request }

func (c *captureDispatcher) Dispatch(r *engine.Request) *engine.Exchange {
	c.got = r
	x := engine.NewExchange(r, nil)
	if r.Fail != nil {
		x.Fail(r.Fail)
	} else {
		x.Fail(engine.Errorf(502, engine.CodeUpstreamFailed, "test"))
	}
	return x
}

func serve(t *testing.T, s *Server, method, uri, body string, hdr map[string]string) *fasthttp.RequestCtx {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	for k, v := range hdr {
		ctx.Request.Header.Set(k, v)
	}
	if body != "" {
		ctx.Request.SetBodyString(body)
		ctx.Request.Header.SetContentLength(len(body))
	}
	s.handle(&ctx)
	return &ctx
}

func TestDataPlaneParse(t *testing.T) {
	d := &captureDispatcher{}
	s := New(Options{Dispatcher: d, Providers: providers.NewTable(func(string) string { return "" }), MaxBody: 100, Config: testConfig(t)})
	cases := []struct {
		name, uri, body string
		status, code    int
		dispatched      bool
		slug, rest, q   string
		model           string
	}{
		{"provider path", "/v1/acc/gw/openai/chat/completions?x=1", `{"model":"gpt-4o","stream":true}`, 502, 2010, true, "openai", "/chat/completions", "x=1", "gpt-4o"},
		{"raw path kept", "/v1/acc/gw/aws-bedrock/bedrock-runtime/us-east-1/model/a.b-v1%3A0/invoke", `{}`, 502, 2010, true, "aws-bedrock", "/bedrock-runtime/us-east-1/model/a.b-v1%3A0/invoke", "", ""},
		{"unknown provider", "/v1/acc/gw/nosuch/x", "", 400, 2002, true, "nosuch", "/x", "", ""},
		{"universal without steps", "/v1/acc/gw", "", 400, 2006, true, "", "", "", ""},
		{"no gateway", "/v1/acc", "", 404, 2001, false, "", "", "", ""},
		{"bad gateway id", "/v1/acc/g.w/openai/x", "", 404, 2001, false, "", "", "", ""},
		{"unknown gateway", "/v1/acc/nogw/openai/x", "", 404, 2004, false, "", "", "", ""},
		{"other account", "/v1/acc2/gw/openai/x", "", 404, 2004, false, "", "", "", ""},
		{"default needs a token", "/v1/acc/default/openai/x", "", 401, 2009, false, "", "", "", ""},
		{"too long id", "/v1/" + strings.Repeat("a", 65) + "/gw/openai/x", "", 404, 2001, false, "", "", "", ""},
		{"too large", "/v1/acc/gw/openai/x", strings.Repeat("a", 101), 413, 2007, true, "openai", "/x", "", ""},
		{"not data plane", "/nothing", "", 404, 2001, false, "", "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d.got = nil
			ctx := serve(t, s, "POST", tc.uri, tc.body, map[string]string{"Content-Type": "application/json"})
			if ctx.Response.StatusCode() != tc.status || !strings.Contains(string(ctx.Response.Body()), `"code":`+strconv.Itoa(tc.code)) {
				t.Fatalf("got %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
			if (d.got != nil) != tc.dispatched {
				t.Fatalf("dispatched=%v", d.got != nil)
			}
			if d.got == nil {
				return
			}
			if d.got.Slug != tc.slug || d.got.Rest != tc.rest || d.got.Query != tc.q || d.got.Model != tc.model {
				t.Fatalf("parsed %+v", d.got)
			}
			for _, h := range []string{"cf-aig-log-id", "cf-aig-event-id", "cf-aig-step"} {
				if len(ctx.Response.Header.Peek(h)) == 0 {
					t.Fatalf("%s missing", h)
				}
			}
			// The logs find a record by its event id among the records of its log id's
			// millisecond (storage.eventLogIDs).
			lid, err1 := ulid.ParseStrict(d.got.LogID)
			eid, err2 := ulid.ParseStrict(d.got.EventID)
			if err1 != nil || err2 != nil || lid == eid || lid.Time() != eid.Time() {
				t.Fatalf("log id %s, event id %s: want two ULIDs of one millisecond", d.got.LogID, d.got.EventID)
			}
		})
	}
}

func TestForwardedHeaders(t *testing.T) {
	d := &captureDispatcher{}
	s := New(Options{Dispatcher: d, Providers: providers.NewTable(func(string) string { return "" }), Config: testConfig(t)})
	serve(t, s, "POST", "/v1/acc/gw/anthropic/v1/messages", `{}`, map[string]string{
		"x-api-key": "sk-ant", "anthropic-version": "2023-06-01", "cf-aig-authorization": "Bearer gw-token",
		"cf-aig-cache-ttl": "60", "Connection": "keep-alive", "Accept-Encoding": "gzip", "Proxy-Authorization": "x",
	})
	got := map[string]string{}
	for _, h := range d.got.Header {
		got[strings.ToLower(h.Key)] = h.Value
	}
	if got["x-api-key"] != "sk-ant" || got["anthropic-version"] != "2023-06-01" {
		t.Fatalf("provider headers dropped: %v", got)
	}
	for _, k := range []string{"cf-aig-authorization", "cf-aig-cache-ttl", "connection", "accept-encoding", "proxy-authorization", "host"} {
		if _, ok := got[k]; ok {
			t.Fatalf("%s must not be forwarded: %v", k, got)
		}
	}
}

func TestHealthAndReady(t *testing.T) {
	s := New(Options{Dispatcher: &captureDispatcher{}, Providers: providers.Table{}})
	if c := serve(t, s, "GET", "/healthz", "", nil); c.Response.StatusCode() != 200 {
		t.Fatal("healthz")
	}
	if c := serve(t, s, "GET", "/readyz", "", nil); c.Response.StatusCode() != 503 {
		t.Fatal("readyz before ready")
	}
	s.SetReady(true)
	if c := serve(t, s, "GET", "/readyz", "", nil); c.Response.StatusCode() != 200 {
		t.Fatal("readyz when ready")
	}
}

// The gateway's own headers are looked up only when the request has one; the names are
// matched as HTTP matches them, whatever their case.
func TestGatewayHeaderLookups(t *testing.T) {
	cases := []struct {
		name string
		hdr  map[string]string
		ask  string
		want string
	}{
		{"none", map[string]string{"Authorization": "Bearer x", "X-Cf-Thing": "1"}, "cf-aig-cache-ttl", ""},
		{"lower case", map[string]string{"cf-aig-cache-ttl": "60"}, "cf-aig-cache-ttl", "60"},
		{"mixed case", map[string]string{"CF-AIG-Skip-Cache": "true"}, "cf-aig-skip-cache", "true"},
		{"older name", map[string]string{"Cf-Skip-Cache": "true"}, "cf-skip-cache", "true"},
		{"another of ours", map[string]string{"cf-aig-metadata": `{"a":1}`}, "cf-aig-max-attempts", ""},
		{"with the token", map[string]string{"CF-AIG-Authorization": "Bearer t", "cf-aig-max-attempts": "2"}, "cf-aig-max-attempts", "2"},
		{"only the token", map[string]string{"cf-aig-authorization": "Bearer t"}, "cf-aig-cache-ttl", ""},
	}
	for _, c := range cases {
		var ctx fasthttp.RequestCtx
		for k, v := range c.hdr {
			ctx.Request.Header.Set(k, v)
		}
		if got := gatewayHeader(&ctx)(c.ask); got != c.want {
			t.Errorf("%s: %s = %q, want %q", c.name, c.ask, got, c.want)
		}
	}
}
