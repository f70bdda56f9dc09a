// logpush_test.go runs the real binary with a Logpush sink: a gateway with logpush on and a
// public key exports each log, its metadata and bodies encrypted, to a directory, and
// `switchyard logpush decrypt` reads them back; a request without a log (cf-aig-collect-log:
// false) or over the gateway's log limit is not exported; an HTTP sink answering 503 for a
// while, across a restart of the gateway, loses nothing and receives each log once.
package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/mock"
	"github.com/switchyard/switchyard/storage/logpush"
)

// logpushKeys makes a key pair: the private key written as PKCS #8 PEM to a file (as the
// reference's openssl genpkey does), the public key as SubjectPublicKeyInfo PEM.
func logpushKeys(t *testing.T) (*rsa.PrivateKey, string, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pk8, _ := x509.MarshalPKCS8PrivateKey(k)
	path := filepath.Join(t.TempDir(), "private.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8}), 0o600); err != nil {
		t.Fatal(err)
	}
	return k, path, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func setLogpushKey(t *testing.T, g *Gateway, pub string) {
	t.Helper()
	q, _ := json.Marshal(pub)
	code, env := patchGateway(t, g, `{"logpush":true,"logpush_public_key":`+string(q)+`}`)
	if code != 200 || messagesName(anyList(env["messages"]), "logpush") {
		t.Fatalf("set logpush: %d %v", code, env)
	}
}

// decryptDir runs `switchyard logpush decrypt` on every file under dir: records by log id.
func decryptDir(t *testing.T, dir, keyPath string) map[string]map[string]any {
	t.Helper()
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".log.gz") {
			files = append(files, p)
		}
		return nil
	})
	out := map[string]map[string]any{}
	if len(files) == 0 {
		return out
	}
	cmd := exec.Command(binary, append([]string{"logpush", "decrypt", "--key", keyPath}, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("logpush decrypt: %v %s", err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("decrypt output %q: %v", sc.Text(), err)
		}
		id, _ := m["ID"].(string)
		if _, dup := out[id]; dup {
			t.Errorf("log %s exported twice", id)
		}
		out[id] = m
	}
	return out
}

