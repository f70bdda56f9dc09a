// compile_test.go checks that Compile finds every validation problem, names the right
// element, sorts problems deterministically and compiles valid routes to the right nodes.
package flows

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// elements decodes a JSON array of elements for a test.
func elements(t testing.TB, data string) []Element {
	t.Helper()
	els, err := ParseElements([]byte(data))
	if err != nil {
		t.Fatalf("ParseElements: %v", err)
	}
	return els
}

// Small building blocks for test routes.
const (
	startTo = `{"id":"s","type":"start","outputs":{"next":{"elementId":"%s"}}}`
	endEl   = `{"id":"end","type":"end"}`
	modelOK = `{"id":"m","type":"model","properties":{"provider":"openai","model":"gpt-4o-mini"},"outputs":{"success":{"elementId":"end"}}}`
)

func route(parts ...string) string { return "[" + strings.Join(parts, ",") + "]" }

func start(to string) string { return strings.Replace(startTo, "%s", to, 1) }

func limitEl(props string) string {
	return `{"id":"rl","type":"rate_limit","properties":` + props + `,"outputs":{"success":{"elementId":"m"}}}`
}

func modelEl(props string) string {
	return `{"id":"mm","type":"model","properties":` + props + `,"outputs":{"success":{"elementId":"end"}}}`
}

func condEl(cond string) string {
	return `{"id":"c","type":"conditional","properties":{"condition":` + cond + `},"outputs":{"true":{"elementId":"m"},"false":{"elementId":"end"}}}`
}

func percentageEl(outputs string) string {
	return `{"id":"p","type":"percentage","outputs":` + outputs + `}`
}

