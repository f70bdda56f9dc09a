// media.go reads what a media request used — characters of text to speak, seconds of
// audio transcribed, images generated, seconds of video — from the provider's answer
// where it says so and from the request otherwise, for pricing in each provider's unit.
package usage

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// Kind is what a media request is counted in.
type Kind uint8

// The kinds of media usage.
const (
	Characters   Kind = iota + 1 // characters of the text to speak (request)
	AudioSeconds                 // seconds of audio transcribed (answer)
	Images                       // images generated (answer, else request, else 1)
	VideoSeconds                 // seconds of video generated (answer, else request)
)

// Media is one request's media usage. Known is false when neither the answer nor the
// request says; Quality and Size pick an image or video price.
type Media struct {
	Units         float64
	Known         bool
	Quality, Size string
}

// Where each provider puts the figures (gjson paths, first match wins). Answers of
// Workers AI's REST API are wrapped in "result".
var (
	// OpenAI /audio/speech "input", ElevenLabs and Deepgram "text", Cartesia "transcript".
	textFields = []string{"input", "text", "transcript"}
	// OpenAI transcriptions: usage.seconds (whisper-1) or duration (verbose_json);
	// Deepgram metadata.duration; Workers AI whisper-large-v3-turbo transcription_info.
	audioSecondsFields = []string{"usage.seconds", "duration", "metadata.duration",
		"transcription_info.duration", "result.transcription_info.duration", "result.metadata.duration"}
	// OpenAI and Ideogram "data", fal "images", Replicate "output" (an array or one URL).
	imageAnswerFields = []string{"data", "images", "output"}
	// OpenAI "n", fal and Ideogram "num_images", Replicate "num_outputs".
	imageRequestFields = []string{"n", "num_images", "num_outputs", "image_request.num_images"}
	// OpenAI videos "seconds"; fal and Replicate "duration" ("5", 5 or "8s").
	videoFields   = []string{"seconds", "duration"}
	qualityFields = []string{"quality", "rendering_speed", "image_request.rendering_speed"}
	sizeFields    = []string{"size"}
)

// ReadMedia reads a request's usage of kind from the request body (JSON or a multipart
// form, ctype its Content-Type) and the answer body (JSON; nil when unknown or cut).
func ReadMedia(kind Kind, req []byte, ctype string, answer []byte) Media {
	var m Media
	answer = jsonOnly(answer)
	switch kind {
	case Characters:
		if s, ok := RequestField(req, ctype, textFields...); ok {
			m.Units, m.Known = float64(utf8.RuneCountInString(s)), true
		}
	case AudioSeconds:
		if len(answer) > 0 {
			for _, p := range audioSecondsFields {
				if r := gjson.GetBytes(answer, p); r.Type == gjson.Number && r.Num >= 0 {
					m.Units, m.Known = r.Num, true
					break
				}
			}
		}
	case Images:
		if len(answer) > 0 {
			for _, p := range imageAnswerFields {
				r := gjson.GetBytes(answer, p)
				if r.IsArray() && len(r.Array()) > 0 {
					m.Units, m.Known = float64(len(r.Array())), true
					break
				}
				if r.Type == gjson.String && r.Str != "" {
					m.Units, m.Known = 1, true
					break
				}
			}
		}
		if !m.Known {
			if s, ok := RequestField(req, ctype, imageRequestFields...); ok {
				if n, ok := number(s); ok && n >= 0 {
					m.Units, m.Known = n, true
				}
			}
		}
		if !m.Known { // every image API makes one image unless told otherwise
			m.Units, m.Known = 1, true
		}
	case VideoSeconds:
		for i, body := range [][]byte{answer, req} {
			ct := ""
			if i == 1 {
				ct = ctype
			}
			if s, ok := RequestField(body, ct, videoFields...); ok {
				if n, ok := number(s); ok && n >= 0 {
					m.Units, m.Known = n, true
					break
				}
			}
		}
	}
	// The answer says what was made ("auto" resolved); the request what was asked.
	m.Quality = field(answer, req, ctype, qualityFields)
	m.Size = field(answer, req, ctype, sizeFields)
	return m
}

func field(answer, req []byte, ctype string, paths []string) string {
	if len(answer) > 0 {
		for _, p := range paths {
			if r := gjson.GetBytes(answer, p); r.Type == gjson.String && r.Str != "" && r.Str != "auto" {
				return r.Str
			}
		}
	}
	s, _ := RequestField(req, ctype, paths...)
	return s
}

// jsonOnly returns body when it is a JSON object, nil otherwise (audio, a cut body).
func jsonOnly(body []byte) []byte {
	t := bytes.TrimSpace(body)
	if len(t) == 0 || t[0] != '{' || !gjson.ValidBytes(t) {
		return nil
	}
	return t
}

// number reads 5, "5", "5.5" or "8s".
func number(s string) (float64, bool) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "s")
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// RequestField returns the first of paths that a request body holds as a string or a
// number: gjson paths in a JSON body, field names in a multipart/form-data body (file
// parts skipped). An empty ctype reads JSON.
func RequestField(body []byte, ctype string, paths ...string) (string, bool) {
	if len(body) == 0 {
		return "", false
	}
	if mt, params, err := mime.ParseMediaType(ctype); err == nil && mt == "multipart/form-data" {
		return formField(body, params["boundary"], paths)
	}
	t := bytes.TrimSpace(body)
	if len(t) == 0 || t[0] != '{' {
		return "", false
	}
	for _, p := range paths {
		switch r := gjson.GetBytes(t, p); r.Type {
		case gjson.String:
			return r.Str, true
		case gjson.Number:
			return r.Raw, true
		}
	}
	return "", false
}

// formField reads the first of names from a multipart form (values up to 64 KiB).
func formField(body []byte, boundary string, names []string) (string, bool) {
	if boundary == "" {
		return "", false
	}
	found := map[string]string{}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		name := p.FormName()
		if p.FileName() != "" || name == "" {
			continue
		}
		for _, n := range names {
			if n == name {
				if v, err := io.ReadAll(io.LimitReader(p, 64<<10)); err == nil {
					if _, dup := found[name]; !dup {
						found[name] = string(v)
					}
				}
			}
		}
	}
	for _, n := range names {
		if v, ok := found[n]; ok {
			return v, true
		}
	}
	return "", false
}
