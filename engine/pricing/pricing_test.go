// pricing_test.go checks model matching, cost arithmetic, the custom-cost header and the
// validation of a price table.
package pricing

import (
	"math"
	"strings"
	"testing"
)

const perM = 1e-6 // one USD per million tokens, per token

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12+1e-9*math.Abs(b) }

func TestLookup(t *testing.T) {
	tab := Default()
	cases := []struct {
		name, provider, model string
		want                  float64 // input price per million; -1 = unknown
		wantOut               float64 // output price per million (checked when want >= 0)
	}{
		{"exact", "openai", "gpt-4o-mini", 0.15, 0.6},
		{"case-insensitive", "OpenAI", "GPT-4o-Mini", 0.15, 0.6},
		{"openai dated snapshot", "openai", "gpt-4o-mini-2024-07-18", 0.15, 0.6},
		{"old gpt-4o snapshot keeps its own price", "openai", "gpt-4o-2024-05-13", 5, 15},
		{"newer gpt-4o snapshot", "openai", "gpt-4o-2024-08-06", 2.5, 10},
		{"gpt-4.1 snapshot", "openai", "gpt-4.1-mini-2025-04-14", 0.4, 1.6},
		{"gpt-5 snapshot", "openai", "gpt-5-2025-08-07", 1.25, 10},
		{"chat-latest alias", "openai", "gpt-5-chat-latest", 1.25, 10},
		{"o3 snapshot", "openai", "o3-2025-04-16", 2, 8},
		{"o4-mini snapshot", "openai", "o4-mini-2025-04-16", 1.1, 4.4},
		{"old four-digit snapshot", "openai", "gpt-3.5-turbo-0125", 0.5, 1.5},
		{"anthropic dated", "anthropic", "claude-3-5-sonnet-20241022", 3, 15},
		{"anthropic latest", "anthropic", "claude-3-7-sonnet-latest", 3, 15},
		{"anthropic 4.5 dated", "anthropic", "claude-sonnet-4-5-20250929", 3, 15},
		{"anthropic haiku 4.5", "anthropic", "claude-haiku-4-5-20251001", 1, 5},
		{"anthropic opus 4.1", "anthropic", "claude-opus-4-1-20250805", 15, 75},
		{"anthropic sonnet 4", "anthropic", "claude-sonnet-4-20250514", 3, 15},
		{"gemini URL form", "google-ai-studio", "models/gemini-2.5-flash", 0.3, 2.5},
		{"gemini URL with method", "google-ai-studio", "models/gemini-2.5-flash:streamGenerateContent", 0.3, 2.5},
		{"gemini preview snapshot", "google-ai-studio", "gemini-2.5-flash-preview-09-2025", 0.3, 2.5},
		{"gemini numbered version", "google-ai-studio", "gemini-2.0-flash-001", 0.1, 0.4},
		{"vertex publisher id", "google-vertex-ai", "google/gemini-2.5-pro", 1.25, 10},
		{"vertex bare model falls back to AI Studio", "google-vertex-ai", "gemini-2.5-flash", 0.3, 2.5},
		{"vertex full resource", "google-vertex-ai", "projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-pro", 1.25, 10},
		{"vertex claude with @ version", "google-vertex-ai", "claude-sonnet-4-5@20250929", 3, 15},
		{"vertex claude resource", "vertex", "publishers/anthropic/models/claude-3-5-haiku@20241022", 0.8, 4},
		{"bedrock anthropic id", "aws-bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0", 3, 15},
		{"bedrock region profile", "aws-bedrock", "us.anthropic.claude-3-5-sonnet-20241022-v2:0", 3, 15},
		{"bedrock global profile", "bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", 3, 15},
		{"bedrock ARN", "aws-bedrock", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0", 0.25, 1.25},
		{"bedrock meta", "aws-bedrock", "meta.llama3-1-70b-instruct-v1:0", 0.72, 0.72},
		{"bedrock meta region profile", "aws-bedrock", "us.meta.llama3-3-70b-instruct-v1:0", 0.72, 0.72},
		{"bedrock nova", "aws-bedrock", "amazon.nova-pro-v1:0", 0.8, 3.2},
		{"workers-ai @cf", "workers-ai", "@cf/meta/llama-3.1-8b-instruct", 0.282, 0.827},
		{"workers-ai run path", "workers-ai", "ai/run/@cf/openai/gpt-oss-120b", 0.35, 0.75},
		{"compat id", "compat", "workers-ai/@cf/meta/llama-3.3-70b-instruct-fp8-fast", 0.293, 2.253},
		{"compat id, empty provider", "", "openai/gpt-4o", 2.5, 10},
		{"compat alias xai", "", "xai/grok-4", 3, 15},
		{"provider's own prefix", "groq", "groq/llama-3.3-70b-versatile", 0.59, 0.79},
		{"groq vendor-named model stays groq's", "groq", "openai/gpt-oss-120b", 0.15, 0.75},
		{"openrouter vendor", "openrouter", "openai/gpt-4o-mini", 0.15, 0.6},
		{"openrouter vendor dated", "openrouter", "openai/gpt-4o-mini-2024-07-18", 0.15, 0.6},
		{"openrouter anthropic dot names", "openrouter", "anthropic/claude-sonnet-4.5", 3, 15},
		{"openrouter free", "openrouter", "openai/gpt-oss-20b:free", 0, 0},
		{"azure falls back to openai", "azure-openai", "gpt-4o-2024-11-20", 2.5, 10},
		{"mistral latest", "mistral", "mistral-large-latest", 2, 6},
		{"mistral dated", "mistral", "mistral-small-2503", 0.1, 0.3},
		{"cohere dated entry", "cohere", "command-r-plus-08-2024", 2.5, 10},
		{"cohere older dated entry", "cohere", "command-r-plus-04-2024", 3, 15},
		{"baseten mixed case", "baseten", "deepseek-ai/DeepSeek-V3.1", 0.5, 1.5},
		{"baseten dated", "baseten", "deepseek-ai/DeepSeek-R1-0528", 2.55, 5.95},
		{"grok dated", "grok", "grok-4-0709", 3, 15},
		{"deepseek", "deepseek", "deepseek-reasoner", 0.28, 0.42},
		{"perplexity alias", "perplexity", "sonar-pro", 3, 15},

		{"unknown model", "openai", "gpt-9-ultra", -1, 0},
		{"unknown provider", "acme", "gpt-4o", -1, 0},
		{"realtime is not gpt-4o-mini", "openai", "gpt-4o-mini-realtime-preview-2024-12-17", -1, 0},
		{"single-digit segment is not a version", "anthropic", "claude-opus-4-9", -1, 0},
		{"empty model", "openai", "", -1, 0},
		{"compat id without provider", "compat", "gpt-4o", -1, 0},
		{"vendor prefix on the wrong provider", "cerebras", "acme/gpt-4o", -1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, ok := tab.Lookup(c.provider, c.model)
			if c.want < 0 {
				if ok {
					t.Fatalf("Lookup(%q, %q) = %+v, want unknown", c.provider, c.model, p)
				}
				return
			}
			if !ok {
				t.Fatalf("Lookup(%q, %q): unknown, want input $%v/M", c.provider, c.model, c.want)
			}
			if !near(p.Input, c.want*perM) || !near(p.Output, c.wantOut*perM) {
				t.Fatalf("Lookup(%q, %q) = in %v out %v per token, want $%v/M and $%v/M", c.provider, c.model, p.Input, p.Output, c.want, c.wantOut)
			}
		})
	}
}

