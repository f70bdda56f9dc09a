// units_test.go checks the pricing of media models in their provider's unit: characters,
// minutes of audio, images by quality and size, seconds of video, and null (unknown) cost
// when the usage is not known.
package pricing

import (
	"strings"
	"testing"
)

func TestMediaCost(t *testing.T) {
	tab := Default()
	units := func(n float64) Units { return Units{N: n, Known: true} }
	img := func(n float64, q, s string) Units { return Units{N: n, Known: true, Quality: q, Size: s} }
	cases := []struct {
		name, provider, model string
		u                     Units
		tok                   Usage
		want                  float64 // -1: unknown (null)
	}{
		{"tts-1 per character", "openai", "tts-1", units(1000), Usage{}, 0.015},
		{"tts-1-hd per character", "openai", "tts-1-hd", units(1000), Usage{}, 0.03},
		{"tts without its text is unknown", "openai", "tts-1", Units{}, Usage{}, -1},
		{"gpt-4o-mini-tts per token", "openai", "gpt-4o-mini-tts", Units{}, Usage{In: 1000, Out: 2000}, 0.0006 + 0.024},
		{"gpt-4o-mini-tts without usage is unknown, not 0", "openai", "gpt-4o-mini-tts", Units{}, Usage{}, -1},
		{"gpt-4o-mini-tts snapshot", "openai", "gpt-4o-mini-tts-2025-03-20", Units{}, Usage{In: 1000}, 0.0006},
		{"whisper per minute, to the second", "openai", "whisper-1", units(90), Usage{}, 0.009},
		{"whisper on Azure falls back to OpenAI", "azure-openai", "whisper-1", units(60), Usage{}, 0.006},
		{"gpt-4o-transcribe per token", "openai", "gpt-4o-transcribe", Units{}, Usage{In: 1000, Out: 100}, 0.006 + 0.001},
		{"dall-e-3 default", "openai", "dall-e-3", img(1, "", ""), Usage{}, 0.04},
		{"dall-e-3 standard square", "openai", "dall-e-3", img(2, "standard", "1024x1024"), Usage{}, 0.08},
		{"dall-e-3 standard tall", "openai", "dall-e-3", img(1, "standard", "1024x1792"), Usage{}, 0.08},
		{"dall-e-3 hd wide", "openai", "dall-e-3", img(1, "hd", "1792x1024"), Usage{}, 0.12},
		{"dall-e-3 hd, default size", "openai", "dall-e-3", img(1, "HD", ""), Usage{}, 0.08},
		{"dall-e-2 small", "openai", "dall-e-2", img(3, "", "256x256"), Usage{}, 0.048},
		{"gpt-image-1 medium square", "openai", "gpt-image-1", img(1, "medium", "1024x1024"), Usage{}, 0.042},
		{"gpt-image-1 high portrait", "openai", "gpt-image-1", img(2, "high", "1024x1536"), Usage{}, 0.5},
		{"gpt-image-1 auto quality is unknown", "openai", "gpt-image-1", img(1, "auto", "1024x1024"), Usage{}, -1},
		{"gpt-image-1 no size is unknown", "openai", "gpt-image-1", img(1, "high", ""), Usage{}, -1},
		{"sora-2 seconds", "openai", "sora-2", units(8), Usage{}, 0.8},
		{"sora-2 default length", "openai", "sora-2", Units{}, Usage{}, 0.4},
		{"sora-2-pro large", "openai", "sora-2-pro", img(4, "", "1792x1024"), Usage{}, 2},
		{"elevenlabs multilingual", "elevenlabs", "eleven_multilingual_v2", units(35), Usage{}, 0.0035},
		{"elevenlabs flash", "elevenlabs", "eleven_flash_v2_5", units(1000), Usage{}, 0.05},
		{"cartesia sonic", "cartesia", "sonic-english", units(100), Usage{}, 0.005},
		{"deepgram nova-3", "deepgram", "nova-3", units(120), Usage{}, 0.0086},
		{"deepgram aura-2", "deepgram", "aura-2", units(1000), Usage{}, 0.03},
		{"deepgram minute without duration", "deepgram", "nova-3", Units{}, Usage{}, -1},
		{"fal image", "fal", "fal-ai/bytedance/seedream/v4/edit", img(2, "", ""), Usage{}, 0.06},
		{"fal video seconds", "fal", "fal-ai/kling-video/v2.1/master/text-to-video", units(10), Usage{}, 2.8},
		{"fal video default length", "fal", "fal-ai/kling-video/v2.1/master/text-to-video", Units{}, Usage{}, 1.4},
		{"fal ideogram rendering speed", "fal", "fal-ai/ideogram/v3", img(1, "TURBO", ""), Usage{}, 0.03},
		{"fal unpriced model", "fal", "fal-ai/fast-sdxl", img(1, "", ""), Usage{}, -1},
		{"replicate version with hash", "replicate", "black-forest-labs/flux-schnell:c846a69991daf4c0e5d016514849d14ee5b2e6846ce6b9d6f21369e564cfe51e", img(4, "", ""), Usage{}, 0.012},
		{"ideogram V_3 rendering speed", "ideogram", "V_3", img(1, "QUALITY", ""), Usage{}, 0.09},
		{"ideogram V_3 default", "ideogram", "V_3", img(1, "", ""), Usage{}, 0.06},
		{"ideogram V_2", "ideogram", "V_2", img(2, "", ""), Usage{}, 0.16},
		{"workers-ai whisper", "workers-ai", "@cf/openai/whisper-large-v3-turbo", units(120), Usage{}, 0.001},
		{"workers-ai aura", "workers-ai", "@cf/deepgram/aura-1", units(1000), Usage{}, 0.015},
		{"negative units count as 0", "openai", "tts-1", units(-5), Usage{}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, ok := tab.Lookup(c.provider, c.model)
			got := 0.0
			if ok {
				got, ok = p.Priced(c.tok, c.u)
			}
			switch {
			case c.want < 0 && ok:
				t.Fatalf("cost %v, want unknown", got)
			case c.want >= 0 && (!ok || !near(got, c.want)):
				t.Fatalf("cost (%v, %v), want %v", got, ok, c.want)
			}
		})
	}
	// Token models keep costing 0 without usage (a chat answer without usage is free).
	if c, ok := tab.Cost("openai", "gpt-4o-mini", Usage{}); !ok || c != 0 {
		t.Fatalf("chat model without usage: (%v, %v)", c, ok)
	}
}

