// realtime_test.go checks the realtime WebSocket URL mapping for every provider, with and
// without SWITCHYARD_UPSTREAM_* overrides, and where a client's own key is recognised.
package providers

import (
	"errors"
	"testing"
)

func TestRealtimeURL(t *testing.T) {
	overrides := map[string]string{
		EnvOverride("openai"):     "http://127.0.0.1:9001/v1",
		EnvOverride("fal"):        "http://127.0.0.1:9002/",
		EnvOverride("workers-ai"): "https://cf.example/accounts/{account_id}/ai",
	}
	plain := NewTable(func(string) string { return "" })
	over := NewTable(func(k string) string { return overrides[k] })
	custom := Custom("custom-mine", "https://models.internal.example/api")
	cases := []struct {
		name       string
		table      Table
		resolved   *Resolved // instead of table[slug]
		slug       string
		rest       string
		query      string
		url        string
		model      string
		keyInQuery bool
		err        error
	}{
		{name: "openai", table: plain, slug: "openai", rest: "/", query: "model=gpt-4o-realtime-preview-2024-12-17",
			url: "wss://api.openai.com/v1/realtime?model=gpt-4o-realtime-preview-2024-12-17", model: "gpt-4o-realtime-preview-2024-12-17"},
		{name: "openai own path", table: plain, slug: "openai", rest: "/realtime", query: "model=gpt-realtime",
			url: "wss://api.openai.com/v1/realtime?model=gpt-realtime", model: "gpt-realtime"},
		{name: "openai override", table: over, slug: "openai", rest: "/", query: "model=gpt-4o-realtime-preview",
			url: "ws://127.0.0.1:9001/v1/realtime?model=gpt-4o-realtime-preview", model: "gpt-4o-realtime-preview"},
		{name: "google alias", table: plain, slug: RealtimeSlug("google"), rest: "/", query: "api_key=AIza-secret",
			url: "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=AIza-secret", keyInQuery: true},
		{name: "google key kept, order kept", table: plain, slug: "google-ai-studio", rest: "/", query: "alt=x&key=k%2B1",
			url: "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?alt=x&key=k%2B1", keyInQuery: true},
		{name: "google no key", table: plain, slug: "google-ai-studio", rest: "/",
			url: "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"},
		{name: "cartesia", table: plain, slug: "cartesia", rest: "/", query: "cartesia_version=2024-06-10&api_key=sk_car",
			url: "wss://api.cartesia.ai/tts/websocket?cartesia_version=2024-06-10&api_key=sk_car", keyInQuery: true},
		{name: "cartesia empty key", table: plain, slug: "cartesia", rest: "/", query: "cartesia_version=2024-06-10&api_key=",
			url: "wss://api.cartesia.ai/tts/websocket?cartesia_version=2024-06-10&api_key="},
		{name: "elevenlabs", table: plain, slug: "elevenlabs", rest: "/", query: "agent_id=agent_123",
			url: "wss://api.elevenlabs.io/v1/convai/conversation?agent_id=agent_123"},
		{name: "elevenlabs tts stream", table: plain, slug: "elevenlabs", rest: "/v1/text-to-speech/voice1/stream-input", query: "model_id=eleven_flash_v2_5",
			url: "wss://api.elevenlabs.io/v1/text-to-speech/voice1/stream-input?model_id=eleven_flash_v2_5"},
		{name: "fal", table: plain, slug: "fal", rest: "/fal-ai/fast-lcm-diffusion",
			url: "wss://ws.fal.run/fal-ai/fast-lcm-diffusion", model: "fal-ai/fast-lcm-diffusion"},
		{name: "fal override", table: over, slug: "fal", rest: "/fal-ai/fast-lcm-diffusion",
			url: "ws://127.0.0.1:9002/fal-ai/fast-lcm-diffusion", model: "fal-ai/fast-lcm-diffusion"},
		{name: "fal without app", table: plain, slug: "fal", rest: "/", err: ErrBadPath},
		{name: "workers-ai model in query", table: plain, slug: "workers-ai", rest: "/",
			query: "model=@cf/deepgram/nova-3&encoding=linear16&sample_rate=16000&interim_results=true",
			url:   "wss://api.cloudflare.com/client/v4/accounts/acct1/ai/run/@cf/deepgram/nova-3?encoding=linear16&sample_rate=16000&interim_results=true",
			model: "@cf/deepgram/nova-3"},
		{name: "workers-ai model escaped in query", table: plain, slug: "workers-ai", rest: "/", query: "model=%40cf%2Fdeepgram%2Faura-1",
			url: "wss://api.cloudflare.com/client/v4/accounts/acct1/ai/run/@cf/deepgram/aura-1", model: "@cf/deepgram/aura-1"},
		{name: "workers-ai model in path", table: plain, slug: "workers-ai", rest: "/@cf/deepgram/flux", query: "encoding=linear16",
			url: "wss://api.cloudflare.com/client/v4/accounts/acct1/ai/run/@cf/deepgram/flux?encoding=linear16", model: "@cf/deepgram/flux"},
		{name: "workers-ai run path", table: plain, slug: "workers-ai", rest: "/run/@cf/deepgram/nova-3",
			url: "wss://api.cloudflare.com/client/v4/accounts/acct1/ai/run/@cf/deepgram/nova-3", model: "@cf/deepgram/nova-3"},
		{name: "workers-ai override", table: over, slug: "workers-ai", rest: "/", query: "model=@cf/deepgram/nova-3",
			url: "wss://cf.example/accounts/acct1/ai/run/@cf/deepgram/nova-3", model: "@cf/deepgram/nova-3"},
		{name: "workers-ai no model", table: plain, slug: "workers-ai", rest: "/", query: "encoding=linear16", err: ErrBadPath},
		{name: "workers-ai model walks the path", table: plain, slug: "workers-ai", rest: "/", query: "model=@cf/../../tokens", err: ErrBadPath},
		{name: "workers-ai model with query chars", table: plain, slug: "workers-ai", rest: "/", query: "model=%40cf%2Fx%3Fa%3Db", err: ErrBadPath},
		{name: "deepgram", table: plain, slug: "deepgram", rest: "/v1/listen", query: "model=nova-3&language=en-US",
			url: "wss://api.deepgram.com/v1/listen?model=nova-3&language=en-US", model: "nova-3"},
		{name: "deepgram root", table: plain, slug: "deepgram", rest: "/", query: "model=nova-3",
			url: "wss://api.deepgram.com/v1/listen?model=nova-3", model: "nova-3"},
		{name: "custom provider", resolved: custom, rest: "/v1/realtime", query: "model=m1",
			url: "wss://models.internal.example/api/v1/realtime?model=m1", model: "m1"},
		{name: "no realtime API", table: plain, slug: "anthropic", rest: "/", err: ErrNoRealtime},
		{name: "placeholder realtime cannot fill", table: plain, slug: "azure-openai", rest: "/", err: ErrNoRealtime},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.resolved
			if r == nil {
				r = c.table[c.slug]
				if r == nil {
					t.Fatalf("no provider %s in the table", c.slug)
				}
			}
			got, err := r.RealtimeURL("acct1", c.rest, c.query)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v (url %q)", err, c.err, got.URL)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.URL != c.url || got.Model != c.model || got.KeyInQuery != c.keyInQuery {
				t.Fatalf("got %+v\nwant {URL:%s Model:%s KeyInQuery:%v}", got, c.url, c.model, c.keyInQuery)
			}
		})
	}
}

func TestRealtimeSlug(t *testing.T) {
	for in, want := range map[string]string{"google": "google-ai-studio", "openai": "openai", "custom-x": "custom-x"} {
		if got := RealtimeSlug(in); got != want {
			t.Errorf("RealtimeSlug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRealtimeKeyProtocol(t *testing.T) {
	tbl := NewTable(func(string) string { return "" })
	cases := []struct {
		slug, entry string
		want        bool
	}{
		{"openai", "openai-insecure-api-key.sk-123", true},
		{"openai", "realtime", false},
		{"openai", "openai-beta.realtime-v1", false},
		{"deepgram", "token", true},
		{"deepgram", "tokenish", false},
		{"elevenlabs", "openai-insecure-api-key.sk-123", false},
		{"anthropic", "token", false},
	}
	for _, c := range cases {
		if got := tbl[c.slug].RealtimeKeyProtocol(c.entry); got != c.want {
			t.Errorf("%s.RealtimeKeyProtocol(%q) = %v, want %v", c.slug, c.entry, got, c.want)
		}
	}
}
