// decode_fuzz_test.go fuzzes the decoders of what is read back from the event log: a
// stored message is split into envelopes, and each is decoded by the projections' typed
// decoders. Fuzz with go test ./events -run '^$' -fuzz '^FuzzDecodeEvents$' -parallel 1.
package events

import (
	"bytes"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	json "github.com/goccy/go-json"
	"github.com/klauspost/compress/s2"
)

// FuzzDecodeEvents: any stored message decodes without a panic; a request.finished event
// read without its bodies agrees with the full decode and is found by its log id; a
// limiter event decoded, encoded by hand and decoded again is the same.
func FuzzDecodeEvents(f *testing.F) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 123, time.UTC)
	fin := RequestFinished{LogID: "L1", AccountID: "a", GatewayID: "g", Provider: "openai", Status: 200, TokensIn: 7, BodiesLast: true,
		RequestPayload:  InlinePayload([]byte(`{"model":"m"}`), 13, false),
		ResponsePayload: InlinePayload([]byte("data: {\"x\":1}\n\n"), 15, false),
		Metadata:        Metadata{"team": "a", "n": 1.5, "ok": true}}
	b1, _ := Encode(TypeRequestFinished, VersionRequestFinished, "L1.request.finished", at, fin)
	unmarked := fin
	unmarked.BodiesLast = false
	b5, _ := Encode(TypeRequestFinished, VersionRequestFinished, "L1.request.finished", at, unmarked)
	b2, _ := Encode(TypeRequestStarted, 1, "L1.request.started", at, map[string]any{"log_id": "L1"})
	b3 := EncodeLimitUsage(TypeLimitConsumed, VersionLimitConsumed, LimitUsage{EventID: "e\"1", LimiterID: "gw/a/g/60/fixed",
		Key: "gw/a/g", IntervalSeconds: 60, BucketStart: at, BucketSeconds: 60, Amount: 1, Limit: 10, At: at})
	b4, _ := Encode(TypeConfigChanged, 1, "c1", at, ConfigChanged{Action: "update", Resource: "gateway", ResourceID: "g",
		Old: json.RawMessage(`{"a":1}`), New: json.RawMessage(`null`)})
	batch := append(append(append(append(append([]byte{}, b1...), '\n'), b2...), '\n'), b3...)
	for _, b := range [][]byte{b1, b2, b3, b4, b5, batch, append([]byte(compressedMagic), s2.Encode(nil, batch)...),
		[]byte(`{"type":"request.finished","v":1,"id":"x","time":"2026-12-04T10:00:00Z","data":{"log_id":"L","request_payload":{"body":"!"}}}`),
		[]byte(`{"type":"limit.charged","v":1,"id":"x","time":"2026-12-04T10:00:00Z","data":{"limiter_id":"l","bucket_s":1,"amount":1e308}}`)} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range Expand(nil, 1, data) {
			env, err := m.Envelope()
			if err != nil {
				continue
			}
			full, ferr := DecodeRequestFinished(env)
			light, lerr := m.Finished()
			if ferr == nil {
				if lerr != nil {
					t.Fatalf("full decode reads %q, the bodiless one refuses it: %v", m.Data, lerr)
				}
				// An event that says its bodies come last is trusted to: the bodiless
				// decode stops there. So it agrees with the full one on what Encode wrote.
				if bytes.Contains(m.Data, []byte("bodies_last")) {
					again, err := Encode(env.Type, env.Version, env.ID, env.Time, full)
					if err != nil {
						t.Fatal(err)
					}
					if light, err = (Msg{Data: again}).Finished(); err != nil {
						t.Fatalf("%s re-encoded is refused: %v", again, err)
					}
				}
				full.RequestPayload, full.ResponsePayload = nil, nil
				if !reflect.DeepEqual(full, light) {
					t.Fatalf("bodiless decode differs:\n%+v\n%+v", full, light)
				}
				if full.LogID != "" && bytes.Contains(m.Data, []byte(full.LogID)) { // log ids are written verbatim
					if _, ok := FindFinished(m.Data, full.LogID); !ok {
						t.Fatalf("FindFinished misses %q in %q", full.LogID, m.Data)
					}
				}
			}
			_, _ = DecodeRequestStarted(env)
			_, _ = DecodeConfigChanged(env)
			u, err := DecodeLimitUsage(env)
			if err != nil {
				continue
			}
			if !utf8.ValidString(u.EventID + u.LimiterID + u.Key) {
				continue // written with U+FFFD in place of the invalid bytes, as documented
			}
			back, err := Decode(EncodeLimitUsage(env.Type, env.Version, u))
			if err != nil {
				t.Fatalf("hand-encoded %+v does not decode: %v", u, err)
			}
			u2, err := DecodeLimitUsage(back)
			if err != nil || !sameUsage(u, u2) {
				t.Fatalf("limit usage %+v read back as %+v (%v)", u, u2, err)
			}
		}
	})
}

func sameUsage(a, b LimitUsage) bool {
	return a.EventID == b.EventID && a.LimiterID == b.LimiterID && a.Key == b.Key && a.Cost == b.Cost && a.Sliding == b.Sliding &&
		a.IntervalSeconds == b.IntervalSeconds && a.BucketStart.Equal(b.BucketStart) && a.BucketSeconds == b.BucketSeconds &&
		a.Amount == b.Amount && a.Limit == b.Limit && a.At.Equal(b.At)
}