func TestCompileProblems(t *testing.T) {
	goodLimit := `{"limitType":"count","key":"metadata.user_id","limit":10,"interval":600,"technique":"fixed"}`
	withLimit := func(props string) string { return route(start("rl"), limitEl(props), modelOK, endEl) }
	withModel := func(props string) string { return route(start("mm"), modelEl(props), endEl) }
	withCond := func(cond string) string { return route(start("c"), condEl(cond), modelOK, endEl) }
	withSplit := func(outputs string) string { return route(start("p"), percentageEl(outputs), modelOK, endEl) }
	split := func(names ...string) string {
		outs := make([]string, len(names))
		for i, n := range names {
			outs[i] = `"` + n + `":{"elementId":"m"}`
		}
		return "{" + strings.Join(outs, ",") + "}"
	}
	cases := []struct {
		name     string
		elements string
		id       string // the element the problem names
		message  string // part of its message
	}{
		{"no start", route(modelOK, endEl), "", "route has no start element"},
		{"two starts", route(start("m"), `{"id":"s2","type":"start","outputs":{"next":{"elementId":"m"}}}`, modelOK, endEl), "s2", `a second start element (the first is "s")`},
		{"empty id", route(start("m"), modelOK, endEl, `{"id":"","type":"end"}`), "", "element 4 (no id): every element needs an id"},
		{"duplicate id", route(start("m"), modelOK, endEl, `{"id":"m","type":"end"}`), "m", "the id is used again (first by element 2)"},
		{"unknown type", route(start("x"), `{"id":"x","type":"router","outputs":{"next":{"elementId":"end"}}}`, endEl), "x", `unknown type "router"`},
		{"no type", route(start("x"), `{"id":"x","outputs":{"next":{"elementId":"end"}}}`, endEl), "x", "element has no type"},
		{"unknown output of start", route(`{"id":"s","type":"start","outputs":{"next":{"elementId":"m"},"then":{"elementId":"m"}}}`, modelOK, endEl), "s", `unknown output "then" for a start element (its outputs are next)`},
		{"unknown output of conditional", route(start("c"), `{"id":"c","type":"conditional","properties":{"condition":{}},"outputs":{"true":{"elementId":"m"},"false":{"elementId":"end"},"maybe":{"elementId":"end"}}}`, modelOK, endEl), "c", `unknown output "maybe"`},
		{"unknown output of model", route(start("m"), `{"id":"m","type":"model","properties":{"provider":"openai","model":"x"},"outputs":{"success":{"elementId":"end"},"error":{"elementId":"end"}}}`, endEl), "m", `unknown output "error" for a model element (its outputs are success, fallback)`},
		{"start without next", route(`{"id":"s","type":"start"}`, endEl), "s", `start needs a "next" output`},
		{"conditional without false", route(start("c"), `{"id":"c","type":"conditional","properties":{"condition":{}},"outputs":{"true":{"elementId":"end"}}}`, endEl), "c", `conditional needs a "false" output`},
		{"conditional without true", route(start("c"), `{"id":"c","type":"conditional","properties":{"condition":{}},"outputs":{"false":{"elementId":"end"}}}`, endEl), "c", `conditional needs a "true" output`},
		{"rate_limit without success", route(start("rl"), `{"id":"rl","type":"rate_limit","properties":`+goodLimit+`,"outputs":{"fallback":{"elementId":"m"}}}`, modelOK, endEl), "rl", `rate_limit needs a "success" output`},
		{"model without success", route(start("m"), `{"id":"m","type":"model","properties":{"provider":"openai","model":"x"},"outputs":{"fallback":{"elementId":"end"}}}`, endEl), "m", `model needs a "success" output`},
		{"percentage without outputs", route(start("p"), `{"id":"p","type":"percentage"}`, endEl), "p", `percentage needs at least one output such as "50%"`},
		{"percentage with only else", withSplit(split("else")), "p", `percentage needs at least one output such as "50%"`},
		{"dangling output", route(start("nowhere"), endEl), "s", `output "next" leads to "nowhere", which is not an element of the route`},
		{"output without elementId", route(`{"id":"s","type":"start","outputs":{"next":{}}}`, endEl), "s", `output "next" has no elementId`},
		{"output to the start", route(start("c"), `{"id":"c","type":"conditional","properties":{"condition":{}},"outputs":{"true":{"elementId":"end"},"false":{"elementId":"s"}}}`, endEl), "c", `output "false" leads back to the start element "s"`},
		{"unreachable", route(start("m"), modelOK, endEl, `{"id":"lonely","type":"end"}`), "lonely", "not reachable from the start element"},
		{"cycle", route(start("a"),
			`{"id":"a","type":"rate_limit","properties":`+goodLimit+`,"outputs":{"success":{"elementId":"b"}}}`,
			`{"id":"b","type":"conditional","properties":{"condition":{}},"outputs":{"true":{"elementId":"a"},"false":{"elementId":"end"}}}`, endEl),
			"b", `output "true" leads back to "a", a cycle: a -> b -> a`},
		{"percentage over 5 outputs", withSplit(split("10%", "20%", "30%", "5%", "15%", "20.5%")), "p", "percentage has 6 percentage outputs; at most 5"},
		{"percentage 5 outputs and else is fine but over 100", withSplit(split("10%", "20%", "30%", "40%", "15%", "else")), "p", "add up to 115%, over 100%"},
		{"percentage name not a number", withSplit(split("half", "else")), "p", `output "half" is not a percentage such as "10%" or "12.5%", nor "else"`},
		{"percentage name with space", withSplit(split("10 %", "else")), "p", `output "10 %" is not a percentage`},
		{"percentage name negative", withSplit(split("-5%", "else")), "p", `output "-5%" is not a percentage`},
		{"percentage name without digits before point", withSplit(split(".5%", "else")), "p", `output ".5%" is not a percentage`},
		{"percentage zero weight", withSplit(split("0%", "50%", "else")), "p", `output "0%" has no weight: a percentage must be more than 0`},
		{"percentage over 100", withSplit(split("60%", "50.5%")), "p", "percentage outputs add up to 110.5%, over 100%"},
		{"percentage under 100 without else", withSplit(split("10%", "50%")), "p", `percentage outputs add up to 60% and there is no "else" output for the other 40%`},
		{"limitType missing", withLimit(`{"key":"metadata.user_id","limit":10,"interval":600,"technique":"fixed"}`), "rl", `rate_limit needs a limitType ("count" or "cost")`},
		{"limitType wrong", withLimit(`{"limitType":"tokens","key":"metadata.user_id","limit":10,"interval":600,"technique":"fixed"}`), "rl", `limitType "tokens" is not "count" or "cost"`},
		{"technique missing", withLimit(`{"limitType":"count","key":"metadata.user_id","limit":10,"interval":600}`), "rl", `rate_limit needs a technique ("fixed" or "sliding")`},
		{"technique wrong", withLimit(`{"limitType":"count","key":"metadata.user_id","limit":10,"interval":600,"technique":"leaky"}`), "rl", `technique "leaky" is not "fixed" or "sliding"`},
		{"interval missing", withLimit(`{"limitType":"count","key":"metadata.user_id","limit":10,"technique":"fixed"}`), "rl", "rate_limit needs an interval in seconds"},
		{"interval zero", withLimit(`{"limitType":"count","key":"metadata.user_id","limit":10,"interval":0,"technique":"fixed"}`), "rl", "interval must be from 1 to 31536000 seconds"},
		{"interval over a year", withLimit(`{"limitType":"count","key":"metadata.user_id","limit":10,"interval":31536001,"technique":"fixed"}`), "rl", "interval must be from 1 to 31536000 seconds"},
		{"interval fractional", withLimit(`{"limitType":"count","key":"metadata.user_id","limit":10,"interval":1.5,"technique":"fixed"}`), "rl", "interval must be a whole number of seconds"},
		{"interval a string", withLimit(`{"limitType":"count","key":"metadata.user_id","limit":10,"interval":"600","technique":"fixed"}`), "rl", "interval must be a whole number of seconds"},
		{"limit missing", withLimit(`{"limitType":"count","key":"metadata.user_id","interval":600,"technique":"fixed"}`), "rl", "rate_limit needs a limit"},
		{"limit zero", withLimit(`{"limitType":"count","key":"metadata.user_id","limit":0,"interval":600,"technique":"fixed"}`), "rl", "limit must be more than 0"},
		{"limit negative", withLimit(`{"limitType":"cost","key":"metadata.user_id","limit":-1,"interval":600,"technique":"fixed"}`), "rl", "limit must be more than 0"},
		{"limit a string", withLimit(`{"limitType":"count","key":"metadata.user_id","limit":"10","interval":600,"technique":"fixed"}`), "rl", "limit must be a number"},
		{"count limit fractional", withLimit(`{"limitType":"count","key":"metadata.user_id","limit":2.5,"interval":600,"technique":"fixed"}`), "rl", "a count limit is a whole number of requests"},
		{"key missing", withLimit(`{"limitType":"count","limit":10,"interval":600,"technique":"fixed"}`), "rl", `rate_limit needs a key, a request path such as "metadata.user_id"`},
		{"key not a path", withLimit(`{"limitType":"count","key":"user_id","limit":10,"interval":600,"technique":"fixed"}`), "rl", `key "user_id" is not a request path`},
		{"key with an unknown root", withLimit(`{"limitType":"count","key":"query.user","limit":10,"interval":600,"technique":"fixed"}`), "rl", `key "query.user" is not a request path`},
		{"key naming no field", withLimit(`{"limitType":"count","key":"metadata.","limit":10,"interval":600,"technique":"fixed"}`), "rl", `key "metadata." is not a request path`},
		{"key with an empty body segment", withLimit(`{"limitType":"count","key":"body.user..id","limit":10,"interval":600,"technique":"fixed"}`), "rl", `key "body.user..id" has an empty segment`},
		{"key a number", withLimit(`{"limitType":"count","key":5,"limit":10,"interval":600,"technique":"fixed"}`), "rl", "key must be a string"},
		{"limit properties not an object", route(start("rl"), `{"id":"rl","type":"rate_limit","properties":[1],"outputs":{"success":{"elementId":"m"}}}`, modelOK, endEl), "rl", "properties must be a JSON object"},
		{"model without provider", withModel(`{"model":"gpt-4o-mini"}`), "mm", "model needs a provider"},
		{"model with empty provider", withModel(`{"provider":" ","model":"gpt-4o-mini"}`), "mm", "model needs a provider"},
		{"model without model", withModel(`{"provider":"openai"}`), "mm", "model needs a model"},
		{"model without properties", route(start("mm"), `{"id":"mm","type":"model","outputs":{"success":{"elementId":"end"}}}`, endEl), "mm", "model needs a provider"},
		{"provider not a string", withModel(`{"provider":1,"model":"x"}`), "mm", "provider must be a string"},
		{"timeout negative", withModel(`{"provider":"openai","model":"x","timeout":-1}`), "mm", "timeout must be from 0 (none) to 3600000 milliseconds"},
		{"timeout too long", withModel(`{"provider":"openai","model":"x","timeout":3600001}`), "mm", "timeout must be from 0 (none) to 3600000 milliseconds"},
		{"timeout fractional", withModel(`{"provider":"openai","model":"x","timeout":1.5}`), "mm", "timeout must be a whole number of milliseconds"},
		{"timeout a string", withModel(`{"provider":"openai","model":"x","timeout":"5s"}`), "mm", "timeout must be a whole number of milliseconds"},
		{"retries over 10", withModel(`{"provider":"openai","model":"x","retries":11}`), "mm", "retries must be a whole number from 0 to 10"},
		{"retries negative", withModel(`{"provider":"openai","model":"x","retries":-1}`), "mm", "retries must be a whole number from 0 to 10"},
		{"retries fractional", withModel(`{"provider":"openai","model":"x","retries":0.5}`), "mm", "retries must be a whole number from 0 to 10"},
		{"condition missing", route(start("c"), `{"id":"c","type":"conditional","outputs":{"true":{"elementId":"m"},"false":{"elementId":"end"}}}`, modelOK, endEl), "c", "conditional needs a condition"},
		{"condition not an object", withCond(`"metadata.plan == paid"`), "c", "condition does not compile: condition must be a JSON object"},
		{"condition with an unknown operator", withCond(`{"metadata.plan":{"$like":"paid"}}`), "c", `condition does not compile: "metadata.plan": unknown operator "$like"`},
		{"condition with a bad regex", withCond(`{"body.model":{"$regex":"gpt-(4"}}`), "c", `condition does not compile: "body.model": $regex "gpt-(4" does not compile: missing closing )`},
		{"condition with a bad path", withCond(`{"plan":"paid"}`), "c", `condition does not compile: "plan" is not a request path`},
		{"condition with $in not an array", withCond(`{"metadata.plan":{"$in":"paid"}}`), "c", "$in takes an array"},
		{"model success not to an end", route(start("m1"),
			`{"id":"m1","type":"model","properties":{"provider":"openai","model":"a"},"outputs":{"success":{"elementId":"m"}}}`, modelOK, endEl),
			"m1", `a model's success output must lead directly to an end element, not to a model "m"`},
		{"end with outputs", route(start("m"), modelOK, `{"id":"end","type":"end","outputs":{"next":{"elementId":"m"}}}`), "end", `an end element has no outputs (it has "next")`},
		{"a path that never reaches an end", route(start("c"),
			`{"id":"c","type":"conditional","properties":{"condition":{}},"outputs":{"true":{"elementId":"m"},"false":{"elementId":"c2"}}}`,
			`{"id":"c2","type":"conditional","properties":{"condition":{}}}`, modelOK, endEl),
			"c2", "no path from here reaches an end element"},
		{"a route that never reaches an end", route(start("rl"),
			`{"id":"rl","type":"rate_limit","properties":`+goodLimit+`}`),
			"s", "no path from here reaches an end element"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, problems := Compile(elements(t, tc.elements))
			if g != nil {
				t.Fatalf("compiled a route with problems")
			}
			for _, p := range problems {
				if p.ElementID == tc.id && strings.Contains(p.Message, tc.message) {
					return
				}
			}
			t.Fatalf("no problem on element %q containing %q; got:\n%s", tc.id, tc.message, strings.ReplaceAll(problems.Error(), "; ", "\n"))
		})
	}
}

