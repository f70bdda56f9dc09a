// record_internal_test.go checks the stored form of log records: every field survives,
// records written as plain JSON by older versions still read, damaged values are errors.
package storage

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/switchyard/switchyard/events"
)

func TestRecordCodec(t *testing.T) {
	cost, score, fb := 0.0000234, 87.5, 1
	in, out := int64(118), int64(12)
	bench := LogRecord{ID: "01JF8Z3K5V7W9X1Y2Z3A4B5C6D", CreatedAt: time.Date(2026, 12, 6, 3, 22, 13, 95897066, time.UTC),
		Duration: 3, Model: "gpt-4o-mini", Path: "chat/completions", Provider: "openai", Success: true,
		TokensIn: &in, TokensOut: &out, StatusCode: 200, RequestContentType: "application/json",
		ResponseContentType: "application/json", RequestSize: 600, ResponseSize: 596, Cost: &cost,
		EventID: "d2f1c0b9a8e7", AccountID: "5f0a1c2b3d4e5f60718293a4b5c6d7e8", GatewayID: "bench",
		Method: "POST", TTFB: 0.41, EventSeq: 1234567}
	full := bench
	full.Feedback, full.Score, full.Metadata = &fb, &score, `{"team":"ops","user":"ü-42"}`
	full.Stream, full.Cached, full.Success, full.ErrorCode, full.ErrorMessage = true, true, false, 2005, strings.Repeat("upstream said no. ", 200)
	full.Attempts = []events.AttemptSummary{{Step: 0, Attempt: 1, Provider: "openai", Status: 429, DurationMs: 3.5, Outcome: "retry", DelayMs: 100},
		{Step: 1, Attempt: 1, Provider: "anthropic", Model: "claude", Status: 200, DurationMs: 9, Outcome: "answered"}}
	full.Route = &events.RouteWalk{ID: "r1", Name: "bench", VersionID: "v1", Nodes: []events.RouteNode{{ElementID: "start", Type: "start", Output: "next"}}}
	full.DLPAction, full.DLP = "FLAG", &events.DLPResult{Action: "FLAG", Findings: []events.DLPFinding{{PolicyIDs: []string{"p1"}, Check: "REQUEST"}}}
	full.GuardrailsAction, full.Guardrails = "BLOCK", &events.GuardrailsResult{Action: "BLOCK", Prompt: &events.GuardrailsCheck{Categories: []string{"S1"}}}
	full.KeyID, full.KeyAlias, full.TokensCached, full.TokensEstimated = "k1", "default", 7, true
	html := bench
	html.ErrorMessage, html.Metadata = "<b>&amp; 'quoted' \u2028</b>", `{"a":"<>&"}`
	huge := bench
	huge.ErrorMessage = strings.Repeat("x", 70<<10) // past what the scratch buffer keeps

	for name, rec := range map[string]LogRecord{"bench request": bench, "every field": full, "empty": {}, "html": html, "huge": huge} {
		t.Run(name, func(t *testing.T) {
			v, err := encodeRecord(&rec)
			if err != nil {
				t.Fatal(err)
			}
			// A batch writes the same bytes, without json.Marshal's copy of the JSON.
			a := &applier{}
			for range 2 {
				if got, err := a.encode(&rec); err != nil || string(got) != string(v) {
					t.Fatalf("a batch encoded %q (%v), want %q", got, err, v)
				}
			}
			var back LogRecord
			if err := decodeRecord(v, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, rec) {
				t.Fatalf("round trip changed the record:\n got %+v\nwant %+v", back, rec)
			}
			plain, _ := json.Marshal(rec)
			if len(v) >= len(plain) {
				t.Errorf("stored %d bytes for %d of JSON: not compressed", len(v), len(plain))
			}
		})
	}
	// A bench request's record (about 600 bytes of JSON) takes about half of that with
	// its facts: the dictionary holds its field names and common values.
	if v, _ := encodeRecord(&bench); len(v) > 320 {
		t.Errorf("a typical record is stored in %d bytes, want at most 320", len(v))
	}
	// Its facts are read without the rest, and are the record's.
	v, _ := encodeRecord(&full)
	facts, ok := storedFacts(v)
	if !ok || string(facts) != string(appendFacts(nil, &full)) {
		t.Fatalf("stored facts %q (%v), want the record's", facts, ok)
	}
	var fr LogRecord
	if !readFacts(v, &fr) || fr.Model != full.Model || *fr.Cost != *full.Cost || fr.Metadata != full.Metadata || fr.Success {
		t.Fatalf("facts read back as %+v", fr)
	}

	// Records written before compression are plain JSON, and still read; so are those
	// compressed without their facts in front (layouts before 4), whose facts a filter
	// reads from the whole record.
	legacy, _ := json.Marshal(full)
	for name, v := range map[string][]byte{"plain": legacy, "no facts": append([]byte{recordDictV1}, recordDict1.Encode(nil, legacy)...)} {
		var old LogRecord
		if err := decodeRecord(v, &old); err != nil || !reflect.DeepEqual(old, full) {
			t.Fatalf("%s record: %v, %+v", name, err, old)
		}
		if _, ok := storedFacts(v); ok {
			t.Fatalf("%s record: facts found in it", name)
		}
		old = LogRecord{ID: "kept"}
		if !readFacts(v, &old) || old.ID != "kept" || old.Model != full.Model || old.Metadata != full.Metadata {
			t.Fatalf("%s record: facts read as %+v", name, old)
		}
	}

	good, _ := encodeRecord(&bench)
	for name, v := range map[string][]byte{
		"empty":     nil,
		"unknown":   {0x7f, 1, 2},
		"truncated": good[:len(good)/2],
		"corrupt":   append([]byte{recordDictV1}, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3),
		"facts cut": {recordFactsV1, 0x7f, 1, 2},
		"no length": {recordFactsV1, 0xff},
	} {
		var r LogRecord
		if err := decodeRecord(v, &r); err == nil {
			t.Errorf("%s: decoded without an error", name)
		}
	}
}

