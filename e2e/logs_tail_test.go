// logs_tail_test.go: `switchyard logs tail` follows finished requests live from the event
// log of a running gateway (opened to clients with --nats-listen), one line per request.
package e2e

import (
	"bufio"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/mock"
)

func TestLogsTail(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", freePorts(t, 1)[0])
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL}, "--nats-listen", strings.TrimPrefix(natsURL, "nats://"))
	defer g.Stop()

	// Without a NATS address the command says what to do.
	if b, err := exec.Command(binary, "logs", "tail").CombinedOutput(); err == nil || !strings.Contains(string(b), "--nats-listen") {
		t.Fatalf("logs tail with no address: %v %s", err, b)
	}

	tail := exec.Command(binary, "logs", "tail", "--nats-url", natsURL, "--gateway", gateway)
	out, err := tail.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { tail.Process.Kill(); tail.Wait() }()
	var mu sync.Mutex
	var lines []string
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
		}
	}()
	// The tail starts at "now": send until a request of ours shows up.
	sent := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, id := range sendChats(t, g, 1, false) {
			sent[id] = true
		}
		mu.Lock()
		for _, l := range lines {
			f := strings.Fields(l)
			id := strings.TrimPrefix(f[len(f)-1], "log=")
			if sent[id] && strings.Contains(l, " openai gpt-4o-mini /openai/chat/completions 200 ") && strings.Contains(l, "tokens=") {
				mu.Unlock()
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line for the requests sent; got %d lines, first %q", len(lines), lines[:min(len(lines), 3)])
		}
		mu.Unlock()
		time.Sleep(200 * time.Millisecond)
	}
}
