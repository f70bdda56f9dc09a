// console.go is how the process's lines on stderr look: --log-format text (logfmt), json,
// or console, plain lines for a person at a terminal (the clock, the message, then
// key=value attributes; WARN and ERROR marked). auto, the default, is console when stderr
// is a terminal and text otherwise, so a terminal shows one kind of line and a pipe or a
// journal gets logfmt as before.
package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// logFormats are the values --log-format takes.
var logFormats = []string{"auto", "console", "text", "json"}

// resolveLogFormat turns auto into console or text, by whether stderr is a terminal.
func resolveLogFormat(format string) string {
	if format != "auto" {
		return format
	}
	if st, err := os.Stderr.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		return "console"
	}
	return "text"
}

// newHandler is a handler writing format's lines to w (format resolved: console, text, json).
func newHandler(format string, w io.Writer) slog.Handler {
	o := &slog.HandlerOptions{Level: slog.LevelInfo}
	switch format {
	case "json":
		return slog.NewJSONHandler(w, o)
	case "console":
		return &consoleHandler{w: w, mu: &sync.Mutex{}}
	}
	return slog.NewTextHandler(w, o)
}

// consoleHandler writes "15:04:05 message key=value ...", with WARN or ERROR before the
// message when it is not INFO. Values with spaces, quotes or '=' are quoted.
type consoleHandler struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix string // attributes of With, already formatted
	group  string
}

func (h *consoleHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *consoleHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b.WriteString(t.Format("15:04:05 "))
	if r.Level != slog.LevelInfo {
		b.WriteString(r.Level.String())
		b.WriteByte(' ')
	}
	b.WriteString(r.Message)
	b.WriteString(h.prefix)
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, h.group, a)
		return true
	})
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *consoleHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	for _, a := range as {
		writeAttr(&b, h.group, a)
	}
	c := *h
	c.prefix += b.String()
	return &c
}

func (h *consoleHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.group += name + "."
	return &c
}

// writeAttr writes " key=value", groups flattened with dots.
func writeAttr(b *strings.Builder, group string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			writeAttr(b, group+a.Key+".", g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	s := v.String()
	if v.Kind() == slog.KindTime {
		s = v.Time().Format(time.RFC3339)
	}
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		s = strconv.Quote(s)
	}
	b.WriteByte(' ')
	b.WriteString(group + a.Key)
	b.WriteByte('=')
	b.WriteString(s)
}
