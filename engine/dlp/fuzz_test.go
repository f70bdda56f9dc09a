// fuzz_test.go: fuzz targets. FuzzScan: no panics, Redact keeps the byte length and only writes
// '*' inside matches, findings are stable (same input, same findings; Redact and Scan agree).
// FuzzText: no panics for any body and content type; the extracted text scans without panics.
package dlp

import (
	"bytes"
	"reflect"
	"testing"
)

func FuzzScan(f *testing.F) {
	for _, s := range []string{ordinaryText, findingsText, "4111 1111 1111 1111", "+44 (0)20 7946 0958", "AB 12 34 56 C",
		"-----BEGIN RSA PRIVATE KEY-----\nx\n-----END RSA PRIVATE KEY-----", "routing 021000021", "DE89 3704 0044 0532 0130 00",
		"eyJhbGciOiJIUzI1NiJ9.e30.x", "1EG4-TE5-MK73", "12345678-Z", "a@b.io", "221B Baker Street"} {
		f.Add([]byte(s))
	}
	ps := append(Predefined(), Profile{ID: "c", Entries: []Entry{
		{ID: "r", Enabled: true, Type: TypeCustom, Pattern: `(?i)secret\d+`},
		{ID: "w", Enabled: true, Type: TypeWordList, Words: []string{"falcon"}},
	}})
	s, err := Compile(ps)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		f1 := s.Scan(in)
		f2 := s.Scan(in)
		if !reflect.DeepEqual(f1, f2) {
			t.Fatalf("unstable findings %v %v", f1, f2)
		}
		out, f3 := s.Redact(in)
		if !bytes.Equal(in, orig) {
			t.Fatal("input modified")
		}
		if !reflect.DeepEqual(f1, f3) {
			t.Fatalf("Scan %v != Redact %v", f1, f3)
		}
		if len(out) != len(in) {
			t.Fatalf("length %d != %d", len(out), len(in))
		}
		for i := range out {
			if out[i] != in[i] && out[i] != Mask {
				t.Fatalf("byte %d changed to %q", i, out[i])
			}
		}
		if f1 == nil && !bytes.Equal(out, in) {
			t.Fatal("redacted without findings")
		}
	})
}

func FuzzText(f *testing.F) {
	f.Add([]byte(`{"a":["b\u00e9",{"c":"4111 1111 1111 1111"}]}`), "application/json")
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n"), "text/event-stream")
	f.Add([]byte("--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n"), "multipart/form-data; boundary=b")
	f.Add([]byte("plain"), "text/plain")
	f.Add([]byte("{\"x\":1}\n{\"y\":\"z\"}\n"), "application/x-ndjson")
	f.Add([]byte("data:image/png;base64,AAAA"), "")
	s := allScanner(f)
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		orig := bytes.Clone(body)
		out := Text(body, ct)
		if !bytes.Equal(body, orig) {
			t.Fatal("body modified")
		}
		s.Scan(out)
	})
}
