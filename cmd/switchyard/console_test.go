// console_test.go: the console format's lines, and that every --log-format value is taken
// and others refused.
package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestConsoleLines(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(newHandler("console", &b))
	log.Info("created the admin token", "path", "switchyard-data/admin-token")
	log.Warn("shared cache get failed; a miss", "err", errors.New("nats: timeout"))
	log.With("node", "sy1").WithGroup("req").Error("boom", "status", 502, "empty", "")
	got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	want := []string{
		"created the admin token path=switchyard-data/admin-token",
		`WARN shared cache get failed; a miss err="nats: timeout"`,
		`ERROR boom node=sy1 req.status=502 req.empty=""`,
	}
	if len(got) != len(want) {
		t.Fatalf("lines: %q", got)
	}
	for i, w := range want {
		// "15:04:05 " first
		if len(got[i]) < 9 || got[i][2] != ':' || got[i][5] != ':' || got[i][9:] != w {
			t.Errorf("line %d: %q, want the time then %q", i, got[i], w)
		}
	}
}

func TestLogFormatSetting(t *testing.T) {
	for _, f := range logFormats {
		if _, err := loadConfig("serve", []string{"--log-format", f}); err != nil {
			t.Errorf("%s refused: %v", f, err)
		}
	}
	if _, err := loadConfig("serve", []string{"--log-format", "pretty"}); err == nil || !strings.Contains(err.Error(), "auto, console, text, json") {
		t.Errorf("pretty: %v", err)
	}
	if got := resolveLogFormat("auto"); got != "text" && got != "console" {
		t.Errorf("auto resolved to %q", got)
	}
}
