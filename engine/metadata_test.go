package engine

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/events"
)

func TestParseMetadata(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want events.Metadata
		err  string
	}{
		{name: "types", in: `{"team":"search","user":42,"beta":true,"ratio":0.5}`,
			want: events.Metadata{"team": "search", "user": 42.0, "beta": true, "ratio": 0.5}},
		{name: "first five kept, in order", in: `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7}`,
			want: events.Metadata{"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0, "e": 5.0}},
		{name: "empty object", in: `{}`, want: events.Metadata{}},
		{name: "object value", in: `{"team":{"name":"x"}}`, err: `the value of "team" is an object`},
		{name: "array value", in: `{"tags":["a"]}`, err: `"tags" is an array`},
		{name: "null value", in: `{"who":null}`, err: `"who" is null`},
		{name: "object value after the fifth", in: `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":{}}`, err: `"f" is an object`},
		{name: "not an object", in: `["a"]`, err: "must be a JSON object"},
		{name: "not JSON", in: `team=search`, err: "must be a JSON object"},
		{name: "truncated", in: `{"a":1`, err: "not valid JSON"},
		{name: "two objects", in: `{"a":1} {"b":2}`, err: "one JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseMetadata(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
		})
	}
}
