package events

import (
	"reflect"
	"testing"
	"time"

	json "github.com/goccy/go-json"
)

// FuzzDecodeEncoded: the fast envelope reader never disagrees with the JSON decoder.
func FuzzDecodeEncoded(f *testing.F) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 123, time.UTC)
	for _, id := range []string{"01J.request.finished", "a\"b", "ctl\x01", ""} {
		b, _ := Encode(TypeRequestFinished, 1, id, at, map[string]any{"log_id": "x", "n": 1})
		f.Add(b)
	}
	f.Add([]byte(`{"type":"x","v":1,"id":"i","time":"2026-12-04T10:00:00Z","data":{"a":1}}`))
	f.Add([]byte(`{"type":"x","v":1,"id":"i","time":"2026-12-04T10:00:00Z","data":{"a":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeEncoded(b)
		if !ok {
			return
		}
		var full Envelope
		if err := json.Unmarshal(b, &full); err != nil {
			t.Fatalf("fast reader accepted %q, the decoder refuses it: %v", b, err)
		}
		if fast.Type != full.Type || fast.Version != full.Version || fast.ID != full.ID || !fast.Time.Equal(full.Time) {
			t.Fatalf("fast %+v, full %+v", fast, full)
		}
		var a, c any
		if json.Unmarshal(fast.Data, &a) != nil || json.Unmarshal(full.Data, &c) != nil || !reflect.DeepEqual(a, c) {
			t.Fatalf("data differs: %s vs %s", fast.Data, full.Data)
		}
	})
}
