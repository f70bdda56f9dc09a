// record.go is how a log record is stored: its facts (the fields the filters read, in a
// compact binary form), then its JSON, S2-compressed against a dictionary of a typical
// record. A record's JSON is mostly its field names and common values, which the
// dictionary holds, so about 600 bytes are stored as 60 to 200: fewer bytes written to
// Badger's value log and on disk. Values written before this (plain JSON, or compressed
// without the facts in front) still read.
package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	json "github.com/goccy/go-json"
	"github.com/klauspost/compress/s2"
)

// recordDictV1 marks a record compressed against recordDict1. The dictionary of a marker
// never changes once records have been written with it: a better one gets a new marker.
const recordDictV1 = 0x01

// recordFactsV1 marks a record stored with its facts in front (layout 4): the facts'
// length (uvarint), the facts (appendFacts), then the JSON compressed against recordDict1.
// A filter reads the facts without decompressing the rest; before layout 4 they were a
// Badger key of their own per record.
const recordFactsV1 = 0x02

// recordDict1 is a typical record, with each optional field once and the values seen
// most (field order is LogRecord's, which is how json.Marshal writes them).
var recordDict1 = s2.MakeDict([]byte(`{"id":"01JF0000000000000000000000","created_at":"2026-01-01T00:00:00.000000000Z",`+
	`"cached":false,"duration":0,"model":"gpt-4o-mini","model_type":"","path":"chat/completions","provider":"openai",`+
	`"success":true,"tokens_in":null,"tokens_out":null,"status_code":200,"step":0,"request_type":"",`+
	`"request_content_type":"application/json","response_content_type":"application/json",`+
	`"request_size":0,"response_size":0,"metadata":"{\"\":\"\"}","cost":null,"custom_cost":false,`+
	`"feedback":0,"score":0,"event_id":"","account_id":"","gateway_id":"","method":"POST","stream":false,`+
	`"ttfb_ms":0,"error_code":0,"error_message":"","tokens_cached":0,"tokens_estimated":true,`+
	`"key_id":"","key_alias":"","attempts":[{"step":0,"attempt":1,"provider":"","model":"","status":200,"duration_ms":0,"outcome":"answered"}],`+
	`"route":{"id":"","name":"","version_id":"","nodes":[{"element_id":"","type":"","output":"next"}]},"dlp_action":"","dlp":{},"guardrails_action":"","guardrails":{},`+
	`"event_seq":0}`+
	`"cached":true,"success":false,"stream":true,"text/event-stream","anthropic","workers-ai","google-ai-studio","compat","dynamic/"`),
	[]byte(`{"id":"`))

// maxEncodedRecord is the most room a record of plain bytes of JSON and facts bytes of
// facts takes encoded (negative: too large to encode).
func maxEncodedRecord(plain, facts int) int {
	n := s2.MaxEncodedLen(plain)
	if n < 0 {
		return n
	}
	return 1 + binary.MaxVarintLen64 + facts + n
}

// appendRecord appends a record's facts and JSON, encoded, to dst (which needs
// maxEncodedRecord bytes of room for the encoder to write in place: it is grown if not).
func appendRecord(dst, facts, plain []byte) []byte {
	dst = slices.Grow(dst, maxEncodedRecord(len(plain), len(facts)))
	dst = append(dst, recordFactsV1)
	dst = binary.AppendUvarint(dst, uint64(len(facts)))
	dst = append(dst, facts...)
	enc := recordDict1.Encode(dst[len(dst):cap(dst)], plain)
	return dst[:len(dst)+len(enc)]
}

// cutPrefixed cuts a field written as its length (a uvarint) and its bytes from the front
// of b (false: b is too short for it).
func cutPrefixed(b []byte) (field, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, b, false
	}
	return b[k : k+int(n)], b[k+int(n):], true
}

// splitFacts splits a value marked recordFactsV1 into its facts and its compressed JSON.
func splitFacts(v []byte) (facts, body []byte, err error) {
	facts, body, ok := cutPrefixed(v[1:])
	if !ok {
		return nil, nil, errors.New("storage: log record: damaged facts")
	}
	return facts, body, nil
}

// storedFacts is the facts a record was stored with (false: stored without them, by a
// version before layout 4, or damaged).
func storedFacts(v []byte) ([]byte, bool) {
	if len(v) == 0 || v[0] != recordFactsV1 {
		return nil, false
	}
	facts, _, err := splitFacts(v)
	return facts, err == nil
}

// decodeRecord reads a stored record: with its facts, compressed or (written by an older
// version) plain.
func decodeRecord(v []byte, r *LogRecord) error {
	if len(v) == 0 {
		return errors.New("storage: empty log record")
	}
	switch v[0] {
	case '{':
		return json.Unmarshal(v, r)
	case recordDictV1:
		return decodeCompressed(v[1:], r)
	case recordFactsV1:
		_, body, err := splitFacts(v)
		if err != nil {
			return err
		}
		return decodeCompressed(body, r)
	default:
		return fmt.Errorf("storage: log record: unknown encoding %#x", v[0])
	}
}

// decodeCompressed reads a record's JSON compressed against recordDict1.
func decodeCompressed(body []byte, r *LogRecord) error {
	plain, err := recordDict1.Decode(nil, body)
	if err != nil {
		return fmt.Errorf("storage: log record: %w", err)
	}
	return json.Unmarshal(plain, r)
}