func TestParseUnits(t *testing.T) {
	cases := []struct{ name, entry, wantErr string }{
		{"unknown unit", `{"unit":"pixel","price":1}`, "want token, character"},
		{"unit without price", `{"unit":"image"}`, "needs price or variants"},
		{"token fields on a unit entry", `{"unit":"image","price":0.04,"input":0}`, "are per token"},
		{"price on a token entry", `{"input":0,"output":0,"price":1}`, "need a unit other than token"},
		{"bad variant", `{"unit":"image","variants":{"hd/big":0.1}}`, "variant"},
		{"negative variant", `{"unit":"image","variants":{"1024x1024":-1}}`, "negative price"},
		{"per thousand characters", `{"unit":"character","price":0.015}`, "per character, not per thousand"},
		{"negative default", `{"unit":"video_second","price":0.1,"default_units":-1}`, "negative default_units"},
		{"token unit still needs input and output", `{"unit":"token","input":0}`, "input and output are required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(`{"as_of":"x","providers":{"p":{"m":` + c.entry + `}}}`))
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("err = %v, want %q", err, c.wantErr)
			}
		})
	}
	tab, err := Parse([]byte(`{"as_of":"x","unit":"per token unless the entry names its unit","providers":{"p":{"m":{"unit":"image","variants":{"hd":0.5,"512x512":0.2,"hd/512x512":0.7}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tab.Lookup("p", "m")
	if p.Media == nil || p.Media.Unit != UnitImage || p.Media.Unit.String() != "image" {
		t.Fatalf("media %+v", p.Media)
	}
	for _, c := range []struct {
		q, s string
		want float64
	}{{"hd", "512x512", 0.7}, {"", "512x512", 0.2}, {"standard", "512x512", 0.2}, {"hd", "", 0.5}, {"hd", "9x9", 0.5}} {
		if got, ok := p.Priced(Usage{}, Units{N: 1, Known: true, Quality: c.q, Size: c.s}); !ok || !near(got, c.want) {
			t.Errorf("%q %q: (%v, %v), want %v", c.q, c.s, got, ok, c.want)
		}
	}
	if _, ok := p.Priced(Usage{}, Units{N: 1, Known: true}); ok {
		t.Error("no base price and no matching variant must be unknown")
	}
}
