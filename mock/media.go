// media.go is a mock of the media APIs the gateway prices per unit: OpenAI's
// /audio/speech (audio bytes), /images/generations (one image per n) and
// /audio/transcriptions (whisper's answer with usage.seconds), and fal (any other POST:
// an answer with one image per num_images). It records what it received.
package mock

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
)

// TranscriptionSeconds is the audio length the mock's transcription answers report.
const TranscriptionSeconds = 90

// Media is the media mock.
type Media struct {
	*httptest.Server
	recorder
}

// NewMedia starts the mock.
func NewMedia() *Media {
	m := &Media{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /audio/speech", func(w http.ResponseWriter, r *http.Request) {
		m.read(r)
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Write([]byte("\xff\xfb\x90\x00fake mp3 frames"))
	})
	mux.HandleFunc("POST /audio/transcriptions", func(w http.ResponseWriter, r *http.Request) {
		m.read(r)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"text":"Hello.","usage":{"type":"duration","seconds":%d}}`, TranscriptionSeconds)
	})
	mux.HandleFunc("POST /images/generations", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ N int }
		json.Unmarshal(m.read(r), &req)
		writeImages(w, "data", max(req.N, 1))
	})
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) { // fal
		var req struct {
			NumImages int `json:"num_images"`
		}
		json.Unmarshal(m.read(r), &req)
		writeImages(w, "images", max(req.NumImages, 1))
	})
	m.Server = httptest.NewServer(mux)
	return m
}

func (m *Media) read(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	m.record(r, b)
	return b
}

func writeImages(w http.ResponseWriter, field string, n int) {
	imgs := make([]map[string]any, n)
	for i := range imgs {
		imgs[i] = map[string]any{"url": fmt.Sprintf("https://example.invalid/img-%d.png", i), "width": 1024, "height": 1024}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"created": 1700000000, field: imgs})
}
