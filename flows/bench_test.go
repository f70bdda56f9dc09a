// bench_test.go measures a compiled route's walk and condition evaluation, the work
// flows adds to each request on a dynamic route.
package flows

import (
	"math/rand"
	"net/http"
	"testing"
)

// benchRoute is the reference shape: a conditional on metadata.plan, then a per-user
// rate limit, then a model, then the end; free users go to a cheaper model.
const benchRoute = `[
	{"id":"start","type":"start","outputs":{"next":{"elementId":"plan"}}},
	{"id":"plan","type":"conditional","properties":{"condition":{"metadata.plan":{"$eq":"paid"}}},
	 "outputs":{"true":{"elementId":"quota"},"false":{"elementId":"cheap"}}},
	{"id":"quota","type":"rate_limit","properties":{"limitType":"count","key":"metadata.user_id","limit":100,"interval":3600,"technique":"sliding"},
	 "outputs":{"success":{"elementId":"best"},"fallback":{"elementId":"cheap"}}},
	{"id":"best","type":"model","properties":{"provider":"openai","model":"gpt-4o","timeout":30000,"retries":2},
	 "outputs":{"success":{"elementId":"end"},"fallback":{"elementId":"cheap"}}},
	{"id":"cheap","type":"model","properties":{"provider":"workers-ai","model":"llama"},"outputs":{"success":{"elementId":"end"}}},
	{"id":"end","type":"end"}
]`

func BenchmarkWalk(b *testing.B) {
	g := compile(b, benchRoute)
	metadata := map[string]any{"plan": "paid", "user_id": "user-1234"}
	random := rand.New(rand.NewSource(1)).Float64
	b.ReportAllocs()
	for b.Loop() {
		w := g.Walk(NewView(metadata, nil, nil), random)
		step := w.Next(OutcomeNone)
		for step.Kind != StepEnd {
			step = w.Next(OutcomeSuccess)
		}
		if !step.Answered {
			b.Fatal("not answered")
		}
	}
}

func BenchmarkCondition(b *testing.B) {
	header := http.Header{}
	header.Set("X-Tier", "3")
	metadata := map[string]any{"plan": "paid", "user_id": 42.0}
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello there"}],"stream":true}`)
	cases := []struct {
		name, condition string
		perRequestView  bool // build the view in the loop, so a body path pays its decode
	}{
		{"eq", `{"metadata.plan":{"$eq":"paid"}}`, false},
		{"and-in-gte-exists", `{"metadata.plan":{"$in":["paid","team"]},"metadata.user_id":{"$gte":18,"$lt":1000},"metadata.org":{"$exists":false}}`, false},
		{"or-header-regex", `{"$or":[{"headers.x-tier":{"$gte":5}},{"metadata.plan":{"$regex":"^pa","$options":"i"}}]}`, false},
		{"body-path-with-decode", `{"body.messages.0.role":"user"}`, true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			c, err := ParseCondition([]byte(tc.condition))
			if err != nil {
				b.Fatal(err)
			}
			view := NewView(metadata, body, header.Get)
			b.ReportAllocs()
			for b.Loop() {
				if tc.perRequestView {
					view = NewView(metadata, body, header.Get)
				}
				if !c.Match(view) {
					b.Fatal("no match")
				}
			}
		})
	}
}
