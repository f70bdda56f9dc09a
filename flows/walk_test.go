// walk_test.go drives the Walker through every element type, every outcome and the
// reference's route shapes, and checks limit keys and the percentage split's distribution.
package flows

import (
	"encoding/json"
	"math/rand"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func compile(t testing.TB, data string) *Graph {
	t.Helper()
	g, problems := Compile(elements(t, data))
	if problems != nil {
		t.Fatalf("problems: %v", problems)
	}
	return g
}

// walkResult is a whole walk written down: every step as "limit rl key=u1", "model m1",
// "end end answered", and the visits.
type walkResult struct {
	steps  []string
	visits []string
	end    Step
}

// walk runs a walk to its end, answering each limit and model step from outcomes by node
// id (steps not listed succeed).
func walk(t testing.TB, g *Graph, v View, random func() float64, outcomes map[string]Outcome) walkResult {
	t.Helper()
	w := g.Walk(v, random)
	var r walkResult
	step := w.Next(OutcomeNone)
	for i := 0; ; i++ {
		if i > len(g.Nodes()) {
			t.Fatalf("walk did not end: %v", r.steps)
		}
		r.steps = append(r.steps, stepText(step))
		if step.Kind == StepEnd {
			r.end = step
			break
		}
		o, ok := outcomes[step.Node.ID]
		if !ok {
			o = OutcomeSuccess
		}
		step = w.Next(o)
	}
	for _, visit := range w.Visits() {
		r.visits = append(r.visits, strings.TrimSpace(visit.ElementID+" "+visit.Type+" "+visit.Output))
	}
	return r
}

func stepText(s Step) string {
	switch s.Kind {
	case StepLimit:
		if s.KeyMissing {
			return "limit " + s.Node.ID + " key missing"
		}
		return "limit " + s.Node.ID + " key=" + s.LimitKey
	case StepModel:
		return "model " + s.Node.ID + " " + s.Node.Model.Provider + "/" + s.Node.Model.Model
	case StepEnd:
		text := "end " + s.Node.ID
		if s.Answered {
			text += " answered"
		}
		if s.Refused != nil {
			text += " refused by " + s.Refused.ID
		}
		if s.Failed != nil {
			text += " failed at " + s.Failed.ID
		}
		return text
	}
	return "?"
}

// everyKind has every element type: a conditional on the plan, a split, a per-user count
// limit with a fallback, a model with a fallback, a model without one, and a limit
// without a fallback.
const everyKind = `[
	{"id":"s","type":"start","outputs":{"next":{"elementId":"plan"}}},
	{"id":"plan","type":"conditional","properties":{"condition":{"metadata.plan":{"$eq":"paid"}}},
	 "outputs":{"true":{"elementId":"quota"},"false":{"elementId":"split"}}},
	{"id":"quota","type":"rate_limit","properties":{"limitType":"count","key":"metadata.user_id","limit":10,"interval":600,"technique":"sliding"},
	 "outputs":{"success":{"elementId":"big"},"fallback":{"elementId":"small"}}},
	{"id":"split","type":"percentage","outputs":{"30%":{"elementId":"budget"},"else":{"elementId":"small"}}},
	{"id":"budget","type":"rate","properties":{"limitType":"cost","key":"headers.x-team","limit":5,"interval":86400,"technique":"fixed"},
	 "outputs":{"success":{"elementId":"small"}}},
	{"id":"big","type":"model","properties":{"provider":"openai","model":"gpt-4o","timeout":5000,"retries":2},
	 "outputs":{"success":{"elementId":"done"},"fallback":{"elementId":"small"}}},
	{"id":"small","type":"model","properties":{"provider":"workers-ai","model":"llama"},"outputs":{"success":{"elementId":"done"}}},
	{"id":"done","type":"end"}
]`

func TestWalk(t *testing.T) {
	g := compile(t, everyKind)
	header := http.Header{}
	header.Set("X-Team", "search")
	paid := NewView(map[string]any{"plan": "paid", "user_id": "u1"}, nil, header.Get)
	free := NewView(map[string]any{"plan": "free"}, nil, header.Get)
	anonymous := NewView(map[string]any{"plan": "free"}, nil, nil)
	draw := func(r float64) func() float64 { return func() float64 { return r } }
	cases := []struct {
		name     string
		view     View
		random   float64
		outcomes map[string]Outcome
		steps    []string
		visits   []string
	}{
		{"paid, under quota, model answers", paid, 0, nil,
			[]string{"limit quota key=u1", "model big openai/gpt-4o", "end done answered"},
			[]string{"s start next", "plan conditional true", "quota rate_limit success", "big model success", "done end"}},
		{"paid, over quota, fallback model answers", paid, 0, map[string]Outcome{"quota": OutcomeFallback},
			[]string{"limit quota key=u1", "model small workers-ai/llama", "end done answered"},
			[]string{"s start next", "plan conditional true", "quota rate_limit fallback", "small model success", "done end"}},
		{"paid, model fails over to the fallback model", paid, 0, map[string]Outcome{"big": OutcomeFallback},
			[]string{"limit quota key=u1", "model big openai/gpt-4o", "model small workers-ai/llama", "end done answered"},
			[]string{"s start next", "plan conditional true", "quota rate_limit success", "big model fallback", "small model success", "done end"}},
		{"paid, both models fail", paid, 0, map[string]Outcome{"big": OutcomeFallback, "small": OutcomeFallback},
			[]string{"limit quota key=u1", "model big openai/gpt-4o", "model small workers-ai/llama", "end small failed at small"},
			[]string{"s start next", "plan conditional true", "quota rate_limit success", "big model fallback", "small model"}},
		{"free, split to else", free, 0.3, nil,
			[]string{"model small workers-ai/llama", "end done answered"},
			[]string{"s start next", "plan conditional false", "split percentage else", "small model success", "done end"}},
		{"free, split to the budget, under it", free, 0.29, nil,
			[]string{"limit budget key=search", "model small workers-ai/llama", "end done answered"},
			[]string{"s start next", "plan conditional false", "split percentage 30%", "budget rate_limit success", "small model success", "done end"}},
		{"free, budget spent, no fallback: refused", free, 0, map[string]Outcome{"budget": OutcomeFallback},
			[]string{"limit budget key=search", "end budget refused by budget"},
			[]string{"s start next", "plan conditional false", "split percentage 30%", "budget rate_limit"}},
		{"no team header: the key is missing", anonymous, 0, map[string]Outcome{"budget": OutcomeFallback},
			[]string{"limit budget key missing", "end budget refused by budget"},
			[]string{"s start next", "plan conditional false", "split percentage 30%", "budget rate_limit"}},
		{"nil view reads as an empty request", nil, 0.9, nil,
			[]string{"model small workers-ai/llama", "end done answered"},
			[]string{"s start next", "plan conditional false", "split percentage else", "small model success", "done end"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := walk(t, g, tc.view, draw(tc.random), tc.outcomes)
			if !reflect.DeepEqual(r.steps, tc.steps) {
				t.Errorf("steps\n got %q\nwant %q", r.steps, tc.steps)
			}
			if !reflect.DeepEqual(r.visits, tc.visits) {
				t.Errorf("visits\n got %q\nwant %q", r.visits, tc.visits)
			}
		})
	}
}

func TestWalkStartStraightToEnd(t *testing.T) {
	g := compile(t, route(start("end"), endEl))
	r := walk(t, g, nil, nil, nil)
	if !reflect.DeepEqual(r.steps, []string{"end end"}) || !reflect.DeepEqual(r.visits, []string{"s start next", "end end"}) {
		t.Fatalf("steps %q visits %q", r.steps, r.visits)
	}
	if r.end.Answered || r.end.Refused != nil || r.end.Failed != nil {
		t.Fatalf("an end without a model is not answered: %+v", r.end)
	}
}

func TestWalkerRepeatsItsStep(t *testing.T) {
	g := compile(t, everyKind)
	w := g.Walk(NewView(map[string]any{"plan": "paid", "user_id": 7.0}, nil, nil), rand.New(rand.NewSource(1)).Float64)
	first := w.Next(OutcomeSuccess) // the first call starts the walk whatever the outcome
	if first.Kind != StepLimit || first.Node.ID != "quota" || first.LimitKey != "7" {
		t.Fatalf("first step %+v", first)
	}
	if again := w.Next(OutcomeNone); again != first {
		t.Fatalf("OutcomeNone while a step waits: %+v, want the same step", again)
	}
	if len(w.Visits()) != 3 {
		t.Fatalf("repeating a step added visits: %v", w.Visits())
	}
	w.Next(OutcomeSuccess)
	end := w.Next(OutcomeSuccess)
	if end.Kind != StepEnd || !end.Answered {
		t.Fatalf("end %+v", end)
	}
	for _, o := range []Outcome{OutcomeNone, OutcomeSuccess, OutcomeFallback} {
		if again := w.Next(o); again != end {
			t.Fatalf("Next(%d) after the end: %+v", o, again)
		}
	}
	visits := w.Visits()
	visits[0].Output = "changed"
	if w.Visits()[0].Output != "next" {
		t.Fatal("Visits shares the walker's slice")
	}
}

func TestWalkNeedsRandomnessOnlyForPercentages(t *testing.T) {
	g := compile(t, route(start("p"), percentageEl(`{"100%":{"elementId":"end"}}`), endEl))
	defer func() {
		if recover() == nil {
			t.Fatal("Walk without a random source on a route with a percentage did not panic")
		}
	}()
	g.Walk(nil, nil)
}

// TestReferenceShapes walks the route shapes of the reference's dynamic routing pages.
func TestReferenceShapes(t *testing.T) {
	t.Run("conditional on metadata.plan", func(t *testing.T) {
		g := compile(t, `[
			{"id":"start","type":"start","outputs":{"next":{"elementId":"cond"}}},
			{"id":"cond","type":"conditional","properties":{"condition":{"metadata.plan":{"$eq":"free"}}},
			 "outputs":{"true":{"elementId":"free"},"false":{"elementId":"paid"}}},
			{"id":"free","type":"model","properties":{"provider":"openai","model":"o4-mini-high"},"outputs":{"success":{"elementId":"end"}}},
			{"id":"paid","type":"model","properties":{"provider":"openai","model":"gpt-4.1"},"outputs":{"success":{"elementId":"end"}}},
			{"id":"end","type":"end"}]`)
		for plan, model := range map[string]string{"free": "model free openai/o4-mini-high", "paid": "model paid openai/gpt-4.1", "": "model paid openai/gpt-4.1"} {
			md := map[string]any{}
			if plan != "" {
				md["plan"] = plan
			}
			r := walk(t, g, NewView(md, nil, nil), nil, nil)
			if r.steps[0] != model || r.steps[1] != "end end answered" {
				t.Errorf("plan %q: %q", plan, r.steps)
			}
		}
	})
	t.Run("10%/50%/else split", func(t *testing.T) {
		g := compile(t, `[
			{"id":"start","type":"start","outputs":{"next":{"elementId":"split"}}},
			{"id":"split","type":"percentage","outputs":{"10%":{"elementId":"a"},"50%":{"elementId":"b"},"else":{"elementId":"c"}}},
			{"id":"a","type":"model","properties":{"provider":"openai","model":"a"},"outputs":{"success":{"elementId":"end"}}},
			{"id":"b","type":"model","properties":{"provider":"openai","model":"b"},"outputs":{"success":{"elementId":"end"}}},
			{"id":"c","type":"model","properties":{"provider":"openai","model":"c"},"outputs":{"success":{"elementId":"end"}}},
			{"id":"end","type":"end"}]`)
		for r, want := range map[float64]string{0: "a", 0.0999: "a", 0.1: "b", 0.5999: "b", 0.6: "c", 0.9999: "c"} {
			got := walk(t, g, nil, func() float64 { return r }, nil)
			if got.steps[0] != "model "+want+" openai/"+want {
				t.Errorf("draw %v: %q, want model %s", r, got.steps[0], want)
			}
		}
	})
	t.Run("rate limit with a fallback model", func(t *testing.T) {
		g := compile(t, `[
			{"id":"start","type":"start","outputs":{"next":{"elementId":"rl"}}},
			{"id":"rl","type":"rate_limit","properties":{"limitType":"count","key":"metadata.user_id","limit":100,"interval":3600,"technique":"sliding"},
			 "outputs":{"success":{"elementId":"node_model_workers_ai"},"fallback":{"elementId":"node_model_openai_mini"}}},
			{"id":"node_model_workers_ai","type":"model","properties":{"provider":"workers-ai","model":"@cf/meta/llama-3.1-8b-instruct"},"outputs":{"success":{"elementId":"end"}}},
			{"id":"node_model_openai_mini","type":"model","properties":{"provider":"openai","model":"gpt-4o-mini"},"outputs":{"success":{"elementId":"end"}}},
			{"id":"end","type":"end"}]`)
		v := func() View { return NewView(map[string]any{"user_id": 12345.0}, nil, nil) }
		admitted := walk(t, g, v(), nil, nil)
		refused := walk(t, g, v(), nil, map[string]Outcome{"rl": OutcomeFallback})
		if !reflect.DeepEqual(admitted.steps, []string{"limit rl key=12345", "model node_model_workers_ai workers-ai/@cf/meta/llama-3.1-8b-instruct", "end end answered"}) {
			t.Errorf("admitted: %q", admitted.steps)
		}
		if !reflect.DeepEqual(refused.steps, []string{"limit rl key=12345", "model node_model_openai_mini openai/gpt-4o-mini", "end end answered"}) {
			t.Errorf("refused: %q", refused.steps)
		}
	})
	t.Run("model with a fallback", func(t *testing.T) {
		g := compile(t, `[
			{"id":"start","type":"start","outputs":{"next":{"elementId":"primary"}}},
			{"id":"primary","type":"model","properties":{"provider":"openai","model":"gpt-4o-mini","timeout":60000,"retries":4},
			 "outputs":{"success":{"elementId":"end"},"fallback":{"elementId":"backup"}}},
			{"id":"backup","type":"model","properties":{"provider":"anthropic","model":"claude-3-5-haiku"},"outputs":{"success":{"elementId":"end"}}},
			{"id":"end","type":"end"}]`)
		if g.Node("primary").Model.Timeout.Milliseconds() != 60000 || g.Node("primary").Model.Retries != 4 {
			t.Fatalf("primary %+v", g.Node("primary").Model)
		}
		timedOut := walk(t, g, nil, nil, map[string]Outcome{"primary": OutcomeFallback})
		if !reflect.DeepEqual(timedOut.steps, []string{"model primary openai/gpt-4o-mini", "model backup anthropic/claude-3-5-haiku", "end end answered"}) {
			t.Errorf("timed out: %q", timedOut.steps)
		}
		if !reflect.DeepEqual(timedOut.visits, []string{"start start next", "primary model fallback", "backup model success", "end end"}) {
			t.Errorf("visits: %q", timedOut.visits)
		}
	})
}

func TestLimitKey(t *testing.T) {
	body := []byte(`{"user":{"id":7,"org":"acme","tags":["a",1]},"big":1e21,"small":0.000001,"neg":-2.50,"flag":false,"none":null}`)
	header := http.Header{}
	header.Set("X-User", "alice")
	v := NewView(map[string]any{"user_id": "u-1", "n": 42.0, "f": 1.5, "b": true, "i": 7, "num": json.Number("1.0"), "empty": ""}, body, header.Get)
	cases := []struct {
		key     string
		want    string
		missing bool
	}{
		{"metadata.user_id", "u-1", false},
		{"metadata.n", "42", false},
		{"metadata.f", "1.5", false},
		{"metadata.b", "true", false},
		{"metadata.i", "7", false},
		{"metadata.num", "1", false},
		{"metadata.empty", "", false},
		{"metadata.nope", "", true},
		{"headers.x-user", "alice", false},
		{"headers.x-nope", "", true},
		{"body.user.id", "7", false},
		{"body.user.org", "acme", false},
		{"body.user.tags", `["a",1]`, false},
		{"body.user", `{"id":7,"org":"acme","tags":["a",1]}`, false},
		{"body.big", "1000000000000000000000", false},
		{"body.small", "0.000001", false},
		{"body.neg", "-2.5", false},
		{"body.flag", "false", false},
		{"body.none", "", true},
		{"body.user.nope", "", true},
	}
	for _, tc := range cases {
		val, found := v.Lookup(tc.key)
		got, missing := keyText(val, found)
		if got != tc.want || missing != tc.missing {
			t.Errorf("%s: got %q missing %v, want %q missing %v", tc.key, got, missing, tc.want, tc.missing)
		}
	}
}

func TestPercentageDistribution(t *testing.T) {
	const draws = 100_000
	cases := []struct {
		name    string
		outputs string
		want    map[string]float64 // output -> share in percent
	}{
		{"10%/50%/else", `{"10%":{"elementId":"a"},"50%":{"elementId":"b"},"else":{"elementId":"c"}}`,
			map[string]float64{"10%": 10, "50%": 50, "else": 40}},
		{"33.3%/33.3%/33.4%", `{"33.3%":{"elementId":"a"},"33.30%":{"elementId":"b"},"33.4%":{"elementId":"c"}}`,
			map[string]float64{"33.3%": 33.3, "33.30%": 33.3, "33.4%": 33.4}},
		{"12.5%/37.5%/50%", `{"12.5%":{"elementId":"a"},"37.5%":{"elementId":"b"},"50%":{"elementId":"c"}}`,
			map[string]float64{"12.5%": 12.5, "37.5%": 37.5, "50%": 50}},
		{"five outputs and else", `{"1%":{"elementId":"a"},"2%":{"elementId":"a"},"5%":{"elementId":"b"},"20%":{"elementId":"b"},"0.5%":{"elementId":"c"},"else":{"elementId":"c"}}`,
			map[string]float64{"1%": 1, "2%": 2, "5%": 5, "20%": 20, "0.5%": 0.5, "else": 71.5}},
	}
	models := `{"id":"a","type":"model","properties":{"provider":"p","model":"a"},"outputs":{"success":{"elementId":"end"}}},
		{"id":"b","type":"model","properties":{"provider":"p","model":"b"},"outputs":{"success":{"elementId":"end"}}},
		{"id":"c","type":"model","properties":{"provider":"p","model":"c"},"outputs":{"success":{"elementId":"end"}}}`
	for seed, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := compile(t, route(start("p"), percentageEl(tc.outputs), models, endEl))
			rng := rand.New(rand.NewSource(int64(seed + 1)))
			counts := map[string]int{}
			for i := 0; i < draws; i++ {
				w := g.Walk(nil, rng.Float64)
				w.Next(OutcomeNone)
				counts[w.Visits()[1].Output]++
			}
			for name, share := range tc.want {
				got := float64(counts[name]) * 100 / draws
				if got < share-1 || got > share+1 {
					t.Errorf("%s: %.2f%% of draws, want %.1f%% ± 1", name, got, share)
				}
			}
		})
	}
}

