package providers_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine/providers"
)

// allSlugs is the provider set Switchyard promises: the hosted AI Gateway's list.
var allSlugs = []string{
	"anthropic", "aws-bedrock", "azure-openai", "baseten", "cartesia", "cerebras", "cohere",
	"deepgram", "deepseek", "elevenlabs", "fal", "google-ai-studio", "google-vertex-ai", "grok",
	"groq", "huggingface", "ideogram", "mistral", "openai", "openrouter", "parallel",
	"perplexity-ai", "replicate", "workers-ai",
}

func noEnv(string) string { return "" }

func TestSlugs(t *testing.T) {
	got := providers.Slugs()
	if !reflect.DeepEqual(got, allSlugs) {
		t.Fatalf("Slugs() = %v\nwant %v", got, allSlugs)
	}
	tbl := providers.NewTable(noEnv)
	if len(tbl) != len(allSlugs) {
		t.Fatalf("NewTable has %d providers, want %d", len(tbl), len(allSlugs))
	}
	for _, s := range allSlugs {
		a, ok := providers.Lookup(s)
		if !ok {
			t.Errorf("Lookup(%q) not found", s)
			continue
		}
		if a.Slug != s || a.AuthHeader == "" || a.Usage == nil {
			t.Errorf("%s: adapter incomplete: slug=%q auth=%q usage=%v", s, a.Slug, a.AuthHeader, a.Usage)
		}
		if r, ok := tbl[s]; !ok || r.Base != a.BaseURL {
			t.Errorf("%s: table base = %v, want the adapter default %q", s, r, a.BaseURL)
		}
	}
	if _, ok := providers.Lookup("nope"); ok {
		t.Error("Lookup of an unknown slug succeeded")
	}
}

type urlCase struct {
	name    string
	slug    string
	account string
	rest    string
	url     string
	model   string
}

const (
	bedrockRest  = "/bedrock-runtime/us-east-1/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke"
	vertexRest   = "/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
	vertexGlobal = "/v1/projects/p1/locations/global/publishers/google/models/gemini-2.5-pro:streamGenerateContent"
)

