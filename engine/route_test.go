package engine_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/pricing"
	"github.com/switchyard/switchyard/flows"
)

// fakeLimiter admits the first room[key] takes and records charges.
type fakeLimiter struct {
	mu      sync.Mutex
	room    map[string]int
	charged map[string]float64
}

func (l *fakeLimiter) Take(lim engine.Limit, _ time.Time) engine.LimitDecision {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.room[lim.Key] <= 0 {
		return engine.LimitDecision{RetryAfter: 90 * time.Second}
	}
	l.room[lim.Key]--
	return engine.LimitDecision{Admitted: true, Used: 1}
}

func (l *fakeLimiter) Charge(lim engine.Limit, amount float64, _ time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.charged[lim.Key] += amount
}

// routeGraph compiles a route from its JSON elements.
func routeGraph(t *testing.T, elements string) *flows.Graph {
	t.Helper()
	els, err := flows.ParseElements([]byte(elements))
	if err != nil {
		t.Fatal(err)
	}
	g, problems := flows.Compile(els)
	if problems != nil {
		t.Fatal(problems)
	}
	return g
}

const start = `{"id":"start","type":"start","outputs":{"next":{"elementId":"%s"}}},{"id":"end","type":"end"}`

func elements(first string, rest ...string) string {
	return "[" + strings.Replace(start, "%s", first, 1) + "," + strings.Join(rest, ",") + "]"
}

func modelNode(id, model, fallback string) string {
	outs := `"success":{"elementId":"end"}`
	if fallback != "" {
		outs += `,"fallback":{"elementId":"` + fallback + `"}`
	}
	return `{"id":"` + id + `","type":"model","properties":{"provider":"custom-test","model":"` + model + `"},"outputs":{` + outs + `}}`
}

func limitNode(id, limitType, success, fallback string) string {
	outs := `"success":{"elementId":"` + success + `"}`
	if fallback != "" {
		outs += `,"fallback":{"elementId":"` + fallback + `"}`
	}
	return `{"id":"` + id + `","type":"rate_limit","properties":{"limitType":"` + limitType + `","key":"metadata.user","limit":1,"interval":60,"technique":"fixed"},"outputs":{` + outs + `}}`
}

func TestRouteWalkOnTheRequestPath(t *testing.T) {
	ok := upstreamServer(t, status(200, `{"id":"x","usage":{"prompt_tokens":1000,"completion_tokens":1000}}`))
	broken := upstreamServer(t, status(500, `{"error":{"message":"down"}}`))
	models := map[string]string{"good": ok, "bad": broken}
	plain := `{"id":"plan","type":"conditional","properties":{"condition":{"metadata.plan":"paid"}},"outputs":{"true":{"elementId":"m"},"false":{"elementId":"end"}}}`

	cases := []struct {
		name     string
		elements string
		room     int
		status   int
		code     int // gateway error code, 0 for an upstream answer
		path     string
		charged  float64
	}{
		{"conditional to a model", elements("plan", plain, modelNode("m", "good", "")), 1, 200, 0, "start:next plan:true m:success end:", 0},
		{"failed model falls back", elements("m", modelNode("m", "bad", "m2"), modelNode("m2", "good", "")), 1, 200, 0,
			"start:next m:fallback m2:success end:", 0},
		{"failed model without fallback answers its error", elements("m", modelNode("m", "bad", "")), 1, 500, 0, "start:next m:", 0},
		{"unknown model falls back", elements("m", modelNode("m", "nope", "m2"), modelNode("m2", "good", "")), 1, 200, 0,
			"start:next m:fallback m2:success end:", 0},
		{"limit admits", elements("q", limitNode("q", "count", "m", ""), modelNode("m", "good", "")), 1, 200, 0,
			"start:next q:success m:success end:", 0},
		{"limit refuses without fallback", elements("q", limitNode("q", "count", "m", ""), modelNode("m", "good", "")), 0, 429,
			engine.CodeRateLimited, "start:next q:", 0},
		{"limit refuses to its fallback", elements("q", limitNode("q", "count", "m", "m2"), modelNode("m", "bad", ""), modelNode("m2", "good", "")),
			0, 200, 0, "start:next q:fallback m2:success end:", 0},
		{"cost limit charged with the answer's cost", elements("q", limitNode("q", "cost", "m", ""), modelNode("m", "good", "")), 1, 200, 0,
			"start:next q:success m:success end:", 0.002 + 0.004},
		{"end without a model", elements("plan", plain, modelNode("m", "good", "")), 1, 502, engine.CodeRouteNoAnswer, "start:next plan:false end:", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lim := &fakeLimiter{room: map[string]int{"route/a/g/r1/q/u1": tc.room}, charged: map[string]float64{}}
			f := forwarder(&recordingClock{})
			f.Limiter = lim
			md := map[string]any{"user": "u1"}
			if tc.status != 502 {
				md["plan"] = "paid"
			}
			run := &engine.RouteRun{ID: "r1", Name: "support", VersionID: "v1", Graph: routeGraph(t, tc.elements),
				View: flows.NewView(md, nil, nil),
				Plan: func(m *flows.ModelSpec, t *engine.Target) *engine.GatewayError {
					url, ok := models[m.Model]
					if !ok {
						return engine.Errorf(400, engine.CodeUnknownProvider, "no model "+m.Model)
					}
					*t = *target(url, engine.RetryPolicy{})
					t.Model = m.Model
					return nil
				}}
			req := &engine.Request{LogID: "L", EventID: "E", AccountID: "a", GatewayID: "g", Method: "POST",
				Body: []byte(`{"model":"dynamic/support"}`), ReceivedAt: time.Now(),
			}
			req.Route = run
			req.CustomCost = &pricing.Price{Input: 2e-6, Output: 4e-6}
			x := engine.NewExchange(req, nil)
			f.Do(x)
			x.Done()
			if x.Status != tc.status {
				t.Fatalf("status %d, want %d (%s)", x.Status, tc.status, x.Body)
			}
			if tc.code != 0 {
				if x.Err == nil || x.Err.Code != tc.code {
					t.Fatalf("error %+v, want code %d", x.Err, tc.code)
				}
				var oa struct{ Error struct{ Message string } }
				if json.Unmarshal(x.Body, &oa) != nil || oa.Error.Message == "" {
					t.Fatalf("refusal not in the OpenAI error shape: %s", x.Body)
				}
			}
			if tc.status == 429 && x.Err.RetryAfter != 90 {
				t.Fatalf("Retry-After %d, want 90", x.Err.RetryAfter)
			}
			var path []string
			for _, n := range x.Route.Nodes {
				path = append(path, n.ElementID+":"+n.Output)
			}
			if got := strings.Join(path, " "); got != tc.path {
				t.Fatalf("walk %q, want %q", got, tc.path)
			}
			if got := lim.charged["route/a/g/r1/q/u1"]; got < tc.charged-1e-12 || got > tc.charged+1e-12 {
				t.Fatalf("charged %v, want %v", got, tc.charged)
			}
		})
	}
}