func TestCost(t *testing.T) {
	tab := Default()
	cases := []struct {
		name, provider, model string
		u                     Usage
		want                  float64
		known                 bool
	}{
		{"plain openai", "openai", "gpt-4o-mini", Usage{In: 1000, Out: 500}, 1000*0.15*perM + 500*0.6*perM, true},
		{"openai with cached input (part of In)", "openai", "gpt-4o", Usage{In: 10000, Out: 200, CachedIn: 8000},
			2000*2.5*perM + 8000*1.25*perM + 200*10*perM, true},
		{"anthropic cache read at a tenth", "anthropic", "claude-sonnet-4-5", Usage{In: 1_000_000, Out: 0, CachedIn: 1_000_000}, 0.3, true},
		{"cached more than In is capped", "openai", "gpt-4.1", Usage{In: 100, Out: 0, CachedIn: 500}, 100 * 0.5 * perM, true},
		{"negative counts are zero", "openai", "gpt-4.1", Usage{In: -5, Out: -5, CachedIn: -5}, 0, true},
		{"model without a cached rate prices cached at input", "groq", "llama-3.3-70b-versatile", Usage{In: 1000, CachedIn: 1000}, 1000 * 0.59 * perM, true},
		{"a million output tokens", "anthropic", "claude-opus-4-1", Usage{Out: 1_000_000}, 75, true},
		{"per-request fee", "perplexity-ai", "sonar", Usage{In: 1000, Out: 1000}, 1000*perM + 1000*perM + 0.005, true},
		{"request-priced model", "parallel", "speed", Usage{In: 300, Out: 900}, 0.005, true},
		{"zero tokens on a known model is 0, known", "openai", "gpt-5", Usage{}, 0, true},
		{"unknown model has no cost", "openai", "not-a-model", Usage{In: 1000, Out: 1000}, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := tab.Cost(c.provider, c.model, c.u)
			if ok != c.known || !near(got, c.want) {
				t.Fatalf("Cost = (%v, %v), want (%v, %v)", got, ok, c.want, c.known)
			}
		})
	}
}

