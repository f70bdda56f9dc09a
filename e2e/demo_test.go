// demo_test.go runs `switchyard demo` as a new user would: no key, no upstream override, a
// fresh directory; the curl commands it prints are run as printed (by sh, from another
// directory) and give an answer from a mock and then the log record of that answer.
package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDemoFirstAnswer(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed (.ci/run installs it)")
	}
	dir := t.TempDir()
	cmd := exec.Command(binary, "demo", "--listen", "127.0.0.1:0", "--request-log=false")
	cmd.Dir = dir
	for _, kv := range os.Environ() { // as on a fresh machine: nothing of ours set
		if !strings.HasPrefix(kv, "SWITCHYARD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
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
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var curls []string
	timeout := time.After(60 * time.Second)
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo exited; stderr:\n%s", stderr.String())
			}
			if strings.HasPrefix(l, "curl ") {
				curls = append(curls, l)
			}
			done = strings.HasPrefix(l, "Other providers:")
		case <-timeout:
			t.Fatalf("no banner; stderr:\n%s", stderr.String())
		}
	}
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
	if strings.Contains(stderr.String()+strings.Join(curls, "\n"), "sy_") {
		t.Error("the admin token was printed")
	}
	if _, err := os.Stat(dir + "/switchyard-demo-data/admin-token"); err != nil {
		t.Errorf("demo data dir not where the demo runs: %v", err)
	}
}
