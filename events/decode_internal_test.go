package events

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	json "github.com/goccy/go-json"
)

// FuzzDecodeEncoded: the fast envelope reader never disagrees with the JSON decoder on an
// envelope whose data is JSON (it leaves the data to the typed decoders to check).
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
		if !ok || !json.Valid(fast.Data) {
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

// TestEncodeData: the data of an envelope is what json.Marshal writes (HTML characters
// escaped, raw JSON bodies compacted), so events written by the batcher's in-place encoder
// read, and replay, exactly like those written before it; the id and type decode back as
// they were, whatever characters they hold.
func TestEncodeData(t *testing.T) {
	at := time.Date(2026, 12, 6, 2, 0, 0, 5, time.UTC)
	cases := []struct {
		name string
		id   string
		data any
	}{
		{"finished with bodies", "01KB00000000000000000000BE", &RequestFinished{LogID: "01KB", Model: "<gpt & co>", Status: 200,
			RequestPayload: InlinePayload([]byte(`{ "a" : [1, 2],  "s":"<x>" }`), 28, false), ResponsePayload: InlinePayload([]byte("not json\n"), 9, false)}},
		{"map", "a\"b\\c", map[string]any{"z": 1, "a": "\u2028<>&"}},
		{"control characters in the id", "ctl\x01\x1f\u00e9", []int{1, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Encode(TypeRequestFinished, 3, c.id, at, c.data)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(c.data)
			if err != nil {
				t.Fatal(err)
			}
			e, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if string(e.Data) != string(want) || e.ID != c.id || e.Type != TypeRequestFinished || e.Version != 3 || !e.Time.Equal(at) {
				t.Fatalf("decoded %+v from %s; data want %s", e, b, want)
			}
			if _, ok := decodeEncoded(b); !ok && plainString([]byte(c.id)) {
				t.Fatalf("the fast reader does not read %s", b)
			}
		})
	}
	// A value that cannot be encoded leaves the buffer as it was.
	var buf bytes.Buffer
	buf.WriteString("before")
	if err := AppendEncoded(&buf, json.NewEncoder(&buf), TypeRequestFinished, 1, "x", at, func() {}); err == nil || buf.String() != "before" {
		t.Fatalf("err %v, buffer %q", err, buf.String())
	}
}

// TestBodiesAt: the bodiless reader stops at the first payload only in an event that says
// its bodies come last, and finds it past strings holding quotes, braces and the names.
func TestBodiesAt(t *testing.T) {
	cases := []struct {
		name, data string
		want       int // -1: read whole
	}{
		{"marked", `{"log_id":"L","bodies_last":true,"request_payload":{"json":{"a":1}}}`, 32},
		{"marked, response only", `{"bodies_last":true,"response_payload":{"size":1}}`, 19},
		{"strings with quotes and braces before", `{"e":"x\"}{\\","m":{"request_payload":"\"request_payload\":"},"bodies_last":true,"request_payload":{}}`, 80},
		{"unmarked (written before bodies_last)", `{"log_id":"L","request_payload":{"size":1},"cost":1}`, -1},
		{"marked false", `{"bodies_last":false,"request_payload":{}}`, -1},
		{"marker after the bodies", `{"request_payload":{},"bodies_last":true}`, -1},
		{"marked, no bodies", `{"log_id":"L","bodies_last":true}`, -1},
		{"unterminated string", `{"bodies_last":true,"x":"abc`, -1},
		{"empty", ``, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cut, ok := bodiesAt([]byte(c.data))
			if !ok {
				cut = -1
			}
			if cut != c.want {
				t.Fatalf("bodiesAt = %d, want %d", cut, c.want)
			}
		})
	}
}

// TestFinishedOldLayout: events written before bodies_last, with the bodies between other
// members, still read whole without their bodies; a new one stops before its bodies and
// reads the same.
func TestFinishedOldLayout(t *testing.T) {
	old := `{"type":"request.finished","v":1,"id":"L.request.finished","time":"2026-12-04T10:00:00Z","data":` +
		`{"log_id":"L","gateway_id":"g","status":200,"request_payload":{"json":{"q":"}"},"size":9},` +
		`"response_payload":{"inline":"bm90IGpzb24=","size":8},"attempts":[{"step":0,"status":200}],"cost":0.5,"metadata":{"team":"a"},"trace_id":"t"}}`
	f, err := (Msg{Data: []byte(old)}).Finished()
	if err != nil {
		t.Fatal(err)
	}
	if f.Cost == nil || *f.Cost != 0.5 || len(f.Attempts) != 1 || f.Metadata["team"] != "a" || f.TraceID != "t" || f.RequestPayload != nil {
		t.Fatalf("old layout read as %+v", f)
	}
	f.BodiesLast = true
	f.RequestPayload = InlinePayload([]byte(`{"q":"}"}`), 9, false)
	b, err := Encode(TypeRequestFinished, VersionRequestFinished, "L.request.finished", time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), f)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := Decode(b)
	if _, ok := bodiesAt(e.Data); !ok {
		t.Fatalf("Encode does not write the bodies last: %s", b)
	}
	g, err := (Msg{Data: b}).Finished()
	f.RequestPayload = nil
	if err != nil || !reflect.DeepEqual(f, g) {
		t.Fatalf("new layout read as %+v (%v), want %+v", g, err, f)
	}
}

// A body is kept as JSON exactly when it is a JSON document; telling a streamed answer
// apart costs no allocation beyond the payload itself.
func TestInlinePayloadKeepsJSONAsJSON(t *testing.T) {
	sse := []byte("data: {\"choices\":[]}\n\ndata: [DONE]\n\n")
	for _, c := range []struct {
		body string
		json bool
	}{
		{`{"a":1}`, true}, {" \n\t[1,2]", true}, {`"s"`, true}, {"-1.5", true}, {"42", true},
		{"true", true}, {"null", true}, {"", false}, {"   ", false}, {string(sse), false},
		{"event: ping\n\n", false}, {"{not json", false}, {"nul", false}, {"\xef\xbb\xbf{}", false},
	} {
		p := InlinePayload([]byte(c.body), int64(len(c.body)), false)
		if got := p.JSON != nil; got != c.json || !bytes.Equal(p.Body(), []byte(c.body)) {
			t.Errorf("%q: kept as JSON %v, want %v", c.body, got, c.json)
		}
		if got, want := p.JSON != nil, json.Valid([]byte(c.body)); got != want {
			t.Errorf("%q: kept as JSON %v, but json.Valid says %v", c.body, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { InlinePayload(sse, int64(len(sse)), false) }); n != 1 {
		t.Errorf("%.0f allocations to keep a streamed answer, want 1 (the payload)", n)
	}
}
