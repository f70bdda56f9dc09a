// media_test.go checks how media usage is read from answers and requests: characters to
// speak, seconds of audio, images and their quality and size, seconds of video.
package usage

import "testing"

func TestReadMedia(t *testing.T) {
	form := "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\nPNG\x00\r\n" +
		"--b\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\n3\r\n" +
		"--b\r\nContent-Disposition: form-data; name=\"size\"\r\n\r\n512x512\r\n--b--\r\n"
	cases := []struct {
		name          string
		kind          Kind
		req, ctype    string
		answer        string
		units         float64
		known         bool
		quality, size string
	}{
		{"openai speech input", Characters, `{"model":"tts-1","input":"Hello, world!","voice":"alloy"}`, "application/json", "\xff\xfbaudio", 13, true, "", ""},
		{"characters, not bytes", Characters, `{"text":"héllo wörld"}`, "application/json", "", 11, true, "", ""},
		{"cartesia transcript", Characters, `{"transcript":"Welcome to Cloudflare - AI Gateway!","model_id":"sonic-english"}`, "application/json", "", 35, true, "", ""},
		{"no text", Characters, `{"voice":"x"}`, "application/json", "", 0, false, "", ""},
		{"streamed request body", Characters, ``, "application/json", "", 0, false, "", ""},
		{"whisper usage seconds", AudioSeconds, ``, "multipart/form-data; boundary=b", `{"text":"hi","usage":{"type":"duration","seconds":42}}`, 42, true, "", ""},
		{"verbose_json duration", AudioSeconds, ``, "", `{"task":"transcribe","duration":8.47,"text":"hi"}`, 8.47, true, "", ""},
		{"deepgram metadata", AudioSeconds, ``, "audio/wav", `{"metadata":{"duration":25.93},"results":{}}`, 25.93, true, "", ""},
		{"workers ai wrapped", AudioSeconds, ``, "", `{"result":{"text":"x","transcription_info":{"duration":3.5}},"success":true}`, 3.5, true, "", ""},
		{"text answer", AudioSeconds, ``, "", `hello there`, 0, false, "", ""},
		{"cut JSON answer", AudioSeconds, ``, "", `{"duration":8.4,"text":"hel`, 0, false, "", ""},
		{"openai images answer", Images, `{"model":"dall-e-3","n":1,"size":"1024x1792","quality":"hd"}`, "application/json", `{"created":1,"data":[{"url":"u"}]}`, 1, true, "hd", "1024x1792"},
		{"answer count beats request n", Images, `{"n":4}`, "application/json", `{"data":[{"url":"a"},{"url":"b"}]}`, 2, true, "", ""},
		{"gpt-image-1 answer resolves auto", Images, `{"model":"gpt-image-1","quality":"auto","size":"auto"}`, "application/json", `{"data":[{"b64_json":"x"}],"quality":"medium","size":"1024x1536"}`, 1, true, "medium", "1024x1536"},
		{"fal images", Images, `{"prompt":"x","num_images":2}`, "application/json", `{"images":[{"url":"a"},{"url":"b"}],"seed":1}`, 2, true, "", ""},
		{"fal queue submit: request count", Images, `{"prompt":"x","num_images":3}`, "application/json", `{"request_id":"r","status":"IN_QUEUE"}`, 3, true, "", ""},
		{"replicate single output", Images, `{"version":"o/m","input":{}}`, "application/json", `{"status":"succeeded","output":"https://x/out.webp"}`, 1, true, "", ""},
		{"replicate async: one image", Images, `{"version":"o/m","input":{}}`, "application/json", `{"status":"starting","output":null}`, 1, true, "", ""},
		{"ideogram rendering speed", Images, `{"prompt":"x","rendering_speed":"TURBO"}`, "application/json", `{"data":[{"url":"a"}]}`, 1, true, "TURBO", ""},
		{"multipart edit form", Images, form, "multipart/form-data; boundary=b", ``, 3, true, "", "512x512"},
		{"sora answer seconds", VideoSeconds, `{"model":"sora-2","seconds":"4"}`, "application/json", `{"id":"v","seconds":"8","size":"720x1280"}`, 8, true, "", "720x1280"},
		{"fal duration string", VideoSeconds, `{"prompt":"x","duration":"10"}`, "application/json", `{"video":{"url":"u"}}`, 10, true, "", ""},
		{"veo duration with unit", VideoSeconds, `{"prompt":"x","duration":"8s"}`, "application/json", ``, 8, true, "", ""},
		{"no duration", VideoSeconds, `{"prompt":"x"}`, "application/json", `{"video":{"url":"u"}}`, 0, false, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := ReadMedia(c.kind, []byte(c.req), c.ctype, []byte(c.answer))
			if m.Units != c.units || m.Known != c.known || m.Quality != c.quality || m.Size != c.size {
				t.Fatalf("= %+v, want units %v known %v quality %q size %q", m, c.units, c.known, c.quality, c.size)
			}
		})
	}
}