func TestPickEdges(t *testing.T) {
	g := compile(t, route(start("p"), percentageEl(`{"33.3%":{"elementId":"m"},"33.30%":{"elementId":"m"},"33.4%":{"elementId":"m"}}`), modelOK, endEl))
	split := g.Node("p")
	for r, want := range map[float64]string{0: "33.3%", 0.3329: "33.3%", 0.3331: "33.30%", 0.6659: "33.30%", 0.6661: "33.4%", 0.99999999999999: "33.4%", 1: "33.4%", -1: "33.3%"} {
		if got := pick(split, r).Name; got != want {
			t.Errorf("pick(%v) = %s, want %s", r, got, want)
		}
	}
	withElse := compile(t, route(start("p"), percentageEl(`{"10%":{"elementId":"m"},"else":{"elementId":"end"}}`), modelOK, endEl)).Node("p")
	for r, want := range map[float64]string{0.05: "10%", 0.1: "else", 1: "else", 5: "else"} {
		if got := pick(withElse, r).Name; got != want {
			t.Errorf("pick(%v) = %s, want %s", r, got, want)
		}
	}
}

// TestConcurrentWalks walks one graph from many goroutines: a compiled graph and its
// conditions are shared read-only (run with -race).
func TestConcurrentWalks(t *testing.T) {
	g := compile(t, everyKind)
	done := make(chan string, 8)
	for i := 0; i < 8; i++ {
		go func(seed int64) {
			rng := rand.New(rand.NewSource(seed))
			last := ""
			for j := 0; j < 200; j++ {
				plan := "free"
				if j%2 == 0 {
					plan = "paid"
				}
				w := g.Walk(NewView(map[string]any{"plan": plan, "user_id": float64(j)}, nil, nil), rng.Float64)
				step := w.Next(OutcomeNone)
				for step.Kind != StepEnd {
					step = w.Next(Outcome(1 + rng.Intn(2)))
				}
				last = step.Node.ID
			}
			done <- last
		}(int64(i))
	}
	for i := 0; i < 8; i++ {
		if id := <-done; g.Node(id) == nil {
			t.Errorf("walk ended at %q", id)
		}
	}
}