var urlCases = []urlCase{
	{"openai chat", "openai", "acc1", "/chat/completions", "https://api.openai.com/v1/chat/completions", ""},
	{"openai responses", "openai", "acc1", "/responses", "https://api.openai.com/v1/responses", ""},
	{"anthropic messages", "anthropic", "acc1", "/v1/messages", "https://api.anthropic.com/v1/messages", ""},
	{"azure chat", "azure-openai", "acc1", "/myres/mydeploy/chat/completions",
		"https://myres.openai.azure.com/openai/deployments/mydeploy/chat/completions", "mydeploy"},
	{"azure embeddings", "azure-openai", "acc1", "/res-2/emb/embeddings",
		"https://res-2.openai.azure.com/openai/deployments/emb/embeddings", "emb"},
	{"azure sdk base url", "azure-openai", "acc1", "/myres/deployments/mydeploy/chat/completions",
		"https://myres.openai.azure.com/openai/deployments/mydeploy/chat/completions", "mydeploy"},
	{"azure sdk endpoint", "azure-openai", "acc1", "/myres/openai/deployments/mydeploy/embeddings",
		"https://myres.openai.azure.com/openai/deployments/mydeploy/embeddings", "mydeploy"},
	{"bedrock invoke", "aws-bedrock", "acc1", bedrockRest,
		"https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke",
		"anthropic.claude-3-haiku-20240307-v1:0"},
	{"bedrock converse", "aws-bedrock", "acc1", "/bedrock-runtime/eu-west-3/model/amazon.nova-lite-v1:0/converse",
		"https://bedrock-runtime.eu-west-3.amazonaws.com/model/amazon.nova-lite-v1:0/converse", "amazon.nova-lite-v1:0"},
	{"vertex regional", "google-vertex-ai", "acc1", vertexRest,
		"https://us-central1-aiplatform.googleapis.com" + vertexRest, "gemini-2.5-flash"},
	{"vertex global", "google-vertex-ai", "acc1", vertexGlobal,
		"https://aiplatform.googleapis.com" + vertexGlobal, "gemini-2.5-pro"},
	{"ai studio generate", "google-ai-studio", "acc1", "/v1beta/models/gemini-2.5-flash:generateContent",
		"https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent", "gemini-2.5-flash"},
	{"ai studio stream", "google-ai-studio", "acc1", "/v1/models/gemini-2.0-flash-lite:streamGenerateContent",
		"https://generativelanguage.googleapis.com/v1/models/gemini-2.0-flash-lite:streamGenerateContent", "gemini-2.0-flash-lite"},
	{"ai studio list models", "google-ai-studio", "acc1", "/v1beta/models",
		"https://generativelanguage.googleapis.com/v1beta/models", ""},
	{"workers-ai run", "workers-ai", "acc1", "/@cf/meta/llama-3.1-8b-instruct",
		"https://api.cloudflare.com/client/v4/accounts/acc1/ai/run/@cf/meta/llama-3.1-8b-instruct", "@cf/meta/llama-3.1-8b-instruct"},
	{"workers-ai explicit run", "workers-ai", "acc1", "/run/@cf/meta/llama-3.1-8b-instruct",
		"https://api.cloudflare.com/client/v4/accounts/acc1/ai/run/@cf/meta/llama-3.1-8b-instruct", "@cf/meta/llama-3.1-8b-instruct"},
	{"workers-ai openai compat", "workers-ai", "acc1", "/v1/chat/completions",
		"https://api.cloudflare.com/client/v4/accounts/acc1/ai/v1/chat/completions", ""},
	{"workers-ai other account", "workers-ai", "0123abcd", "/@cf/baai/bge-base-en-v1.5",
		"https://api.cloudflare.com/client/v4/accounts/0123abcd/ai/run/@cf/baai/bge-base-en-v1.5", "@cf/baai/bge-base-en-v1.5"},
	{"huggingface", "huggingface", "acc1", "/meta-llama/Llama-3.1-8B-Instruct",
		"https://api-inference.huggingface.co/models/meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"},
	{"replicate", "replicate", "acc1", "/predictions", "https://api.replicate.com/v1/predictions", ""},
	{"groq", "groq", "acc1", "/chat/completions", "https://api.groq.com/openai/v1/chat/completions", ""},
	{"mistral", "mistral", "acc1", "/v1/chat/completions", "https://api.mistral.ai/v1/chat/completions", ""},
	{"cohere v2", "cohere", "acc1", "/v2/chat", "https://api.cohere.ai/v2/chat", ""},
	{"cohere v1", "cohere", "acc1", "/v1/chat", "https://api.cohere.ai/v1/chat", ""},
	{"cohere unversioned", "cohere", "acc1", "/chat", "https://api.cohere.ai/v1/chat", ""},
	{"perplexity", "perplexity-ai", "acc1", "/chat/completions", "https://api.perplexity.ai/chat/completions", ""},
	{"deepseek", "deepseek", "acc1", "/chat/completions", "https://api.deepseek.com/chat/completions", ""},
	{"grok v1", "grok", "acc1", "/v1/chat/completions", "https://api.x.ai/v1/chat/completions", ""},
	{"grok unversioned", "grok", "acc1", "/chat/completions", "https://api.x.ai/v1/chat/completions", ""},
	{"cerebras", "cerebras", "acc1", "/chat/completions", "https://api.cerebras.ai/v1/chat/completions", ""},
	{"openrouter v1", "openrouter", "acc1", "/v1/chat/completions", "https://openrouter.ai/api/v1/chat/completions", ""},
	{"openrouter unversioned", "openrouter", "acc1", "/chat/completions", "https://openrouter.ai/api/v1/chat/completions", ""},
	{"baseten v1", "baseten", "acc1", "/v1/chat/completions", "https://inference.baseten.co/v1/chat/completions", ""},
	{"baseten unversioned", "baseten", "acc1", "/chat/completions", "https://inference.baseten.co/v1/chat/completions", ""},
	{"cartesia", "cartesia", "acc1", "/tts/bytes", "https://api.cartesia.ai/tts/bytes", ""},
	{"deepgram", "deepgram", "acc1", "/v1/listen", "https://api.deepgram.com/v1/listen", ""},
	{"elevenlabs", "elevenlabs", "acc1", "/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb",
		"https://api.elevenlabs.io/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb", ""},
	{"fal", "fal", "acc1", "/fal-ai/fast-sdxl", "https://fal.run/fal-ai/fast-sdxl", "fal-ai/fast-sdxl"},
	{"ideogram", "ideogram", "acc1", "/v1/ideogram-v3/generate", "https://api.ideogram.ai/v1/ideogram-v3/generate", "ideogram-v3"},
	{"parallel", "parallel", "acc1", "/v1/tasks/runs", "https://api.parallel.ai/v1/tasks/runs", ""},
}

