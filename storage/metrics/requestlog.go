// requestlog.go writes one structured line per finished request (method, path, gateway,
// provider, model, status, duration, log id; never a key, a token or a body), read from the
// event log like the metrics, so a slow terminal never slows a request.
package metrics

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/switchyard/switchyard/events"
)

// requestLogLinger is how long a request line may wait for others before it is written:
// one write per 100 ms (or per 32 KB of lines) instead of one per batch of events, as
// nginx's buffered access log does.
const (
	requestLogLinger = 100 * time.Millisecond
	requestLogBuffer = 32 << 10
)

// RequestLog writes a line for each request.finished event of a request that arrived at or
// after since (so the events a restart re-reads are not logged again). Lines are written to
// w at most requestLogLinger after their batch, many to a write.
type RequestLog struct {
	log   *slog.Logger // nil: logfmt lines formatted here (appendTextLine)
	since time.Time
	attrs []slog.Attr // reused: typed attributes, nothing boxed per line

	mu    sync.Mutex
	w     io.Writer
	buf   bytes.Buffer // lines not written yet (the slog handler writes to it too)
	timer *time.Timer  // armed while buf holds lines
}

// NewRequestLog makes the request log, its lines written by the handler newHandler makes
// (JSON or console). A nil newHandler writes logfmt lines exactly as slog's TextHandler does,
// formatted here: a third of the cost, for the format every container runs with.
func NewRequestLog(newHandler func(io.Writer) slog.Handler, w io.Writer, since time.Time) *RequestLog {
	r := &RequestLog{since: since, w: w, attrs: make([]slog.Attr, 0, 12)}
	if newHandler != nil {
		r.log = slog.New(newHandler(&r.buf))
	}
	return r
}

// Apply adds the lines of a batch's requests.
func (r *RequestLog) Apply(batch []events.Msg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	before := r.buf.Len()
	for _, msg := range batch {
		if env, err := msg.Envelope(); err != nil || env.Type != events.TypeRequestFinished {
			continue
		}
		f, err := msg.Finished()
		if err != nil || f.StartedAt.Before(r.since) {
			continue
		}
		attrs := append(r.attrs[:0], slog.String("method", f.Method),
			slog.String("path", "/v1/"+f.AccountID+"/"+f.GatewayID+f.Path),
			slog.String("gateway", f.GatewayID), slog.String("provider", f.Provider),
			slog.String("model", f.Model), slog.Int("status", f.Status),
			slog.Int64("duration_ms", int64(f.DurationMs+0.5)), slog.String("log_id", f.LogID))
		if f.Cached {
			attrs = append(attrs, slog.Bool("cached", true))
		}
		if f.ErrorCode != 0 {
			attrs = append(attrs, slog.Int("error_code", f.ErrorCode), slog.String("error", f.ErrorMessage))
		}
		r.attrs = attrs
		level := slog.LevelInfo
		if f.Status >= 500 || (f.ErrorCode != 0 && f.Status == 0) {
			level = slog.LevelWarn
		}
		if r.log == nil {
			r.buf.Write(appendTextLine(r.buf.AvailableBuffer(), time.Now(), level, attrs))
		} else {
			r.log.LogAttrs(context.Background(), level, "request", attrs...)
		}
	}
	switch {
	case r.buf.Len() >= requestLogBuffer:
		r.writeLocked()
	case r.buf.Len() > before && r.timer == nil:
		r.timer = time.AfterFunc(requestLogLinger, r.Flush)
	}
}

// Flush writes the lines not written yet (at shutdown, so none is lost).
func (r *RequestLog) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writeLocked()
}

func (r *RequestLog) writeLocked() {
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	if r.buf.Len() > 0 {
		_, _ = r.w.Write(r.buf.Bytes())
		r.buf.Reset()
	}
	if r.buf.Cap() > 8*requestLogBuffer { // grown by a burst's batch: not kept
		r.buf = bytes.Buffer{}
	}
}

// appendTextLine appends the line slog's TextHandler (default options) writes for a record
// of msg "request" at t with attrs (strings, integers and booleans).
func appendTextLine(b []byte, t time.Time, level slog.Level, attrs []slog.Attr) []byte {
	b = append(b, "time="...)
	b = appendRFC3339Millis(b, t)
	b = append(b, " level="...)
	b = append(b, level.String()...)
	b = append(b, " msg=request"...)
	for _, a := range attrs {
		b = append(b, ' ')
		b = appendTextString(b, a.Key)
		b = append(b, '=')
		switch a.Value.Kind() {
		case slog.KindInt64:
			b = strconv.AppendInt(b, a.Value.Int64(), 10)
		case slog.KindBool:
			b = strconv.AppendBool(b, a.Value.Bool())
		default:
			b = appendTextString(b, a.Value.String())
		}
	}
	return append(b, '\n')
}

// appendRFC3339Millis is slog's time format: RFC 3339 with exactly three fractional digits.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...) // drop the fourth digit
}

// appendTextString appends s as slog's TextHandler does: quoted (Go syntax) when it is
// empty or holds a space, '=', a quote, a control character or anything not printable.
func appendTextString(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuoting(s string) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			// JSON's safe set (printable ASCII but '"' and '\\'; DEL is safe), and no
			// space or '=': slog's rule
			if c != '\\' && (c == ' ' || c == '=' || c == '"' || c < 0x20) {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}
