// target_test.go checks fal's x-fal-target-url handling (hosts, schemes, credentials,
// the test override) and the model found in media requests' forms, fields and queries.
package providers_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine/providers"
)

func TestFalTargetURL(t *testing.T) {
	fal := providers.NewTable(noEnv)["fal"]
	if fal.TargetURLHeader != "x-fal-target-url" {
		t.Fatalf("fal target header %q", fal.TargetURLHeader)
	}
	ok := []struct{ raw, url, model string }{
		{"https://queue.fal.run/fal-ai/bytedance/seedream/v4/edit", "https://queue.fal.run/fal-ai/bytedance/seedream/v4/edit", "fal-ai/bytedance/seedream/v4/edit"},
		{"https://fal.run/fal-ai/fast-sdxl", "https://fal.run/fal-ai/fast-sdxl", "fal-ai/fast-sdxl"},
		{"https://rest.alpha.fal.ai/storage/upload/initiate?storage_type=fal-cdn-v3", "https://rest.alpha.fal.ai/storage/upload/initiate?storage_type=fal-cdn-v3", "storage/upload/initiate"},
		{"https://fal.ai/api/x", "https://fal.ai/api/x", "api/x"},
		{"HTTPS://Queue.FAL.run:443/fal-ai/flux/requests/abc/status?logs=1", "https://queue.fal.run/fal-ai/flux/requests/abc/status?logs=1", ""},
		{"  https://queue.fal.run/fal-ai/flux/dev  ", "https://queue.fal.run/fal-ai/flux/dev", "fal-ai/flux/dev"},
	}
	for _, c := range ok {
		url, model, err := fal.TargetURL(c.raw)
		if err != nil || url != c.url || model != c.model {
			t.Errorf("%q → (%q, %q, %v), want (%q, %q)", c.raw, url, model, err, c.url, c.model)
		}
	}
	bad := []struct{ raw, why string }{
		{"http://queue.fal.run/x", "https"},
		{"https://evil.example/x", "not one of the provider's own hosts"},
		{"https://fal.run.evil.example/x", "own hosts"},
		{"https://evilfal.run/x", "own hosts"},
		{"https://fal.run./x", "own hosts"},
		{"https://fal.running/x", "own hosts"},
		{"https://127.0.0.1/x", "own hosts"},
		{"https://[::1]/x", "own hosts"},
		{"https://169.254.169.254/latest/meta-data", "own hosts"},
		{"https://user:pw@fal.run/x", "credentials"},
		{"https://fal.run@evil.example/x", "credentials"},
		{"https://fal.run:8443/x", "port"},
		{"https://fal.run/x#frag", "fragment"},
		{"https://fal.run/a/../../x", ". or .."},
		{"https://fal.run/a/%2e%2e/x", ". or .."},
		{"/fal-ai/flux/dev", "absolute"},
		{"queue.fal.run/fal-ai/flux", "absolute"},
		{"https://fal.run:x/", "absolute"},
		{"ftp://fal.run/x", "https"},
		{"javascript:alert(1)", "absolute"},
		{"https://fa_l.run/x", "own hosts"},
	}
	for _, c := range bad {
		_, _, err := fal.TargetURL(c.raw)
		var te *providers.TargetError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), c.why) || !strings.HasPrefix(err.Error(), "x-fal-target-url: ") {
			t.Errorf("%q: err %v, want a TargetError about %q naming the header", c.raw, err, c.why)
		}
	}
	// Other providers take no target URL.
	if _, _, err := providers.NewTable(noEnv)["openai"].TargetURL("https://fal.run/x"); err == nil {
		t.Error("openai accepted a target URL")
	}
}

func TestFalTargetURLOverride(t *testing.T) {
	fal := providers.NewTable(func(k string) string {
		if k == "SWITCHYARD_UPSTREAM_FAL" {
			return "http://127.0.0.1:9/mock/"
		}
		return ""
	})["fal"]
	url, model, err := fal.TargetURL("https://queue.fal.run/fal-ai/flux/dev?x=1")
	if err != nil || url != "http://127.0.0.1:9/mock/fal-ai/flux/dev?x=1" || model != "fal-ai/flux/dev" {
		t.Fatalf("override: (%q, %q, %v)", url, model, err)
	}
	// The override does not widen the host rule.
	if _, _, err := fal.TargetURL("https://example.com/x"); err == nil {
		t.Fatal("an override let another host through")
	}
}

func TestMediaModels(t *testing.T) {
	tbl := providers.NewTable(noEnv)
	form := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\nContent-Type: audio/mpeg\r\n\r\nID3...\r\n" +
		"--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--b--\r\n"
	cases := []struct {
		slug, body, ctype, query, want string
	}{
		{"openai", form, "multipart/form-data; boundary=b", "", "whisper-1"},
		{"openai", `{"input":"hi"}`, "application/json", "", ""},
		{"elevenlabs", `{"text":"hi","model_id":"eleven_flash_v2_5"}`, "application/json", "", "eleven_flash_v2_5"},
		{"cartesia", `{"transcript":"hi","model_id":"sonic-english"}`, "application/json", "", "sonic-english"},
		{"replicate", `{"version":"black-forest-labs/flux-schnell","input":{}}`, "application/json", "", "black-forest-labs/flux-schnell"},
		{"ideogram", `{"image_request":{"model":"V_2","prompt":"x"}}`, "application/json", "", "V_2"},
		{"deepgram", "", "audio/wav", "model=nova-3&smart_format=true", "nova-3"},
		{"deepgram", `{"text":"hi"}`, "application/json", "model=aura-2-thalia-en", "aura-2"},
		{"deepgram", `{"text":"hi"}`, "application/json", "model=aura-asteria-en", "aura"},
		{"deepgram", "", "audio/wav", "", ""},
	}
	for _, c := range cases {
		if got := tbl[c.slug].RequestModel([]byte(c.body), c.ctype, c.query); got != c.want {
			t.Errorf("%s %s ?%s: model %q, want %q", c.slug, c.body, c.query, got, c.want)
		}
	}
	paths := []struct{ slug, rest, want string }{
		{"fal", "/fal-ai/fast-sdxl", "fal-ai/fast-sdxl"},
		{"fal", "/fal-ai/flux/requests/123/status", ""},
		{"replicate", "/models/black-forest-labs/flux-schnell/predictions", "black-forest-labs/flux-schnell"},
		{"replicate", "/predictions/abc", ""},
		{"ideogram", "/v1/ideogram-v3/generate", "ideogram-v3"},
		{"ideogram", "/generate", ""},
	}
	for _, c := range paths {
		if _, got, err := tbl[c.slug].URL("acct", c.rest); err != nil || got != c.want {
			t.Errorf("%s %s: model (%q, %v), want %q", c.slug, c.rest, got, err, c.want)
		}
	}
}