func TestURL(t *testing.T) {
	tbl := providers.NewTable(noEnv)
	covered := map[string]bool{}
	for _, tc := range urlCases {
		t.Run(tc.slug+"/"+tc.name, func(t *testing.T) {
			covered[tc.slug] = true
			r, ok := tbl[tc.slug]
			if !ok {
				t.Fatalf("no provider %q in table", tc.slug)
			}
			u, model, err := r.URL(tc.account, tc.rest)
			if err != nil {
				t.Fatalf("URL(%q, %q): %v", tc.account, tc.rest, err)
			}
			if u != tc.url {
				t.Errorf("url = %q\nwant  %q", u, tc.url)
			}
			if model != tc.model {
				t.Errorf("model = %q, want %q", model, tc.model)
			}
		})
	}
	for _, s := range allSlugs {
		if !covered[s] {
			t.Errorf("no URL case for provider %s", s)
		}
	}
}

// The rest path as the router hands it over may lack the leading slash.
func TestURLWithoutLeadingSlash(t *testing.T) {
	tbl := providers.NewTable(noEnv)
	for _, tc := range urlCases {
		t.Run(tc.slug+"/"+tc.name, func(t *testing.T) {
			u, model, err := tbl[tc.slug].URL(tc.account, strings.TrimPrefix(tc.rest, "/"))
			if err != nil {
				t.Fatalf("URL: %v", err)
			}
			if u != tc.url || model != tc.model {
				t.Errorf("got %q %q, want %q %q", u, model, tc.url, tc.model)
			}
		})
	}
}

func TestURLBadPath(t *testing.T) {
	tbl := providers.NewTable(noEnv)
	cases := []struct {
		name, slug, rest string
	}{
		{"azure one segment", "azure-openai", "/myres"},
		{"azure two segments", "azure-openai", "/myres/mydeploy"},
		{"azure empty", "azure-openai", ""},
		{"azure empty deployment", "azure-openai", "/myres//chat/completions"},
		{"azure resource with dot", "azure-openai", "/evil.com/mydeploy/chat/completions"},
		{"azure resource with colon", "azure-openai", "/evil:8080/mydeploy/chat/completions"},
		{"bedrock region with space", "aws-bedrock", "/bedrock-runtime/us east/model/x/invoke"},
		{"bedrock region escaped space", "aws-bedrock", "/bedrock-runtime/us%20east/model/x/invoke"},
		{"bedrock region with dot", "aws-bedrock", "/bedrock-runtime/evil.com/model/x/invoke"},
		{"bedrock service with at", "aws-bedrock", "/user@evil/us-east-1/model/x/invoke"},
		{"bedrock missing region", "aws-bedrock", "/bedrock-runtime"},
		{"bedrock two segments", "aws-bedrock", "/bedrock-runtime/us-east-1"},
		{"bedrock empty service", "aws-bedrock", "//us-east-1/model/x/invoke"},
		{"vertex without projects", "google-vertex-ai", "/v1/locations/us-central1/publishers/google/models/m:generateContent"},
		{"vertex without locations", "google-vertex-ai", "/v1/projects/p1/regions/us-central1/publishers/google/models/m:generateContent"},
		{"vertex short", "google-vertex-ai", "/v1/projects/p1/locations/us-central1"},
		{"vertex bad region", "google-vertex-ai", "/v1/projects/p1/locations/us.central1/publishers/google/models/m:generateContent"},
		{"vertex empty", "google-vertex-ai", ""},
		{"workers-ai empty", "workers-ai", "/"},
		{"workers-ai nothing", "workers-ai", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, model, err := tbl[tc.slug].URL("acc1", tc.rest)
			if !errors.Is(err, providers.ErrBadPath) {
				t.Fatalf("URL(%q) = %q, %q, %v; want ErrBadPath", tc.rest, u, model, err)
			}
			if u != "" {
				t.Errorf("url %q returned with an error", u)
			}
		})
	}
}

