// requestlog.go writes one structured line per finished request (method, path, gateway,
// provider, model, status, duration, log id; never a key, a token or a body), read from the
// event log like the metrics, so a slow terminal never slows a request.
package metrics

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/switchyard/switchyard/events"
)

// RequestLog returns a batch handler that writes a line for each request.finished event of a
// request that arrived at or after since (so the events a restart re-reads are not logged
// again), through the handler newHandler makes (text, JSON or console), one write to w per
// batch.
func RequestLog(newHandler func(io.Writer) slog.Handler, w io.Writer, since time.Time) func(batch []events.Msg) {
	var buf bytes.Buffer
	log := slog.New(newHandler(&buf))
	attrs := make([]slog.Attr, 0, 12) // reused: typed attributes, nothing boxed per line
	return func(batch []events.Msg) {
		buf.Reset()
		for _, msg := range batch {
			if env, err := msg.Envelope(); err != nil || env.Type != events.TypeRequestFinished {
				continue
			}
			f, err := msg.Finished()
			if err != nil || f.StartedAt.Before(since) {
				continue
			}
			attrs = append(attrs[:0], slog.String("method", f.Method),
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
			level := slog.LevelInfo
			if f.Status >= 500 || (f.ErrorCode != 0 && f.Status == 0) {
				level = slog.LevelWarn
			}
			log.LogAttrs(context.Background(), level, "request", attrs...)
		}
		if buf.Len() > 0 {
			_, _ = w.Write(buf.Bytes())
		}
	}
}