func TestCompileReportsEveryProblemInElementOrder(t *testing.T) {
	data := route(
		`{"id":"s","type":"start","outputs":{"next":{"elementId":"c"}}}`,
		`{"id":"c","type":"conditional","properties":{"condition":{"metadata.plan":{"$bad":1}}},"outputs":{"true":{"elementId":"m"}}}`,
		`{"id":"m","type":"model","properties":{"provider":"openai"},"outputs":{"success":{"elementId":"ghost"}}}`,
		`{"id":"rl","type":"rate","properties":{"limitType":"count","key":"metadata.u","limit":0,"interval":10,"technique":"fixed"},"outputs":{"success":{"elementId":"end"}}}`,
		endEl,
	)
	want := Problems{
		{"s", "no path from here reaches an end element"},
		{"c", `condition does not compile: "metadata.plan": unknown operator "$bad"`},
		{"c", `conditional needs a "false" output`},
		{"m", "model needs a model"},
		{"m", `output "success" leads to "ghost", which is not an element of the route`},
		{"rl", "limit must be more than 0"},
		{"rl", "not reachable from the start element"},
		{"end", "not reachable from the start element"},
	}
	for round := 0; round < 5; round++ { // map order must not matter
		g, problems := Compile(elements(t, data))
		if g != nil || !reflect.DeepEqual(problems, want) {
			t.Fatalf("round %d: got\n%s\nwant\n%s", round, problems.Error(), want.Error())
		}
	}
}

