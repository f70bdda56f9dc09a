package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"
)

func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cfg.json")
	os.WriteFile(file, []byte(`{"listen":"127.0.0.1:1111","max-body-mb":7,"durable-events":true,"upstream-idle-timeout":"1m"}`), 0o600)
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		listen  string
		maxBody int
		durable bool
		idle    time.Duration
	}{
		{"defaults", nil, nil, "127.0.0.1:8787", 25, false, 5 * time.Minute},
		{"file", nil, []string{"--config", file}, "127.0.0.1:1111", 7, true, time.Minute},
		{"env over file", map[string]string{"SWITCHYARD_LISTEN": "127.0.0.1:2222", "SWITCHYARD_DURABLE_EVENTS": "false"}, []string{"--config", file}, "127.0.0.1:2222", 7, false, time.Minute},
		{"flag over env", map[string]string{"SWITCHYARD_LISTEN": "127.0.0.1:2222"}, []string{"--listen", "127.0.0.1:3333", "--durable-events"}, "127.0.0.1:3333", 25, true, 5 * time.Minute},
		{"config file from env", map[string]string{"SWITCHYARD_CONFIG": file}, nil, "127.0.0.1:1111", 7, true, time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := loadConfig("serve", tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if c.Listen != tc.listen || c.MaxBodyMB != tc.maxBody || c.DurableEvents != tc.durable || c.UpstreamIdleTimeout != tc.idle {
				t.Fatalf("got %+v", c)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, args := range [][]string{{"--max-body-mb", "lots"}, {"--upstream-idle-timeout", "soon"}, {"--config", "/nonexistent.json"}, {"stray"}} {
		if _, err := loadConfig("serve", args); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	t.Setenv("SWITCHYARD_DURABLE_EVENTS", "maybe")
	if _, err := loadConfig("serve", nil); err == nil {
		t.Error("bad env value accepted")
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("upstream-idle-timeout"); got != "SWITCHYARD_UPSTREAM_IDLE_TIMEOUT" {
		t.Fatal(got)
	}
}

// The default soft memory limit keeps a 256 MB container safe: with it, 40 s soaks at c64
// peaked at 169-172 MB (VmHWM) against 227-229 MB at the old 192, at the same CPU per
// request (docs/performance.md, "A smaller PID registry and a 128 MB default memory limit").
func TestMemoryLimitDefault(t *testing.T) {
	c, err := loadConfig("serve", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.MemoryLimitMB != 128 {
		t.Fatalf("default memory limit %d MB, want 128", c.MemoryLimitMB)
	}
}

// --gc-percent sets how often the collector runs (50 by default: peak RSS in c64 soaks 121
// and 128 MB against 159 and 164 MB at Go's 100), unless GOGC is set.
func TestGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	c, err := loadConfig("serve", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.GCPercent != 50 {
		t.Fatalf("default gc percent %d, want 50", c.GCPercent)
	}
	noEnv := func(string) (string, bool) { return "", false }
	cases := []struct {
		name    string
		percent int
		lookup  func(string) (string, bool)
		want    int
	}{
		{"default", 50, noEnv, 50},
		{"set", 200, noEnv, 200},
		{"GOGC wins", 50, func(k string) (string, bool) { return "100", k == "GOGC" }, 100},
		{"0 leaves Go's setting", 0, noEnv, 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			setRuntimeMemory(&Config{GCPercent: tc.percent}, tc.lookup)
			if got := debug.SetGCPercent(100); got != tc.want {
				t.Errorf("gc percent %d, want %d", got, tc.want)
			}
		})
	}
}