func TestEnvOverrideName(t *testing.T) {
	cases := map[string]string{
		"openai":           "SWITCHYARD_UPSTREAM_OPENAI",
		"workers-ai":       "SWITCHYARD_UPSTREAM_WORKERS_AI",
		"azure-openai":     "SWITCHYARD_UPSTREAM_AZURE_OPENAI",
		"google-vertex-ai": "SWITCHYARD_UPSTREAM_GOOGLE_VERTEX_AI",
		"perplexity-ai":    "SWITCHYARD_UPSTREAM_PERPLEXITY_AI",
	}
	for slug, want := range cases {
		if got := providers.EnvOverride(slug); got != want {
			t.Errorf("EnvOverride(%q) = %q, want %q", slug, got, want)
		}
	}
}

// overridePath is the upstream path every case sends to an overridden base: the default
// URL minus its base, with the templated providers keeping their mapped path.
var overridePath = map[string]string{
	"azure chat":               "/openai/deployments/mydeploy/chat/completions",
	"azure embeddings":         "/openai/deployments/emb/embeddings",
	"azure sdk base url":       "/openai/deployments/mydeploy/chat/completions",
	"azure sdk endpoint":       "/openai/deployments/mydeploy/embeddings",
	"bedrock invoke":           "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke",
	"bedrock converse":         "/model/amazon.nova-lite-v1:0/converse",
	"vertex regional":          vertexRest,
	"vertex global":            vertexGlobal,
	"workers-ai run":           "/run/@cf/meta/llama-3.1-8b-instruct",
	"workers-ai explicit run":  "/run/@cf/meta/llama-3.1-8b-instruct",
	"workers-ai openai compat": "/v1/chat/completions",
	"workers-ai other account": "/run/@cf/baai/bge-base-en-v1.5",
}

func TestUpstreamOverride(t *testing.T) {
	mock := func(slug string) string { return "http://mock.invalid/up/" + slug }
	env := map[string]string{}
	for _, s := range allSlugs {
		env[providers.EnvOverride(s)] = mock(s) + "/" // a trailing slash is dropped
	}
	tbl := providers.NewTable(func(k string) string { return env[k] })
	for _, s := range allSlugs {
		if got := tbl[s].Base; got != mock(s) {
			t.Errorf("%s: base = %q, want %q", s, got, mock(s))
		}
	}
	for _, tc := range urlCases {
		t.Run(tc.slug+"/"+tc.name, func(t *testing.T) {
			r := tbl[tc.slug]
			a, _ := providers.Lookup(tc.slug)
			path, ok := overridePath[tc.name]
			if !ok {
				if !strings.HasPrefix(tc.url, a.BaseURL) {
					t.Fatalf("case url %q does not start with default base %q", tc.url, a.BaseURL)
				}
				path = strings.TrimPrefix(tc.url, a.BaseURL)
			}
			u, model, err := r.URL(tc.account, tc.rest)
			if err != nil {
				t.Fatalf("URL: %v", err)
			}
			if want := mock(tc.slug) + path; u != want {
				t.Errorf("url = %q\nwant  %q", u, want)
			}
			if model != tc.model {
				t.Errorf("model = %q, want %q (an override must not change the model)", model, tc.model)
			}
		})
	}
}

