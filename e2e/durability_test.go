// durability_test.go: with --durable-events a SIGKILL loses no completed request, and
// `switchyard replay` rebuilds the logs projection equal to the live one.
package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/ai_gateway"
	"github.com/switchyard/switchyard/mock"
	"github.com/switchyard/switchyard/storage"
)

func sendChats(t *testing.T, g *Gateway, n int, stream bool) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
		if stream {
			body = `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
		}
		resp, err := http.Post(g.Base("openai")+"/chat/completions", "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, buf.String())
		}
		ids = append(ids, resp.Header.Get("cf-aig-log-id"))
	}
	return ids
}

func TestCrashLosesNoCompletedRequest(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL}, "--durable-events")
	const n = 25
	ids := append(sendChats(t, g, n, false), sendChats(t, g, 5, true)...)
	g.Kill()
	g.Restart()
	t.Cleanup(func() {
		if t.Failed() {
			resp, err := http.Get(g.URL + "/readyz")
			if err == nil {
				var b bytes.Buffer
				b.ReadFrom(resp.Body)
				t.Logf("readyz: %s", b.String())
			}
			t.Logf("gateway log after the restart:\n%s", g.stderr.String())
		}
	})
	for _, id := range ids {
		l := g.WaitLog(id)
		if !l.Success || l.TokensIn != mock.PromptTokens {
			t.Fatalf("log after crash: %s", l.JSON.RawJSON())
		}
	}
	page, err := g.API().AIGateway.Logs.List(context.Background(), gateway, ai_gateway.LogListParams{
		AccountID: cloudflare.F(account), PerPage: cloudflare.F(int64(100))})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Result) != len(ids) {
		t.Fatalf("want %d logs after restart, got %d (a record was lost or applied twice)", len(ids), len(page.Result))
	}
}

func TestReplayRebuildsSameRecords(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	sendChats(t, g, 10, false)
	sendChats(t, g, 5, true)
	g.Stop()

	out := filepath.Join(t.TempDir(), "rebuilt")
	cmd := exec.Command(binary, "replay", "--data-dir", g.DataDir, "--out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("replay: %v %s", err, b)
	}
	live := dumpLogs(t, filepath.Join(g.DataDir, "badger"))
	rebuilt := dumpLogs(t, out)
	if len(live) != 15 {
		t.Fatalf("live store has %d records, want 15", len(live))
	}
	if !reflect.DeepEqual(live, rebuilt) {
		t.Fatalf("rebuilt store differs:\nlive    %+v\nrebuilt %+v", live, rebuilt)
	}
}

func dumpLogs(t *testing.T, dir string) []storage.LogRecord {
	t.Helper()
	s, err := storage.Open(storage.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := storage.NewLogs(s)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := l.Dump()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
