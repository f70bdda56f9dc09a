// requestlog_fuzz_test.go: the request log's own logfmt lines are byte for byte what slog's
// TextHandler writes, whatever the strings of the request (quotes, spaces, '=', control
// characters, invalid UTF-8) and the time.
package metrics

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
)

func FuzzRequestLogText(f *testing.F) {
	f.Add("POST", "/openai/chat/completions", "gpt-4o-mini", "01JF8Z3K5V7W9X1Y2Z3A4B5C6D", "", 200, int64(12), false, int64(1765000000123456789), 0)
	f.Add("GET", "/a b=c", "", "id\"quoted\"", "upstream openai unreachable", 502, int64(0), true, int64(0), 2010)
	f.Add("P\x00ST", "/\u00e9\u2028\\x", "m\xff", "\t", "=", 0, int64(-1), false, int64(-62135596800000000), 2003)
	f.Fuzz(func(t *testing.T, method, path, model, logID, errMsg string, status int, ms int64, cached bool, nanos int64, code int) {
		at := time.Unix(0, nanos).UTC()
		attrs := []slog.Attr{slog.String("method", method), slog.String("path", path), slog.String("model", model),
			slog.Int("status", status), slog.Int64("duration_ms", ms), slog.String("log_id", logID)}
		if cached {
			attrs = append(attrs, slog.Bool("cached", true))
		}
		if code != 0 {
			attrs = append(attrs, slog.Int("error_code", code), slog.String("error", errMsg))
		}
		for _, level := range []slog.Level{slog.LevelInfo, slog.LevelWarn} {
			var want bytes.Buffer
			r := slog.NewRecord(at, level, "request", 0)
			r.AddAttrs(attrs...)
			if err := slog.NewTextHandler(&want, nil).Handle(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if got := appendTextLine(nil, at, level, attrs); !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("line differs from slog's:\n got %q\nwant %q", got, want.Bytes())
			}
		}
	})
}