func TestUpstreamOverrideOnlyItsProvider(t *testing.T) {
	tbl := providers.NewTable(func(k string) string {
		if k == "SWITCHYARD_UPSTREAM_AZURE_OPENAI" {
			return "http://127.0.0.1/azure-mock"
		}
		return ""
	})
	u, model, err := tbl["azure-openai"].URL("acc1", "/myres/mydeploy/chat/completions")
	if err != nil || u != "http://127.0.0.1/azure-mock/openai/deployments/mydeploy/chat/completions" || model != "mydeploy" {
		t.Errorf("azure override: %q %q %v", u, model, err)
	}
	// An override still validates the path shape.
	if _, _, err := tbl["azure-openai"].URL("acc1", "/myres"); !errors.Is(err, providers.ErrBadPath) {
		t.Errorf("azure override with bad path: err = %v, want ErrBadPath", err)
	}
	u, _, _ = tbl["openai"].URL("acc1", "/chat/completions")
	if u != "https://api.openai.com/v1/chat/completions" {
		t.Errorf("openai changed by another provider's override: %q", u)
	}
}

func TestUpstreamOverrideKeepsPlaceholders(t *testing.T) {
	tbl := providers.NewTable(func(k string) string {
		switch k {
		case "SWITCHYARD_UPSTREAM_WORKERS_AI":
			return "http://mock.invalid/accounts/{account_id}/ai"
		case "SWITCHYARD_UPSTREAM_AZURE_OPENAI":
			return "http://mock.invalid/{resource}"
		}
		return ""
	})
	cases := []struct{ slug, rest, want string }{
		{"workers-ai", "/@cf/meta/llama-3.1-8b-instruct", "http://mock.invalid/accounts/acc9/ai/run/@cf/meta/llama-3.1-8b-instruct"},
		{"azure-openai", "/myres/dep/chat/completions", "http://mock.invalid/myres/openai/deployments/dep/chat/completions"},
	}
	for _, tc := range cases {
		u, _, err := tbl[tc.slug].URL("acc9", tc.rest)
		if err != nil || u != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.slug, u, err, tc.want)
		}
	}
}

func TestNewTableNilGetenvReadsEnvironment(t *testing.T) {
	t.Setenv("SWITCHYARD_UPSTREAM_GROQ", "http://mock.invalid/groq")
	tbl := providers.NewTable(nil)
	u, _, err := tbl["groq"].URL("acc1", "/chat/completions")
	if err != nil || u != "http://mock.invalid/groq/chat/completions" {
		t.Errorf("groq with env override: %q %v", u, err)
	}
}

// A . or .. segment, plain, percent-encoded or behind an encoded separator, is refused for
// every provider before any URL is built: a caller never leaves the provider's base path.
func TestDotSegmentsRefused(t *testing.T) {
	tbl := providers.NewTable(noEnv)
	for _, rest := range []string{
		"/../../admin", "/v1/./chat/completions", "/%2e%2e/x", "/.%2E/x", "/%2E./x", "/%252e%252e/x",
		"/..%2fadmin", "/..%5cadmin", "/v1/..\\admin", "/chat/completions/..",
	} {
		for _, slug := range []string{"openai", "workers-ai", "azure-openai", "google-ai-studio"} {
			if _, _, err := tbl[slug].URL("acc1", rest); !errors.Is(err, providers.ErrDotSegment) {
				t.Errorf("%s %q: err = %v, want ErrDotSegment", slug, rest, err)
			}
		}
	}
	custom := providers.Custom("custom-acme", "https://api.example.com/v1")
	if _, _, err := custom.URL("acc1", "/../../v2/secret"); !errors.Is(err, providers.ErrDotSegment) {
		t.Errorf("custom provider: err = %v, want ErrDotSegment", err)
	}
	// Dots inside a segment are names, not steps.
	for _, rest := range []string{"/models/gemini-2.5-flash:generateContent", "/v1/files/a..b", "/.well-known/x"} {
		if _, _, err := tbl["google-ai-studio"].URL("acc1", rest); errors.Is(err, providers.ErrDotSegment) {
			t.Errorf("%q refused", rest)
		}
	}
}
