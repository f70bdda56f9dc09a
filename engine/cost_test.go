// cost_test.go checks how an exchange is priced: a media model's usage read from the
// request and the answer, null when usage cannot be read, 0 when the provider refused.
package engine

import (
	"testing"

	"github.com/switchyard/switchyard/engine/pricing"
)

func TestExchangeMediaCost(t *testing.T) {
	cases := []struct {
		name, slug, model, req, answer string
		status                         int
		trunc                          bool
		want                           float64 // -1: null
	}{
		{"tts-1 by characters", "openai", "tts-1", `{"model":"tts-1","input":"0123456789"}`, "audio", 200, false, 10 * 0.000015},
		{"dall-e-3 hd by the request", "openai", "dall-e-3", `{"model":"dall-e-3","size":"1792x1024","quality":"hd"}`, `{"data":[{"url":"a"},{"url":"b"}]}`, 200, false, 0.24},
		{"whisper by the answer", "openai", "whisper-1", ``, `{"text":"x","duration":30}`, 200, false, 0.003},
		{"whisper answer cut for the log", "openai", "whisper-1", ``, `{"text":"x","duration":30}`, 200, true, -1},
		{"gpt-4o-mini-tts without usage", "openai", "gpt-4o-mini-tts", `{"input":"hi"}`, "audio", 200, false, -1},
		{"refused media request", "openai", "dall-e-3", `{"model":"dall-e-3"}`, `{"error":{}}`, 400, false, 0},
		{"unknown media model", "fal", "fal-ai/fast-sdxl", `{"prompt":"x"}`, `{"images":[{"url":"a"}]}`, 200, false, -1},
		{"chat answer without usage", "openai", "gpt-4o-mini", `{}`, `{}`, 200, false, -1},
		{"refused chat request without usage", "openai", "gpt-4o-mini", `{}`, `{"error":{}}`, 429, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := &Request{Body: []byte(c.req), CType: "application/json"}
			req.Slug, req.Model = c.slug, c.model
			x := &Exchange{Req: req, Status: c.status, RespBody: []byte(c.answer), RespTrunc: c.trunc}
			got, custom := x.Cost()
			switch {
			case custom:
				t.Fatal("flagged custom")
			case c.want < 0 && got != nil:
				t.Fatalf("cost %v, want null", *got)
			case c.want >= 0 && (got == nil || *got-c.want > 1e-12 || c.want-*got > 1e-12):
				t.Fatalf("cost %v, want %v", got, c.want)
			}
		})
	}
	// cf-aig-custom-cost still prices a media request per token.
	req := &Request{Body: []byte(`{"input":"hi"}`)}
	req.Slug, req.Model, req.CustomCost = "openai", "tts-1", &pricing.Price{Input: 1}
	x := &Exchange{Req: req, Status: 200}
	x.Usage.In = 3
	if got, custom := x.Cost(); got == nil || *got != 3 || !custom {
		t.Fatalf("custom cost on a media model: %v %v", got, custom)
	}
	// A chat answer with its usage is priced from it.
	req = &Request{}
	req.Slug, req.Model = "openai", "gpt-4o-mini"
	x = &Exchange{Req: req, Status: 200}
	x.Usage.In, x.Usage.Out = 1000, 1000
	want, _ := prices.Cost("openai", "gpt-4o-mini", pricing.Usage{In: 1000, Out: 1000})
	if got, _ := x.Cost(); got == nil || *got != want || want == 0 {
		t.Fatalf("chat answer with usage: cost %v, want %v", got, want)
	}
}
