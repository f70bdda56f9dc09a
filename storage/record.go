// record.go is how a log record is stored: its JSON, S2-compressed against a dictionary
// of a typical record. A record's JSON is mostly its field names and common values, which
// the dictionary holds, so about 600 bytes are stored as 60 to 200: fewer bytes on disk,
// and small enough to stay in Badger's tree instead of its value log. Values written
// before this (plain JSON) still read.
package storage

import (
	"errors"
	"fmt"

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

// encodeRecord is the stored form of a record.
func encodeRecord(r *LogRecord) ([]byte, error) {
	plain, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	n := s2.MaxEncodedLen(len(plain))
	if n < 0 {
		return nil, fmt.Errorf("storage: log record of %d bytes is too large", len(plain))
	}
	buf := make([]byte, 1+n)
	buf[0] = recordDictV1
	// Encode writes into buf when it is large enough (it is): append then moves nothing.
	return append(buf[:1], recordDict1.Encode(buf[1:], plain)...), nil
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
