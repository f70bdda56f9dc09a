// cli_test.go: help on every command exits 0 and lists that command's flags only, version
// prints version, commit and date, and settings that would fail silently fail at start.
package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		code       int
		has, lacks []string
	}{
		{[]string{"help"}, 0, []string{"serve", "replay", "token", "audit", "route", "logpush", "version"}, []string{"-listen"}},
		{[]string{"--help"}, 0, []string{"commands:", "replay", "-listen"}, []string{"-out "}},
		{[]string{"serve", "--help"}, 0, []string{"usage: switchyard serve", "-listen", "-durable-events"}, []string{"-out ", "commands:"}},
		{[]string{"replay", "-h"}, 0, []string{"usage: switchyard replay", "-out "}, nil},
		{[]string{"token", "--help"}, 0, []string{"usage: switchyard token", "-account", "-permissions"}, []string{"\n  -listen ", "required"}},
		{[]string{"token", "create", "--help"}, 0, []string{"-name"}, nil},
		{[]string{"help", "audit"}, 0, []string{"usage: switchyard audit", "-since", "-config"}, []string{"\n  -listen "}},
		{[]string{"logpush", "--help"}, 0, []string{"-key"}, nil},
		{[]string{"logs", "--help"}, 0, []string{"usage: switchyard logs tail", "-nats-url", "-gateway"}, []string{"\n  -listen "}},
		{[]string{"logs", "tail", "--nats-url", ""}, 1, nil, nil},
		{[]string{"route", "--help"}, 0, []string{"route validate FILE"}, nil},
		{[]string{"--version"}, 0, []string{"switchyard " + version + ", commit ", "build"}, nil},
		{[]string{"version"}, 0, []string{"switchyard " + version}, nil},
		{[]string{"bogus"}, 2, nil, []string{"usage"}},
		{[]string{"serve", "--no-such-flag"}, 1, nil, []string{"-listen"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tc.args, &out, &errOut); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, errOut.String())
			}
			for _, s := range tc.has {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tc.lacks {
				if strings.Contains(out.String(), s) {
					t.Errorf("output has %q:\n%s", s, out.String())
				}
			}
			if tc.code != 0 && errOut.Len() == 0 {
				t.Error("a failure printed nothing on stderr")
			}
		})
	}
}

func TestUpstreamOverrides(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		fail string
	}{
		{map[string]string{}, ""},
		{map[string]string{"SWITCHYARD_UPSTREAM_OPENAI": "http://127.0.0.1:9999"}, ""},
		{map[string]string{"SWITCHYARD_UPSTREAM_WORKERS_AI": "https://mock.example/v1"}, ""},
		{map[string]string{"SWITCHYARD_UPSTREAM_OPENAI": ""}, "SWITCHYARD_UPSTREAM_OPENAI is set but empty"},
		{map[string]string{"SWITCHYARD_UPSTREAM_ANTHROPIC": "localhost:8080"}, "SWITCHYARD_UPSTREAM_ANTHROPIC"},
		{map[string]string{"SWITCHYARD_UPSTREAM_OPENAI": "ftp://x"}, "not an http"},
	} {
		err := checkUpstreamOverrides(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
		if (err != nil) != (tc.fail != "") || err != nil && !strings.Contains(err.Error(), tc.fail) {
			t.Errorf("%v: error %v, want one naming %q", tc.env, err, tc.fail)
		}
	}
}

func TestUnknownConfigKey(t *testing.T) {
	f := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(f, []byte(`{"listen":"127.0.0.1:0","max_body_mb":3}`), 0o600)
	_, err := loadConfig("serve", []string{"--config", f})
	if err == nil || !strings.Contains(err.Error(), `unknown setting "max_body_mb"`) {
		t.Fatalf("a misspelt key: %v", err)
	}
	os.WriteFile(f, []byte(`{"listen":"127.0.0.1:0","max-body-mb":3}`), 0o600)
	if c, err := loadConfig("serve", []string{"--config", f}); err != nil || c.MaxBodyMB != 3 {
		t.Fatalf("a right key: %v", err)
	}
}

