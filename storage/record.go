// record.go is how a log record is stored: its JSON, S2-compressed against a dictionary
// of a typical record. A record's JSON is mostly its field names and common values, which
// the dictionary holds, so about 600 bytes are stored as 60 to 200: fewer bytes written to
// Badger's value log and on disk. Values written before this (plain JSON) still read.
package storage

import (
	"errors"
	"fmt"
	"slices"

	json "github.com/goccy/go-json"
	"github.com/klauspost/compress/s2"
)

// recordDictV1 marks a record compressed against recordDict1. The dictionary of a marker
// never changes once records have been written with it: a better one gets a new marker.
const recordDictV1 = 0x01

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

// maxEncodedRecord is the most room a record of plain bytes of JSON takes encoded
// (negative: too large to encode).
func maxEncodedRecord(plain int) int {
	n := s2.MaxEncodedLen(plain)
	if n < 0 {
		return n
	}
	return 1 + n
}

// appendRecord appends a record's JSON, encoded, to dst (which needs
// maxEncodedRecord bytes of room for the encoder to write in place: it is grown if not).
func appendRecord(dst, plain []byte) []byte {
	dst = slices.Grow(dst, maxEncodedRecord(len(plain)))
	dst = append(dst, recordDictV1)
	enc := recordDict1.Encode(dst[len(dst):cap(dst)], plain)
	return dst[:len(dst)+len(enc)]
}

// decodeRecord reads a stored record, compressed or (written by an older version) plain.
func decodeRecord(v []byte, r *LogRecord) error {
	if len(v) == 0 {
		return errors.New("storage: empty log record")
	}
	switch v[0] {
	case '{':
		return json.Unmarshal(v, r)
	case recordDictV1:
		plain, err := recordDict1.Decode(nil, v[1:])
		if err != nil {
			return fmt.Errorf("storage: log record: %w", err)
		}
		return json.Unmarshal(plain, r)
	default:
		return fmt.Errorf("storage: log record: unknown encoding %#x", v[0])
	}
}