func TestLogpushDirectory(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	dir := t.TempDir()
	_, keyPath, pub := logpushKeys(t)
	// Durable events: each request's event is in the log before its answer ends, so the log
	// event below comes after it.
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL}, "--logpush-dir", dir, "--durable-events")
	if code, env := patchGateway(t, g, `{"logpush":true,"logpush_public_key":"xxxxxxxxxxxxxxxx"}`); code != 400 ||
		!strings.Contains(toJSON(env), "logpush_public_key") {
		t.Fatalf("a bad key: %d %v", code, env)
	}
	setLogpushKey(t, g, pub)
	chat := func(prompt string, hdr map[string]string) string {
		t.Helper()
		resp, body := send(t, g.Base("openai")+"/chat/completions", chatBody("gpt-4o-mini", prompt, false), hdr)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		return resp.Header.Get("cf-aig-log-id")
	}
	first := chat("hello logpush", map[string]string{"cf-aig-metadata": `{"user_id":"user123","team":"engineering"}`})
	unlogged := chat("not logged", map[string]string{"cf-aig-collect-log": "false"})
	// The gateway is made full (one log kept at most, STOP_INSERTING): the next log is not
	// kept, so not exported; with the limit lifted again, the one after is.
	if code, env := patchGateway(t, g, `{"log_management":1,"log_management_strategy":"STOP_INSERTING"}`); code != 200 {
		t.Fatalf("%d %v", code, env)
	}
	full := chat("over the limit", nil)
	g.WaitLog(first)
	// Feedback on a log is applied by the logs projection in log order: once answered, the
	// request over the limit was decided under that limit.
	if code, env := apiCall(t, g, token, "PATCH", "/ai-gateway/gateways/"+gateway+"/logs/"+first, json.RawMessage(`{"feedback":1}`)); code != 200 {
		t.Fatalf("feedback: %d %v", code, env)
	}
	if code, env := patchGateway(t, g, `{"log_management":10000000}`); code != 200 {
		t.Fatalf("%d %v", code, env)
	}
	last := chat("after the limit", nil)

	var recs map[string]map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for {
		recs = decryptDir(t, dir, keyPath)
		if recs[last] != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := recs[first]
	if r == nil || recs[last] == nil {
		t.Fatalf("logs not exported: %v", recs)
	}
	if recs[unlogged] != nil || recs[full] != nil {
		t.Errorf("exported a log that was not kept: no_log %v, over the limit %v", recs[unlogged] != nil, recs[full] != nil)
	}
	if !strings.Contains(r["RequestBody"].(string), "hello logpush") || !strings.Contains(r["ResponseBody"].(string), "chat.completion") {
		t.Errorf("bodies: %v / %v", r["RequestBody"], r["ResponseBody"])
	}
	var meta map[string]any
	if err := json.Unmarshal([]byte(r["Metadata"].(string)), &meta); err != nil || meta["user_id"] != "user123" {
		t.Errorf("metadata %v %v", r["Metadata"], err)
	}
	if r["Gateway"] != gateway || r["Provider"] != "openai" || r["Model"] != "gpt-4o-mini" || r["StatusCode"] != 200.0 {
		t.Errorf("record %v", r)
	}
	// The files are gzip, and the encrypted parts are not in clear.
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, _ := os.ReadFile(p)
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Errorf("%s is not gzip: %v", p, err)
			return nil
		}
		plain, _ := io.ReadAll(zr)
		if bytes.Contains(plain, []byte("hello logpush")) || bytes.Contains(plain, []byte("user123")) {
			t.Errorf("%s holds a body or metadata in clear", p)
		}
		return nil
	})
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestLogpushHTTPOutage(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	k, _, pub := logpushKeys(t)
	var down atomic.Bool
	var refused atomic.Int64
	var mu sync.Mutex
	seen := map[string]int{}
	var bodies []string
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		if down.Load() {
			refused.Add(1)
			w.WriteHeader(503)
			return
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil || r.Header.Get("Authorization") != "Bearer sink-token" {
			w.WriteHeader(400)
			return
		}
		plain, _ := io.ReadAll(zr)
		mu.Lock()
		defer mu.Unlock()
		for _, line := range strings.Split(strings.TrimSpace(string(plain)), "\n") {
			var rec logpush.Record
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				continue
			}
			seen[rec.ID]++
			b, err := logpush.Decrypt(k, rec.RequestBody)
			if err == nil {
				bodies = append(bodies, string(b))
			}
		}
	}))
	defer sink.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL, "SWITCHYARD_LOGPUSH_AUTHORIZATION=Bearer sink-token"},
		"--logpush-url", sink.URL+"/ingest")
	setLogpushKey(t, g, pub)
	down.Store(true)
	var ids []string
	for i := 0; i < 3; i++ {
		resp, body := send(t, g.Base("openai")+"/chat/completions", chatBody("gpt-4o-mini", "during the outage", false), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("a request while the sink is down: %d %s", resp.StatusCode, body)
		}
		ids = append(ids, resp.Header.Get("cf-aig-log-id"))
	}
	deadline := time.Now().Add(20 * time.Second)
	for refused.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if refused.Load() < 2 {
		t.Fatalf("the sink was tried %d times", refused.Load())
	}
	// A restart while the sink is down: the exporter resumes from its kept position.
	g.Stop()
	g.Restart()
	resp, body := send(t, g.Base("openai")+"/chat/completions", chatBody("gpt-4o-mini", "during the outage", false), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("after the restart: %d %s", resp.StatusCode, body)
	}
	ids = append(ids, resp.Header.Get("cf-aig-log-id"))
	time.Sleep(300 * time.Millisecond)
	down.Store(false)
	deadline = time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := 0
		for _, id := range ids {
			if seen[id] > 0 {
				n++
			}
		}
		mu.Unlock()
		if n == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the outage %d of %d logs arrived", n, len(ids))
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("log %s arrived %d times", id, seen[id])
		}
	}
	if len(bodies) != len(ids) || !strings.Contains(bodies[0], "during the outage") {
		t.Errorf("bodies %v", bodies)
	}
}
