// otel_test.go checks the hosted otel setting's parsing and the errors that name the field
// at fault.
package config

import (
	"strings"
	"testing"
)

func TestParseOTel(t *testing.T) {
	for _, c := range []struct {
		raw     string
		want    string // url|content_type|authorization|headers count, space separated
		err, at string
	}{
		{raw: ``, want: ""},
		{raw: `null`, want: ""},
		{raw: `[]`, want: ""},
		{raw: `[{"url":"https://api.honeycomb.io/v1/traces","headers":{"x-honeycomb-team":"k"}}]`, want: "https://api.honeycomb.io/v1/traces|json||1"},
		{raw: `[{"url":"http://127.0.0.1:4318/v1/traces","headers":{},"authorization":"sec1","content_type":"protobuf"},` +
			`{"url":"https://x.example/otel","headers":{},"content_type":"json"}]`,
			want: "http://127.0.0.1:4318/v1/traces|protobuf|sec1|0 https://x.example/otel|json||0"},
		{raw: `{"url":"https://x"}`, err: "must be a list", at: "otel"},
		{raw: `[1]`, err: "must be an object", at: "otel.0"},
		{raw: `[{"headers":{}}]`, err: "url is required", at: "otel.0.url"},
		{raw: `[{"url":"ftp://x.example/"}]`, err: "http or https", at: "otel.0.url"},
		{raw: `[{"url":"/v1/traces"}]`, err: "http or https", at: "otel.0.url"},
		{raw: `[{"url":"https://u:p@x.example/v1/traces"}]`, err: "without credentials", at: "otel.0.url"},
		{raw: `[{"url":"https://x.example","content_type":"xml"}]`, err: "json, protobuf", at: "otel.0.content_type"},
		{raw: `[{"url":"https://x.example","headers":{"bad name":"v"}}]`, err: "not a header name", at: "otel.0.headers.bad name"},
		{raw: `[{"url":"https://x.example","headers":{"Content-Type":"text/plain"}}]`, err: "set by the gateway", at: "otel.0.headers.Content-Type"},
		{raw: `[{"url":"https://x.example","headers":{"x-a":"a\r\nb"}}]`, err: "single line", at: "otel.0.headers.x-a"},
		{raw: `[{"url":"https://x.example","headers":["a"]}]`, err: "must be strings", at: "otel.0"},
		{raw: `[{"url":"https://x.example"},{"url":"https://y.example","endpoint":"z"}]`, err: "not an exporter setting", at: "otel.1.endpoint"},
		{raw: `[` + strings.Repeat(`{"url":"https://x.example"},`, 10) + `{"url":"https://x.example"}]`, err: "at most 10", at: "otel"},
	} {
		got, e := ParseOTel([]byte(c.raw))
		if c.err != "" {
			if e == nil || !strings.Contains(e.Message, c.err) || strings.Join(e.Path[1:], ".") != c.at {
				t.Errorf("%s: %+v, want an error at %s mentioning %q", c.raw, e, c.at, c.err)
			}
			continue
		}
		if e != nil {
			t.Errorf("%s: %v", c.raw, e)
			continue
		}
		var s []string
		for _, x := range got {
			s = append(s, x.URL+"|"+x.ContentType+"|"+x.Authorization+"|"+itoa(int64(len(x.Headers))))
		}
		if strings.Join(s, " ") != c.want {
			t.Errorf("%s: %q, want %q", c.raw, strings.Join(s, " "), c.want)
		}
	}
}