// A port in use fails the start before the data directory is made.
func TestPortInUseCreatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), "data")
	var out, errOut bytes.Buffer
	if code := run([]string{"serve", "--listen", ln.Addr().String(), "--data-dir", dir}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errOut.String(), "--listen "+ln.Addr().String()) {
		t.Errorf("error does not name --listen: %q", errOut.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("data dir created although the port is in use: %v", err)
	}
}

// The start says when it created the admin token: the first time only.
func TestAdminTokenCreatedOnce(t *testing.T) {
	t.Setenv("SWITCHYARD_ADMIN_TOKEN", "")
	dir := t.TempDir()
	tok, at, created, err := adminToken(dir)
	if err != nil || !created || at != filepath.Join(dir, "admin-token") || !strings.HasPrefix(tok, "sy_") {
		t.Fatalf("first start: %q %q %v %v", tok, at, created, err)
	}
	again, _, created, err := adminToken(dir)
	if err != nil || created || again != tok {
		t.Fatalf("second start: created %v, same token %v, %v", created, again == tok, err)
	}
}

// Client commands find serve's address and admin token in the same --config file serve
// reads, and a failure names what was tried.
func TestClientFindsServerFromConfig(t *testing.T) {
	for _, k := range []string{"SWITCHYARD_URL", "SWITCHYARD_LISTEN", "SWITCHYARD_DATA_DIR", "SWITCHYARD_ADMIN_TOKEN", "SWITCHYARD_CONFIG"} {
		t.Setenv(k, "")
	}
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		w.Write([]byte(`{"success":true,"errors":[],"result":[]}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "admin-token"), []byte("sy_fromfile\n"), 0o600)
	cfg := filepath.Join(t.TempDir(), "switchyard.json")
	os.WriteFile(cfg, []byte(`{"listen":"`+strings.TrimPrefix(srv.URL, "http://")+`","data-dir":"`+dir+`"}`), 0o600)
	var out, errOut bytes.Buffer
	if code := run([]string{"audit", "--account", "a", "--config", cfg}, &out, &errOut); code != 0 || auth != "Bearer sy_fromfile" {
		t.Fatalf("exit %d, Authorization %q, stderr %q", code, auth, errOut.String())
	}

	errOut.Reset()
	os.WriteFile(cfg, []byte(`{"listen":"0.0.0.0:1","data-dir":"`+dir+`"}`), 0o600)
	if code := run([]string{"audit", "--account", "a", "--config", cfg}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "http://127.0.0.1:1 (from listen in "+cfg+")") {
		t.Fatalf("unreachable gateway: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"audit", "--account", "a", "--data-dir", t.TempDir()}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "data dir from --data-dir") {
		t.Fatalf("no token: exit %d, %q", code, errOut.String())
	}
}

// A data dir that cannot be made, or that holds the wrong kind of entry, stops the start
// with the setting named, before anything is created in it.
func TestDataDirUnusable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, nil, 0o600)
	var out, errOut bytes.Buffer
	if code := run([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(file, "data")}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "--data-dir "+filepath.Join(file, "data")) {
		t.Fatalf("exit %d, %q", code, errOut.String())
	}
	for _, c := range []struct {
		name string
		make func(dir string)
		want string
	}{
		{"badger is a file", func(dir string) { os.WriteFile(filepath.Join(dir, "badger"), nil, 0o600) }, "badger is a file"},
		{"admin-token is a directory", func(dir string) { os.Mkdir(filepath.Join(dir, "admin-token"), 0o700) }, "admin-token is not a regular file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.make(dir)
			var out, errOut bytes.Buffer
			if code := run([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir}, &out, &errOut); code != 1 ||
				!strings.Contains(errOut.String(), "--data-dir "+dir) || !strings.Contains(errOut.String(), c.want) {
				t.Fatalf("exit %d, %q", code, errOut.String())
			}
			if _, err := os.Stat(filepath.Join(dir, "master-key")); err == nil {
				t.Fatal("the master key was created in an unusable data dir")
			}
		})
	}
	if os.Geteuid() == 0 {
		t.Log("running as root: permissions are not checked (root reads and writes anything)")
		return
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	if code := run([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "not writable") {
		t.Fatalf("read-only data dir: exit %d, %q", code, errOut.String())
	}
}
