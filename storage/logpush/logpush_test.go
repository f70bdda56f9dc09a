// logpush_test.go checks the encryption round trip, the batch format, the exporter against
// failing sinks (position kept only once written, nothing lost), the directory, HTTP and S3
// sinks (S3 against gofakes3 in process), and that the reference's Node decryption script,
// testdata/decrypt.js (copied unchanged from the Workers Logpush page), decrypts our files.
package logpush

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/switchyard/switchyard/storage/config/configtest"
)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

func key(t *testing.T) *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

func publicPEM(t *testing.T) string {
	der, err := x509.MarshalPKIXPublicKey(&key(t).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func TestEncryptRoundTrip(t *testing.T) {
	k := key(t)
	for _, plain := range []string{"", "hello", strings.Repeat("é{}\n", 5000)} {
		e, err := Encrypt(&k.PublicKey, []byte(plain))
		if err != nil {
			t.Fatal(err)
		}
		iv, _ := base64.StdEncoding.DecodeString(e.IV)
		wrapped, _ := base64.StdEncoding.DecodeString(e.Key)
		data, _ := base64.StdEncoding.DecodeString(e.Data)
		if len(iv) != 12 || len(wrapped) != 256 || len(data) != len(plain)+16 {
			t.Fatalf("iv %d key %d data %d for %d bytes", len(iv), len(wrapped), len(data), len(plain))
		}
		got, err := Decrypt(k, e)
		if err != nil || string(got) != plain {
			t.Fatalf("round trip: %v %q", err, got)
		}
		e2, _ := Encrypt(&k.PublicKey, []byte(plain))
		if e2.Key == e.Key || e2.IV == e.IV {
			t.Fatal("key or iv reused")
		}
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	e, _ := Encrypt(&k.PublicKey, []byte("secret"))
	if _, err := Decrypt(other, e); err == nil {
		t.Fatal("another key decrypted")
	}
	e.Data = base64.StdEncoding.EncodeToString(append([]byte("x"), []byte(e.Data)...)[:10])
	if _, err := Decrypt(k, e); err == nil {
		t.Fatal("tampered data decrypted")
	}
	// Both PEM forms of the private key read.
	pk8, _ := x509.MarshalPKCS8PrivateKey(k)
	for _, b := range []*pem.Block{{Type: "PRIVATE KEY", Bytes: pk8}, {Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}} {
		if got, err := ParsePrivateKey(pem.EncodeToMemory(b)); err != nil || !got.Equal(k) {
			t.Fatalf("%s: %v", b.Type, err)
		}
	}
}

func finishedEvent(i int, gw string, noLog bool) events.RequestFinished {
	cost := 0.5
	return events.RequestFinished{LogID: "log" + strconv.Itoa(i), AccountID: "a", GatewayID: gw, Provider: "openai", Model: "gpt-4o",
		Method: "POST", Path: "/v1/chat/completions", Status: 200, Success: true, StartedAt: time.Unix(1700000000, 0), DurationMs: 12,
		TokensIn: 3, TokensOut: 4, Cost: &cost, Metadata: events.Metadata{"user": "u" + strconv.Itoa(i)}, NoLog: noLog,
		RequestPayload:  events.InlinePayload([]byte(`{"q":`+strconv.Itoa(i)+`}`), 7, false),
		ResponsePayload: events.InlinePayload([]byte(`{"answer":"hi `+strconv.Itoa(i)+`"}`), 15, false)}
}

// readFile gunzips a batch file into its records, as raw JSON objects.
func readFile(t *testing.T, body []byte) []map[string]json.RawMessage {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]json.RawMessage
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func decryptField(t *testing.T, m map[string]json.RawMessage, field string) string {
	t.Helper()
	var e Encrypted
	if err := json.Unmarshal(m[field], &e); err != nil || e.Key == "" || e.IV == "" {
		t.Fatalf("%s: %s %v", field, m[field], err)
	}
	b, err := Decrypt(key(t), e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBatchFormat(t *testing.T) {
	var b Batch
	for i := 1; i <= 2; i++ {
		f := finishedEvent(i, "g", false)
		rec, err := NewRecord(&f, Bodies{Request: f.RequestPayload.Body(), Response: f.ResponsePayload.Body()}, &key(t).PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Add(rec); err != nil {
			t.Fatal(err)
		}
	}
	body, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if body[0] != 0x1f || body[1] != 0x8b {
		t.Fatal("not gzip")
	}
	recs := readFile(t, body)
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[1]
	for k, want := range map[string]string{"ID": `"log2"`, "Gateway": `"g"`, "AccountID": `"a"`, "Provider": `"openai"`, "Model": `"gpt-4o"`,
		"StatusCode": `200`, "Endpoint": `"/v1/chat/completions"`, "TokensIn": "3", "TokensOut": "4", "Cost": "0.5", "Timestamp": `"2023-11-14T22:13:20Z"`} {
		if string(r[k]) != want {
			t.Errorf("%s = %s, want %s", k, r[k], want)
		}
	}
	if got := decryptField(t, r, "RequestBody"); got != `{"q":2}` {
		t.Errorf("request body %q", got)
	}
	if got := decryptField(t, r, "ResponseBody"); got != `{"answer":"hi 2"}` {
		t.Errorf("response body %q", got)
	}
	if got := decryptField(t, r, "Metadata"); got != `{"user":"u2"}` {
		t.Errorf("metadata %q", got)
	}
	// A body over 1 MB is cut and said.
	f := finishedEvent(3, "g", false)
	rec, _ := NewRecord(&f, Bodies{Request: bytes.Repeat([]byte("a"), MaxBody+10)}, &key(t).PublicKey)
	if !rec.RequestBodyTruncated || rec.ResponseBodyTruncated {
		t.Fatal("long body not marked truncated")
	}
}

// memSink keeps files, failing the first fails puts.
type memSink struct {
	mu    sync.Mutex
	fails int
	files map[string][]byte
	tries int
}

func (m *memSink) String() string { return "mem" }
func (m *memSink) Put(_ context.Context, name string, body []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tries++
	if m.fails > 0 {
		m.fails--
		return errors.New("sink down")
	}
	if m.files == nil {
		m.files = map[string][]byte{}
	}
	m.files[name] = append([]byte(nil), body...)
	return nil
}

// notKept says log ids listed were not kept by the log store.
type notKept map[string]bool

func (notKept) WaitFor(context.Context, uint64) error { return nil }
func (n notKept) Get(acct, gw, id string) (storage.LogRecord, error) {
	if n[id] {
		return storage.LogRecord{}, storage.ErrNotFound
	}
	return storage.LogRecord{}, nil
}

func setup(t *testing.T, sink Sink, logs Logs) (*Exporter, *storage.Store) {
	t.Helper()
	svc, _ := configtest.New()
	ctx := context.Background()
	actor := events.Actor{ID: "t", Type: "system"}
	pub, _ := json.Marshal(publicPEM(t))
	if _, err := svc.CreateGateway(ctx, actor, "a", []byte(`{"id":"g","collect_logs":true,"logpush":true,"logpush_public_key":`+string(pub)+`}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateGateway(ctx, actor, "a", []byte(`{"id":"quiet","collect_logs":true}`)); err != nil {
		t.Fatal(err)
	}
	store, err := storage.Open(storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	x, err := New(Options{Store: store, Config: func() *config.Snapshot { return svc.Projection().Current() }, Sink: sink, Logs: logs,
		Node: "n1", RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return x, store
}

func batchOf(fs ...events.RequestFinished) []events.Msg {
	var batch []events.Msg
	for i, f := range fs {
		b, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished, f.EventID, time.Now(), f)
		if err != nil {
			panic(err)
		}
		batch = events.Expand(batch, uint64(i+1), b)
	}
	return batch
}

func TestExporter(t *testing.T) {
	sink := &memSink{fails: 2}
	x, store := setup(t, sink, notKept{"log4": true})
	batch := batchOf(finishedEvent(1, "g", false), finishedEvent(2, "g", false), finishedEvent(3, "g", true),
		finishedEvent(4, "g", false), finishedEvent(5, "quiet", false))
	// A sink that stays down: nothing is lost, the position does not move.
	down := &memSink{fails: 1 << 30}
	x.o.Sink = down
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if err := x.Apply(ctx, batch); err == nil {
		t.Fatal("applied while the sink is down")
	}
	cancel()
	if seq, _ := store.Checkpoint(CheckpointName); seq != 0 || x.Applied() != 0 || down.tries < 2 {
		t.Fatalf("position %d/%d after %d failed tries", seq, x.Applied(), down.tries)
	}
	// It comes back (after two more failures): everything is written once the position moves.
	x.o.Sink = sink
	if err := x.Apply(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if seq, _ := store.Checkpoint(CheckpointName); seq != 5 || x.Applied() != 5 {
		t.Fatalf("position %d", seq)
	}
	if len(sink.files) != 1 {
		t.Fatalf("files %v", sink.files)
	}
	for name, body := range sink.files {
		if want := "a/g/20231114/00000000000000000001_00000000000000000002_n1.log.gz"; name != want {
			t.Errorf("name %s, want %s", name, want)
		}
		recs := readFile(t, body)
		// log3 is no_log, log4 was not kept (over the limit), log5 is on a gateway without logpush.
		if len(recs) != 2 || string(recs[0]["ID"]) != `"log1"` || string(recs[1]["ID"]) != `"log2"` {
			t.Fatalf("records %v", recs)
		}
		if got := decryptField(t, recs[0], "RequestBody"); got != `{"q":1}` {
			t.Errorf("request body %q", got)
		}
	}
	// Applied again (redelivered): nothing new.
	if err := x.Apply(context.Background(), batch); err != nil || sink.tries != 3 {
		t.Fatalf("redelivery wrote again: %v, %d tries", err, sink.tries)
	}
}

func TestDirSink(t *testing.T) {
	dir := t.TempDir()
	s := DirSink{Dir: dir}
	if err := s.Put(context.Background(), "a/g/20231114/x.log.gz", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), "a/g/20231114/x.log.gz", []byte("two")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "a/g/20231114/x.log.gz"))
	if err != nil || string(got) != "two" {
		t.Fatalf("%q %v", got, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "a/g/20231114"))
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
}

func TestHTTPSinkOutage(t *testing.T) {
	var mu sync.Mutex
	statuses := []int{503, 503}
	var got [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if len(statuses) > 0 {
			w.WriteHeader(statuses[0])
			statuses = statuses[1:]
			return
		}
		if r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Authorization") != "Bearer t" || r.Header.Get("X-Logpush-Name") == "" {
			w.WriteHeader(400)
			return
		}
		got = append(got, b)
	}))
	defer srv.Close()
	x, _ := setup(t, HTTPSink{URL: srv.URL, Authorization: "Bearer t"}, nil)
	if err := x.Apply(context.Background(), batchOf(finishedEvent(1, "g", false))); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || len(statuses) != 0 {
		t.Fatalf("%d posts accepted, %d failures left", len(got), len(statuses))
	}
	if recs := readFile(t, got[0]); len(recs) != 1 || decryptField(t, recs[0], "ResponseBody") != `{"answer":"hi 1"}` {
		t.Fatalf("%v", recs)
	}
}

func TestS3Sink(t *testing.T) {
	backend := s3mem.New()
	faker := gofakes3.New(backend)
	srv := httptest.NewServer(faker.Server())
	defer srv.Close()
	if err := backend.CreateBucket("logs"); err != nil {
		t.Fatal(err)
	}
	s, err := NewS3Sink("s3://logs/ai-gateway/", S3Options{Endpoint: srv.URL, AccessKeyID: "id", SecretAccessKey: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	x, _ := setup(t, s, nil)
	if err := x.Apply(context.Background(), batchOf(finishedEvent(1, "g", false), finishedEvent(2, "g", false))); err != nil {
		t.Fatal(err)
	}
	obj, err := backend.GetObject("logs", "ai-gateway/a/g/20231114/00000000000000000001_00000000000000000002_n1.log.gz", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Contents.Close()
	body, _ := io.ReadAll(obj.Contents)
	if recs := readFile(t, body); len(recs) != 2 || decryptField(t, recs[1], "Metadata") != `{"user":"u2"}` {
		t.Fatalf("%v", recs)
	}
	if _, err := NewS3Sink("s3://logs", S3Options{}); err == nil {
		t.Fatal("no credentials accepted")
	}
}

// TestReferenceNodeScript runs the reference's decryption script, unchanged but for the
// private key it says to paste into its first variable, on a file the exporter wrote.
func TestReferenceNodeScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the reference's Node decryption script is not run (install Node.js to run it)")
	}
	script, err := os.ReadFile("testdata/decrypt.js")
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key(t))})))
	re := regexp.MustCompile("(?s)const privateKeyStr = `.*?`;")
	if !re.Match(script) {
		t.Fatal("testdata/decrypt.js has no privateKeyStr")
	}
	script = re.ReplaceAllLiteral(script, []byte("const privateKeyStr = `"+keyPEM+"`;"))

	sink := &memSink{}
	x, _ := setup(t, sink, nil)
	if err := x.Apply(context.Background(), batchOf(finishedEvent(1, "g", false), finishedEvent(2, "g", false))); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, body := range sink.files {
		if err := os.WriteFile(filepath.Join(dir, "my_log.log.gz"), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "decrypt.js"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "decrypt.js")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	for _, want := range []string{`'{"q":1}'`, `'{"answer":"hi 1"}'`, `'{"user":"u1"}'`, `'{"q":2}'`, `'{"answer":"hi 2"}'`, `ID: 'log2'`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("node output lacks %s:\n%s", want, out)
		}
	}
	if strings.Count(string(out), "--") != 2 {
		t.Errorf("want 2 records:\n%s", out)
	}
}

// An exporter first started on an empty log keeps position 0 across a restart: it does not
// skip to the log's end then (the logs made meanwhile are still exported).
func TestStartAt(t *testing.T) {
	x, store := setup(t, &memSink{}, nil)
	if err := x.StartAt(0); err != nil {
		t.Fatal(err)
	}
	y, err := New(x.o)
	if err != nil {
		t.Fatal(err)
	}
	if err := y.StartAt(10); err != nil || y.Applied() != 0 {
		t.Fatalf("restarted exporter moved to %d: %v", y.Applied(), err)
	}
	// A store where it never ran: placed at the log's end.
	store2, _ := storage.Open(storage.Options{InMemory: true})
	defer store2.Close()
	o := x.o
	o.Store = store2
	z, _ := New(o)
	if err := z.StartAt(10); err != nil || z.Applied() != 10 {
		t.Fatalf("first start placed at %d: %v", z.Applied(), err)
	}
	_ = store
}