func TestParseCustomCost(t *testing.T) {
	cases := []struct {
		header  string
		want    Price
		wantErr string
	}{
		{`{"per_token_in":0.000001,"per_token_out":0.000002}`, Price{Input: 1e-6, Output: 2e-6, CachedInput: 1e-6}, ""},
		{` {"per_token_in": 1e-7, "per_token_out": 0} `, Price{Input: 1e-7, CachedInput: 1e-7}, ""},
		{`{"per_token_in":0.0000000000001234567}`, Price{Input: 1.234567e-13, CachedInput: 1.234567e-13}, ""},
		{`{"per_token_out":0.00003,"note":"negotiated"}`, Price{Output: 3e-5}, ""},
		{`{"per_token_in":0,"per_token_out":0}`, Price{}, ""},
		{``, Price{}, "must be a JSON object"},
		{`per_token_in=1`, Price{}, "must be a JSON object"},
		{`[0.1, 0.2]`, Price{}, "must be a JSON object"},
		{`null`, Price{}, "must be a JSON object"},
		{`{"per_token_in":0.000001`, Price{}, "must be a JSON object"},
		{`{}`, Price{}, "needs per_token_in and per_token_out"},
		{`{"per_token_input":0.1}`, Price{}, "needs per_token_in and per_token_out"},
		{`{"per_token_in":"0.000001","per_token_out":0.1}`, Price{}, `per_token_in must be a number (USD per token), got "0.000001"`},
		{`{"per_token_in":0.1,"per_token_out":true}`, Price{}, "per_token_out must be a number (USD per token), got true"},
		{`{"per_token_in":null}`, Price{}, "per_token_in must be a number"},
		{`{"per_token_in":{"usd":1}}`, Price{}, "per_token_in must be a number"},
		{`{"per_token_in":-0.000001,"per_token_out":0.1}`, Price{}, "per_token_in must not be negative, got -0.000001"},
		{`{"per_token_in":0.1,"per_token_out":-1}`, Price{}, "per_token_out must not be negative"},
		{`{"per_token_in":1e999}`, Price{}, "per_token_in 1e999 is out of range"},
	}
	for _, c := range cases {
		t.Run(c.header, func(t *testing.T) {
			got, err := ParseCustomCost(c.header)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, c.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "cf-aig-custom-cost") {
					t.Fatalf("err %q does not name the header", err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("= (%+v, %v), want %+v", got, err, c.want)
			}
		})
	}
	// The reference's example: $1 per million in, $2 per million out.
	p, _ := ParseCustomCost(`{"per_token_in":0.000001,"per_token_out":0.000002}`)
	if got := p.Cost(Usage{In: 1_000_000, Out: 1_000_000}); !near(got, 3) {
		t.Fatalf("reference example costs %v, want 3", got)
	}
}

func TestEmbeddedTable(t *testing.T) {
	tab := Default()
	if tab.AsOf() == "" || !strings.Contains(tab.Source(), "not") {
		t.Fatalf("the table must carry its date and an honest source note: %q %q", tab.AsOf(), tab.Source())
	}
	if tab.Len() < 150 {
		t.Fatalf("only %d prices", tab.Len())
	}
	for prov, ms := range tab.providers {
		for m, p := range ms {
			if p.CachedInput > p.Input {
				t.Errorf("%s/%s: cached input %v dearer than input %v", prov, m, p.CachedInput, p.Input)
			}
			if p.Input == 0 && p.Output == 0 && p.Request == 0 && (p.Media == nil || p.Media.PerUnit == 0 && p.Media.Variants == nil) && prov != "google-ai-studio" {
				t.Errorf("%s/%s: everything is free", prov, m)
			}
		}
	}
}

func TestParseRejectsBadTables(t *testing.T) {
	cases := []struct{ name, json, wantErr string }{
		{"no date", `{"providers":{}}`, "as_of is missing"},
		{"negative", `{"as_of":"x","providers":{"p":{"m":{"input":-1e-6,"output":0}}}}`, "negative price"},
		{"per million by mistake", `{"as_of":"x","providers":{"p":{"m":{"input":2.5,"output":10}}}}`, "not per million"},
		{"missing output", `{"as_of":"x","providers":{"p":{"m":{"input":1e-6}}}}`, "input and output are required"},
		{"case duplicate", `{"as_of":"x","providers":{"p":{"M":{"input":0,"output":0},"m":{"input":0,"output":0}}}}`, "listed twice"},
		{"typo field", `{"as_of":"x","providers":{"p":{"m":{"input":0,"output":0,"cached":0}}}}`, "unknown field"},
		{"bad fallback", `{"as_of":"x","fallbacks":{"a":["nope"]},"providers":{}}`, "no such provider"},
		{"bad vendor", `{"as_of":"x","vendors":{"a":"nope"},"providers":{}}`, "no such provider"},
		{"other currency", `{"as_of":"x","currency":"EUR","providers":{}}`, "only USD"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.json))
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("err = %v, want %q", err, c.wantErr)
			}
		})
	}
	tab, err := Parse([]byte(`{"as_of":"2025-01-01","providers":{"Acme":{"Big-Model":{"input":0.000002,"output":0.000004}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := tab.Lookup("acme", "big-model-2025-01-01"); !ok || p.CachedInput != p.Input {
		t.Fatalf("a custom table matches case-insensitively and defaults cached_input to input: %+v %v", p, ok)
	}
}