func BenchmarkRecordCodec(b *testing.B) {
	in, out, cost := int64(118), int64(12), 0.0000234
	rec := LogRecord{ID: "01JF8Z3K5V7W9X1Y2Z3A4B5C6D", CreatedAt: time.Now().UTC(), Duration: 3, Model: "gpt-4o-mini",
		Path: "chat/completions", Provider: "openai", Success: true, TokensIn: &in, TokensOut: &out, StatusCode: 200,
		RequestContentType: "application/json", ResponseContentType: "application/json", RequestSize: 600,
		ResponseSize: 596, Cost: &cost, EventID: "d2f1c0b9a8e7", AccountID: "5f0a1c2b3d4e5f60718293a4b5c6d7e8",
		GatewayID: "bench", Method: "POST", TTFB: 0.41, EventSeq: 1234567}
	v, _ := encodeRecord(&rec)
	b.Run("encode", func(b *testing.B) { // as a batch does: one applier, records cut from its slab
		b.ReportAllocs()
		a := &applier{}
		for i := 0; i < b.N; i++ {
			v, _ = a.encode(&rec)
		}
		b.ReportMetric(float64(len(v)), "bytes")
	})
	b.Run("decode", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var r LogRecord
			_ = decodeRecord(v, &r)
		}
	})
}

// FuzzDecodeRecord: a damaged stored value is an error (or, for its facts, false), never
// a panic.
func FuzzDecodeRecord(f *testing.F) {
	cost := 0.5
	v, _ := encodeRecord(&LogRecord{ID: "x", Model: "m", Provider: "openai", Cost: &cost, Metadata: `{"a":"b"}`, DLPAction: "FLAG"})
	f.Add(v)
	f.Add([]byte(`{"id":"x"}`))
	plain, _ := json.Marshal(LogRecord{ID: "y"})
	f.Add(append([]byte{recordDictV1}, recordDict1.Encode(nil, plain)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r LogRecord
		_ = decodeRecord(b, &r)
		_ = readFacts(b, &r)
		if facts, ok := storedFacts(b); ok && len(facts) > len(b) {
			t.Fatalf("facts of %d bytes in a value of %d", len(facts), len(b))
		}
	})
}

// The records of a batch are cut from one slab: each stays whole while the next ones are
// written, across slabs.
func TestBatchRecordsStayApart(t *testing.T) {
	a := &applier{}
	var stored [][]byte
	for i := range 1000 {
		v, err := a.encode(&LogRecord{ID: fmt.Sprintf("01J%023d", i), Model: strings.Repeat("m", i%300), Provider: "openai"})
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, v)
	}
	for i, v := range stored {
		var r LogRecord
		if err := decodeRecord(v, &r); err != nil || r.ID != fmt.Sprintf("01J%023d", i) || len(r.Model) != i%300 {
			t.Fatalf("record %d read back as %q (model %d bytes), err %v", i, r.ID, len(r.Model), err)
		}
	}
}

// encodeRecord is the stored form of a record (a batch cuts it from a slab: applier.encode).
func encodeRecord(r *LogRecord) ([]byte, error) {
	plain, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return appendRecord(nil, appendFacts(nil, r), plain), nil
}
