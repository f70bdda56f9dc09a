// render_test.go checks the text rendering of a compiled route.
package flows

import "testing"

func TestGraphString(t *testing.T) {
	g := compile(t, `[
		{"id":"start","type":"start","outputs":{"next":{"elementId":"cond1"}}},
		{"id":"cond1","type":"conditional","properties":{"condition":{ "metadata.plan" : {"$eq":"paid"}}},
		 "outputs":{"false":{"elementId":"split"},"true":{"elementId":"rl"}}},
		{"id":"rl","type":"rate","properties":{"limitType":"count","key":"metadata.user_id","limit":10,"interval":600,"technique":"sliding"},
		 "outputs":{"success":{"elementId":"m1"},"fallback":{"elementId":"m2"}}},
		{"id":"split","type":"percentage","outputs":{"50%":{"elementId":"m2"},"10%":{"elementId":"budget"},"else":{"elementId":"m1"}}},
		{"id":"budget","type":"rate_limit","properties":{"limitType":"cost","key":"headers.x-team","limit":2.5,"interval":86400,"technique":"fixed"},
		 "outputs":{"success":{"elementId":"m2"}}},
		{"id":"m1","type":"model","properties":{"provider":"openai","model":"gpt-4o-mini","timeout":5000,"retries":2},
		 "outputs":{"success":{"elementId":"end"},"fallback":{"elementId":"m2"}}},
		{"id":"m2","type":"model","properties":{"provider":"anthropic","model":"claude-3-5-haiku"},"outputs":{"success":{"elementId":"done"}}},
		{"id":"end","type":"end"},
		{"id":"done","type":"end"}]`)
	want := `start -> next: cond1
cond1 conditional {"metadata.plan":{"$eq":"paid"}} -> true: rl, false: split
rl rate_limit count 10 per 600s sliding on metadata.user_id -> success: m1, fallback: m2
split percentage -> 10%: budget, 50%: m2, else: m1
budget rate_limit cost 2.5 per 86400s fixed on headers.x-team -> success: m2
m1 model openai/gpt-4o-mini timeout 5s retries 2 -> success: end, fallback: m2
m2 model anthropic/claude-3-5-haiku -> success: done
end
done end
`
	if got := g.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