func TestGatewayRateLimitRefusesBeforeTheUpstream(t *testing.T) {
	calls := 0
	url := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) { calls++; w.WriteHeader(200) })
	lim := &fakeLimiter{room: map[string]int{"gw/a/g": 1}, charged: map[string]float64{}}
	f := forwarder(&recordingClock{})
	f.Limiter = lim
	for i, want := range []int{200, 429} {
		req := &engine.Request{LogID: "L", AccountID: "a", GatewayID: "g", Method: "POST", ReceivedAt: time.Now(),
			RateLimit: &engine.Limit{Key: "gw/a/g", Limit: 1, Interval: time.Minute}}
		req.Target = *target(url, engine.RetryPolicy{})
		x := engine.NewExchange(req, nil)
		f.Do(x)
		x.Done()
		if x.Status != want {
			t.Fatalf("request %d: %d, want %d", i, x.Status, want)
		}
	}
	if calls != 1 {
		t.Fatalf("upstream calls %d, want 1", calls)
	}
}

func TestFailedRouteStepLeavesNoRouteOrCharge(t *testing.T) {
	ok := upstreamServer(t, status(200, `{"id":"x","usage":{"prompt_tokens":1000,"completion_tokens":1000}}`))
	broken := upstreamServer(t, status(500, `{"error":{"message":"down"}}`))
	lim := &fakeLimiter{room: map[string]int{"route/a/g/r1/q/u1": 1}, charged: map[string]float64{}}
	f := forwarder(&recordingClock{})
	f.Limiter = lim
	routeStep := &engine.Target{Route: &engine.RouteRun{ID: "r1", Name: "budget", VersionID: "v1",
		Graph: routeGraph(t, elements("q", limitNode("q", "cost", "m", ""), modelNode("m", "bad", ""))),
		View:  flows.NewView(map[string]any{"user": "u1"}, nil, nil),
		Plan: func(m *flows.ModelSpec, t *engine.Target) *engine.GatewayError {
			*t = *target(broken, engine.RetryPolicy{})
			return nil
		}}}
	okStep := target(ok, engine.RetryPolicy{})
	routeStep.CustomCost = &pricing.Price{Input: 2e-6, Output: 4e-6}
	okStep.CustomCost = routeStep.CustomCost
	req := &engine.Request{LogID: "L", AccountID: "a", GatewayID: "g", Method: "POST", Body: []byte(`{}`), ReceivedAt: time.Now(),
		Steps: []*engine.Target{routeStep, okStep}}
	x := engine.NewExchange(req, nil)
	f.Do(x)
	x.Done()
	if x.Status != 200 || x.Step != 1 {
		t.Fatalf("status %d step %d", x.Status, x.Step)
	}
	if x.Route != nil || len(x.Walks) != 1 || lim.charged["route/a/g/r1/q/u1"] != 0 {
		t.Fatalf("the failed route step still counts: route %v walks %d charged %v", x.Route, len(x.Walks), lim.charged)
	}
	if a := x.Attempts[0]; a.Element != "m" || a.Outcome != engine.OutcomeFallback {
		t.Fatalf("route attempt: %+v", a)
	}
}

func TestLongOrHeaderLimitValuesAreHashed(t *testing.T) {
	g := routeGraph(t, elements("q", limitNode("q", "count", "m", ""), modelNode("m", "good", "")))
	run := &engine.RouteRun{ID: "r1"}
	for _, tc := range []struct {
		value  string
		hashed bool
	}{{"alice", false}, {strings.Repeat("x", 128), false}, {strings.Repeat("x", 129), true}} {
		w := g.Walk(flows.NewView(map[string]any{"user": tc.value}, nil, nil), nil)
		st := w.Next(flows.OutcomeNone)
		key := run.LimitKey("a", "g", st)
		if got := strings.Contains(key, "/sha256:"); got != tc.hashed || len(key) > 200 {
			t.Fatalf("value of %d bytes: key %q", len(tc.value), key)
		}
	}
}
