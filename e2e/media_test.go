// media_test.go drives issue 16's media costs and fal's x-fal-target-url through the real
// binary: a text-to-speech, an image and a transcription request logged with their cost
// in the provider's unit, an unpriced media model logged with a null cost, and fal's
// target URL header honoured on fal's hosts only.
package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/mock"
)

func TestMediaCostsLogged(t *testing.T) {
	up := mock.NewMedia()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL, "SWITCHYARD_UPSTREAM_FAL=" + up.URL})
	cost := func(name string, resp *answer, body []byte) any {
		t.Helper()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, body)
		}
		return rawLog(t, g, resp.Header.Get("cf-aig-log-id"))["cost"]
	}

	// tts-1: $15 per million characters of the input text.
	const text = "Welcome to Switchyard, the AI gateway!"
	resp, body := send(t, g.Base("openai")+"/audio/speech", `{"model":"tts-1","input":"`+text+`","voice":"alloy"}`, nil)
	if c := cost("speech", resp, body); !near(c, float64(len(text))*0.000015) {
		t.Errorf("tts-1 cost %v, want %v", c, float64(len(text))*0.000015)
	}
	// dall-e-3 hd 1024x1792: $0.12 per image, two images.
	resp, body = send(t, g.Base("openai")+"/images/generations", `{"model":"dall-e-3","prompt":"a lighthouse","n":2,"size":"1024x1792","quality":"hd"}`, nil)
	if c := cost("image", resp, body); !near(c, 0.24) {
		t.Errorf("dall-e-3 cost %v, want 0.24", c)
	}
	// whisper-1, multipart: $0.006 per minute of the answer's usage.seconds.
	form := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\nContent-Type: audio/mpeg\r\n\r\nID3 audio\r\n" +
		"--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--b--\r\n"
	resp, body = send(t, g.Base("openai")+"/audio/transcriptions", form, map[string]string{"Content-Type": "multipart/form-data; boundary=b"})
	if c := cost("transcription", resp, body); !near(c, mock.TranscriptionSeconds/60.0*0.006) {
		t.Errorf("whisper-1 cost %v, want %v", c, mock.TranscriptionSeconds/60.0*0.006)
	}
	// fal-ai/fast-sdxl has no per-image list price: the cost is unknown, null and not 0.
	resp, body = send(t, g.Base("fal")+"/fal-ai/fast-sdxl", `{"prompt":"a cat flying an aeroplane"}`, map[string]string{"Authorization": "Key fal-test"})
	if c := cost("fal unpriced", resp, body); c != nil {
		t.Errorf("unpriced media model cost %v, want null", c)
	}
	// gpt-image-1 with quality auto (the answer does not resolve it): unknown, null.
	resp, body = send(t, g.Base("openai")+"/images/generations", `{"model":"gpt-image-1","prompt":"x","quality":"auto"}`, nil)
	if c := cost("gpt-image-1 auto", resp, body); c != nil {
		t.Errorf("gpt-image-1 with an unknown quality cost %v, want null", c)
	}
}

func TestFalTargetURLHeader(t *testing.T) {
	up := mock.NewMedia()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_FAL=" + up.URL})

	// The reference's example: the whole fal URL in x-fal-target-url, posted to /fal.
	resp, body := send(t, g.Base("fal"), `{"prompt":"Dress the model","num_images":2}`, map[string]string{
		"Authorization": "Key fal-test", "x-fal-target-url": "https://queue.fal.run/fal-ai/bytedance/seedream/v4/edit?fal_webhook=x"})
	if resp.StatusCode != 200 {
		t.Fatalf("target URL: %d %s", resp.StatusCode, body)
	}
	seen := up.Requests()
	if len(seen) != 1 || seen[0].Path != "/fal-ai/bytedance/seedream/v4/edit" || seen[0].Query != "fal_webhook=x" {
		t.Fatalf("upstream saw %+v, want the target's path and query", seen)
	}
	if seen[0].Header.Get("x-fal-target-url") != "" || seen[0].Header.Get("Authorization") != "Key fal-test" {
		t.Fatalf("upstream headers %v: the target header must not be forwarded, the key must", seen[0].Header)
	}
	rec := rawLog(t, g, resp.Header.Get("cf-aig-log-id"))
	if rec["model"] != "fal-ai/bytedance/seedream/v4/edit" || !near(rec["cost"], 0.06) {
		t.Fatalf("log model %v cost %v, want the target's model at 2 x $0.03", rec["model"], rec["cost"])
	}

	// Anything but https on fal's own hosts is a 400 naming the header, and nothing is sent.
	for _, bad := range []string{
		"https://evil.example/fal-ai/flux/dev",
		"http://queue.fal.run/fal-ai/flux/dev",
		"https://user:pw@queue.fal.run/fal-ai/flux/dev",
		"https://fal.run.evil.example/x",
		"https://169.254.169.254/latest/meta-data/",
		"not a url",
	} {
		resp, body := send(t, g.Base("fal"), `{"prompt":"x"}`, map[string]string{"Authorization": "Key fal-test", "x-fal-target-url": bad})
		var e struct {
			Success bool
			Errors  []struct {
				Code    int
				Message string
			}
		}
		if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != 400 || e.Success || len(e.Errors) != 1 ||
			e.Errors[0].Code != 2006 || !strings.Contains(e.Errors[0].Message, "x-fal-target-url") {
			t.Errorf("%q: %d %s, want 400 code 2006 naming x-fal-target-url", bad, resp.StatusCode, body)
		}
		if resp.Header.Get("cf-aig-log-id") == "" {
			t.Errorf("%q: the refusal has no cf-aig-log-id", bad)
		}
	}
	if n := len(up.Requests()); n != 1 {
		t.Fatalf("refused target URLs reached the upstream: %d requests", n)
	}
}
