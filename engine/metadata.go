// metadata.go reads cf-aig-metadata: a JSON object of string, number and boolean values
// tagging a request for logs, analytics and dynamic-route conditions. Like the hosted
// gateway, only the first five entries are kept.
package engine

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	json "github.com/goccy/go-json"
	"github.com/switchyard/switchyard/events"
)

// MaxMetadata is how many metadata entries a request keeps.
const MaxMetadata = 5

// ParseMetadata reads the header's value. Entries after the fifth are dropped; a value
// that is an object, an array or null is an error naming the key.
func ParseMetadata(v string) (events.Metadata, error) {
	d := json.NewDecoder(bytes.NewReader([]byte(v)))
	d.UseNumber()
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New(`cf-aig-metadata must be a JSON object such as {"team":"search","user":42}`)
	}
	md := events.Metadata{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, errors.New("cf-aig-metadata is not valid JSON")
		}
		key := t.(string) // object keys are always strings
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return nil, errors.New("cf-aig-metadata is not valid JSON")
		}
		val, err := metadataValue(key, raw)
		if err != nil {
			return nil, err
		}
		if _, dup := md[key]; !dup && len(md) < MaxMetadata {
			md[key] = val
		}
	}
	if _, err := d.Token(); err != nil {
		return nil, errors.New("cf-aig-metadata is not valid JSON")
	}
	if d.More() {
		return nil, errors.New("cf-aig-metadata must hold one JSON object")
	}
	return md, nil
}

func metadataValue(key string, raw json.RawMessage) (any, error) {
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case 't', 'f':
		return raw[0] == 't', nil
	case '{', '[', 'n':
		kind := map[byte]string{'{': "an object", '[': "an array", 'n': "null"}[raw[0]]
		return nil, fmt.Errorf("cf-aig-metadata: the value of %q is %s; values must be strings, numbers or booleans", key, kind)
	default:
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return nil, fmt.Errorf("cf-aig-metadata: the value of %q is not a number", key)
		}
		return f, nil
	}
}