func TestCompileValidRoute(t *testing.T) {
	data := route(
		`{"id":"s","type":"start","outputs":{"next":{"elementId":"split"}}}`,
		`{"id":"split","type":"percentage","outputs":{"50%":{"elementId":"rl"},"12.5%":{"elementId":"m2"},"else":{"elementId":"m2"}}}`,
		`{"id":"rl","type":"rate","properties":{"limitType":"cost","key":"headers.x-team","limit":2.5,"interval":3600,"technique":"sliding"},"outputs":{"success":{"elementId":"m1"},"fallback":{"elementId":"m2"}}}`,
		`{"id":"m1","type":"model","properties":{"provider":"openai","model":"gpt-4o","timeout":60000,"retries":4},"outputs":{"success":{"elementId":"end"},"fallback":{"elementId":"m2"}}}`,
		`{"id":"m2","type":"model","properties":{"provider":"workers-ai","model":"@cf/meta/llama-3.1-8b-instruct","timeout":null},"outputs":{"success":{"elementId":"end"}}}`,
		`{"id":"end","type":"end","outputs":{}}`,
	)
	g, problems := Compile(elements(t, data))
	if problems != nil {
		t.Fatalf("problems: %v", problems)
	}
	if g.Start().ID != "s" || g.Node("nope") != nil || len(g.Nodes()) != 6 {
		t.Fatalf("start %q, nodes %d", g.Start().ID, len(g.Nodes()))
	}
	for i, id := range []string{"s", "split", "rl", "m1", "m2", "end"} {
		if g.Nodes()[i].ID != id || g.Node(id) != g.Nodes()[i] {
			t.Fatalf("node %d is %q, want %q", i, g.Nodes()[i].ID, id)
		}
	}
	rl := g.Node("rl")
	if rl.Kind != KindRateLimit || *rl.Limit != (LimitSpec{Cost: true, Key: "headers.x-team", Limit: 2.5, Interval: time.Hour, Sliding: true}) {
		t.Fatalf("rl: %v %+v", rl.Kind, rl.Limit)
	}
	if m1 := g.Node("m1"); *m1.Model != (ModelSpec{Provider: "openai", Model: "gpt-4o", Timeout: time.Minute, Retries: 4}) {
		t.Fatalf("m1: %+v", m1.Model)
	}
	if m2 := g.Node("m2"); *m2.Model != (ModelSpec{Provider: "workers-ai", Model: "@cf/meta/llama-3.1-8b-instruct"}) {
		t.Fatalf("m2: %+v", m2.Model)
	}
	var names []string
	var weights []float64
	for _, e := range g.Node("split").Outputs {
		names = append(names, e.Name+"->"+e.To.ID)
		weights = append(weights, e.Weight)
	}
	if !reflect.DeepEqual(names, []string{"12.5%->m2", "50%->rl", "else->m2"}) || !reflect.DeepEqual(weights, []float64{12.5, 50, 0}) {
		t.Fatalf("split outputs %v weights %v", names, weights)
	}
	if out := g.Node("m1").Outputs; len(out) != 2 || out[0].Name != "fallback" || out[1].Name != "success" {
		t.Fatalf("m1 outputs not sorted by name: %+v", out)
	}
}

func TestCompileAcceptsPercentagesThatRoundToOneHundred(t *testing.T) {
	split := percentageEl(`{"33.3%":{"elementId":"m"},"33.4%":{"elementId":"m"},"33.30%":{"elementId":"m"}}`)
	if _, problems := Compile(elements(t, route(start("p"), split, modelOK, endEl))); problems != nil {
		t.Fatalf("problems: %v", problems)
	}
}
