// fuzz_test.go holds the fuzz targets: the route parser and compiler on arbitrary bytes,
// with every compiled graph walked under random outcomes, and conditions matched against
// arbitrary requests. Seeds are the reference's route shapes.
package flows

import (
	"encoding/json"
	"math/rand"
	"testing"
)

var referenceRoutes = []string{
	`{"id":"r1","name":"support","elements":[
		{"id":"start","type":"start","outputs":{"next":{"elementId":"cond"}}},
		{"id":"cond","type":"conditional","properties":{"condition":{"metadata.plan":{"$eq":"free"}}},
		 "outputs":{"true":{"elementId":"free"},"false":{"elementId":"paid"}}},
		{"id":"free","type":"model","properties":{"provider":"openai","model":"o4-mini-high"},"outputs":{"success":{"elementId":"end"}}},
		{"id":"paid","type":"model","properties":{"provider":"openai","model":"gpt-4.1"},"outputs":{"success":{"elementId":"end"}}},
		{"id":"end","type":"end"}]}`,
	`{"id":"r2","name":"ab","elements":[
		{"id":"start","type":"start","outputs":{"next":{"elementId":"split"}}},
		{"id":"split","type":"percentage","outputs":{"10%":{"elementId":"a"},"50%":{"elementId":"b"},"else":{"elementId":"b"}}},
		{"id":"a","type":"model","properties":{"provider":"openai","model":"a"},"outputs":{"success":{"elementId":"end"},"fallback":{"elementId":"b"}}},
		{"id":"b","type":"model","properties":{"provider":"openai","model":"b"},"outputs":{"success":{"elementId":"end"}}},
		{"id":"end","type":"end"}]}`,
	`{"id":"r3","name":"quota","elements":[
		{"id":"start","type":"start","outputs":{"next":{"elementId":"rl"}}},
		{"id":"rl","type":"rate_limit","properties":{"limitType":"count","key":"metadata.user_id","limit":100,"interval":3600,"technique":"sliding"},
		 "outputs":{"success":{"elementId":"node_model_workers_ai"},"fallback":{"elementId":"node_model_openai_mini"}}},
		{"id":"node_model_workers_ai","type":"model","properties":{"provider":"workers-ai","model":"llama"},"outputs":{"success":{"elementId":"end"}}},
		{"id":"node_model_openai_mini","type":"model","properties":{"provider":"openai","model":"gpt-4o-mini","timeout":60000,"retries":4},
		 "outputs":{"success":{"elementId":"end"}}},
		{"id":"end","type":"end"}]}`,
	everyKindRoute,
	`{"elements":[{"id":"s","type":"start","outputs":{"next":{"elementId":"s"}}}]}`,
	`[{"id":"s","type":"start","outputs":{"next":{"elementId":"e"}}},{"id":"e","type":"end"}]`,
}

var everyKindRoute = `{"id":"all","name":"every kind","elements":` + everyKind + `}`

func FuzzParseRoute(f *testing.F) {
	for _, r := range referenceRoutes {
		f.Add([]byte(r), int64(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed int64) {
		var els []Element
		if firstByte(data) == '[' {
			parsed, err := ParseElements(data)
			if err != nil {
				return
			}
			els = parsed
		} else {
			r, err := ParseRoute(data)
			if err != nil {
				return
			}
			els = r.Elements
		}
		g, problems := Compile(els)
		if (g == nil) == (problems == nil) {
			t.Fatalf("Compile returned graph %v and problems %v", g != nil, problems)
		}
		if g == nil {
			for _, p := range problems {
				if p.Message == "" {
					t.Fatalf("a problem without a message: %+v", p)
				}
			}
			return
		}
		_ = g.String()
		rng := rand.New(rand.NewSource(seed))
		metadata := map[string]any{"plan": "paid", "user_id": 42.0}
		if seed%2 == 0 {
			metadata = nil
		}
		w := g.Walk(NewView(metadata, data, nil), rng.Float64)
		step := w.Next(OutcomeNone)
		for steps := 1; step.Kind != StepEnd; steps++ {
			if steps > len(g.Nodes())+1 {
				t.Fatalf("walk took more than %d steps", len(g.Nodes())+1)
			}
			if step.Node == nil || (step.Kind == StepLimit && step.Node.Limit == nil) || (step.Kind == StepModel && step.Node.Model == nil) {
				t.Fatalf("step without its node settings: %+v", step)
			}
			step = w.Next(Outcome(1 + rng.Intn(2)))
		}
		if len(w.Visits()) > len(g.Nodes()) {
			t.Fatalf("%d visits in a graph of %d nodes", len(w.Visits()), len(g.Nodes()))
		}
	})
}

func FuzzCondition(f *testing.F) {
	f.Add([]byte(`{"metadata.plan":{"$eq":"paid"}}`), []byte(`{"plan":"paid","user_id":42}`), []byte(`{"model":"gpt-4o"}`), "x-tier", "3")
	f.Add([]byte(`{"$or":[{"headers.x-tier":{"$gte":2}},{"body.messages.0.role":{"$regex":"^u","$options":"i"}}]}`), []byte(`{}`), []byte(`{"messages":[{"role":"user"}]}`), "X-Tier", "2.5")
	f.Add([]byte(`{"metadata.n":{"$not":{"$in":[1,"1",true,null]}},"$not":{"body.a":{"$exists":false}}}`), []byte(`{"n":1}`), []byte(`not json`), "", "")
	f.Add([]byte(`{"body.a.0.b":{"$lt":"z","$gt":"a"},"metadata.x":null}`), []byte(`{"x":false}`), []byte(`{"a":[{"b":"m"}]}`), "a", "-1e3")
	f.Fuzz(func(t *testing.T, condition, metadata, body []byte, headerName, headerValue string) {
		c, err := ParseCondition(condition)
		if err != nil {
			return
		}
		var md map[string]any
		_ = json.Unmarshal(metadata, &md)
		header := func(name string) string {
			if name == headerName {
				return headerValue
			}
			return ""
		}
		first := c.Match(NewView(md, body, header))
		if again := c.Match(NewView(md, body, header)); again != first {
			t.Fatalf("Match is not deterministic for %s", condition)
		}
		_ = c.String()
	})
}
