// demo_test.go runs `switchyard demo` as a new user would: no key, no upstream override, a
// fresh directory; the curl commands it prints are run as printed (by sh, from another
// directory) and give an answer from a mock and then the log record of that answer.
package e2e

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// demo is a running `switchyard demo`.
type demo struct {
	URL    string   // its base URL, http://127.0.0.1:port
	Dir    string   // the directory it runs in (its data dir is under it)
	Curls  []string // the curl lines of its banner
	stderr *logBuffer
}

// startDemo runs `switchyard demo` on a free loopback port in a new directory, as on a
// fresh machine (no SWITCHYARD_* variable set), and waits for its banner.
func startDemo(t *testing.T) *demo {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed (.ci/run installs it)")
	}
	d := &demo{Dir: t.TempDir(), stderr: &logBuffer{}}
	cmd := exec.Command(binary, "demo", "--listen", "127.0.0.1:0", "--request-log=false")
	cmd.Dir = d.Dir
	cmd.Env = freshEnv()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(60 * time.Second)
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo exited; stderr:\n%s", d.stderr.String())
			}
			if m := listenLine.FindStringSubmatch(l); m != nil && d.URL == "" {
				d.URL = m[1]
			}
			if strings.HasPrefix(l, "curl ") {
				d.Curls = append(d.Curls, l)
			}
			done = strings.HasPrefix(l, "Other providers:")
		case <-timeout:
			t.Fatalf("no banner; stderr:\n%s", d.stderr.String())
		}
	}
	if d.URL == "" {
		t.Fatal("the demo printed no listening line")
	}
	return d
}

// freshEnv is this process's environment without any SWITCHYARD_* variable.
func freshEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWITCHYARD_") {
			env = append(env, kv)
		}
	}
	return env
}

func TestDemoFirstAnswer(t *testing.T) {
	d := startDemo(t)
	curls := d.Curls
	if len(curls) != 2 {
		t.Fatalf("want the chat and the logs curl commands, got %q", curls)
	}
	run := func(line string) string {
		sh := exec.Command("sh", "-c", line+" -sS --fail-with-body")
		sh.Dir = t.TempDir() // any directory
		b, err := sh.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", line, err, b)
		}
		return string(b)
	}
	answer := run(curls[0])
	if !strings.Contains(answer, "mock upstream") || !strings.Contains(answer, `"usage"`) {
		t.Fatalf("first answer does not say it came from a mock: %s", answer)
	}
	eventually(t, "the demo request in the logs", func() bool {
		logs := run(curls[1])
		return strings.Contains(logs, `"provider":"openai"`) && strings.Contains(logs, `"model":"gpt-4o-mini"`)
	})
	if strings.Contains(d.stderr.String()+strings.Join(curls, "\n"), "sy_") {
		t.Error("the admin token was printed")
	}
	if _, err := os.Stat(d.Dir + "/switchyard-demo-data/admin-token"); err != nil {
		t.Errorf("demo data dir not where the demo runs: %v", err)
	}
}

// TestRunCommand runs the README's run command as a fresh clone would: the binary with no
// argument, no setting but the port (SWITCHYARD_LISTEN, since tests take no fixed port), in
// a new directory. It serves, keeps its data in ./switchyard-data and says it created the
// admin token there.
func TestRunCommand(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binary)
	cmd.Dir = dir
	cmd.Env = append(freshEnv(), "SWITCHYARD_LISTEN=127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &logBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	m := listenLine.FindStringSubmatch(line)
	if err != nil || m == nil {
		t.Fatalf("no listening line (%v): %q; stderr:\n%s", err, line, stderr.String())
	}
	eventually(t, "/healthz answering", func() bool {
		resp, err := http.Get(m[1] + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if _, err := os.Stat(filepath.Join(dir, "switchyard-data", "admin-token")); err != nil {
		t.Fatalf("no admin token in ./switchyard-data: %v", err)
	}
	eventually(t, "the start-up report", func() bool { return strings.Contains(stderr.String(), "created the admin token") })
}
