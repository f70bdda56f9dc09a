// exporter_test.go runs the exporter against a collector stub: retried until accepted,
// dropped on a permanent refusal, the position kept only once delivered, the stored secret
// sent as the Authorization header, and protobuf when asked.
package otel

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/switchyard/switchyard/storage/config/configtest"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

type stub struct {
	mu       sync.Mutex
	statuses []int // answered in turn; 200 once used up
	bodies   [][]byte
	headers  []http.Header
	srv      *httptest.Server
}

func newStub(statuses ...int) *stub {
	s := &stub{statuses: statuses}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		code := 200
		if len(s.statuses) > 0 {
			code, s.statuses = s.statuses[0], s.statuses[1:]
		}
		if code == 200 {
			s.bodies = append(s.bodies, b)
			s.headers = append(s.headers, r.Header.Clone())
		}
		s.mu.Unlock()
		w.WriteHeader(code)
	}))
	return s
}

type counts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counts) add(r string, n int) { c.mu.Lock(); c.n[r] += n; c.mu.Unlock() }
func (c *counts) get(r string) int    { c.mu.Lock(); defer c.mu.Unlock(); return c.n[r] }

func setup(t *testing.T, otel string) (*Exporter, *counts, *storage.Store) {
	t.Helper()
	svc, _ := configtest.New()
	ctx := context.Background()
	actor := events.Actor{ID: "t", Type: "system"}
	if _, err := svc.CreateGateway(ctx, actor, "a", []byte(`{"id":"g","otel":`+otel+`}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateGateway(ctx, actor, "a", []byte(`{"id":"quiet"}`)); err != nil {
		t.Fatal(err)
	}
	store, err := storage.Open(storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	c := &counts{n: map[string]int{}}
	x, err := New(Options{Store: store, Config: func() *config.Snapshot { return svc.Projection().Current() }, Count: c.add,
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return x, c, store
}

// finished is a batch of one message per request, seq from 1, the last on gateway quiet.
func finished(n int) []events.Msg {
	var batch []events.Msg
	for i := 1; i <= n; i++ {
		gw := "g"
		if i == n {
			gw = "quiet"
		}
		f := events.RequestFinished{LogID: "log" + strconv.Itoa(i), AccountID: "a", GatewayID: gw, Provider: "openai", Model: "gpt-4o",
			Status: 200, Success: true, StartedAt: time.Unix(1700000000, 0), RequestPayload: events.InlinePayload([]byte(`{"q":1}`), 7, false)}
		b, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished, f.EventID, time.Now(), f)
		if err != nil {
			panic(err)
		}
		batch = events.Expand(batch, uint64(i), b)
	}
	return batch
}

func TestExporter(t *testing.T) {
	col := newStub(503, 429, 500)
	defer col.srv.Close()
	x, c, store := setup(t, `[{"url":"`+col.srv.URL+`/v1/traces","headers":{"x-team":"t1"}}]`)
	if err := x.Apply(context.Background(), finished(3)); err != nil {
		t.Fatal(err)
	}
	if c.get(Retried) != 3*2 || c.get(Exported) != 2 || c.get(Dropped) != 0 {
		t.Errorf("counts %v", c.n)
	}
	if cp, _ := store.Checkpoint(CheckpointName); cp != 3 || x.Applied() != 3 {
		t.Errorf("checkpoint %d, applied %d", cp, x.Applied())
	}
	if len(col.bodies) != 1 {
		t.Fatalf("%d export requests accepted", len(col.bodies))
	}
	var doc struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []struct {
					Attributes []struct {
						Key string `json:"key"`
					} `json:"attributes"`
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	if err := json.Unmarshal(col.bodies[0], &doc); err != nil || len(doc.ResourceSpans[0].ScopeSpans[0].Spans) != 2 {
		t.Fatalf("%v %s", err, col.bodies[0])
	}
	if h := col.headers[0]; h.Get("Content-Type") != ContentJSON || h.Get("x-team") != "t1" || h.Get("Authorization") != "" {
		t.Errorf("headers %v", h)
	}
	// Applied again (a redelivery): nothing is sent twice.
	if err := x.Apply(context.Background(), finished(3)); err != nil || len(col.bodies) != 1 {
		t.Errorf("redelivered batch sent again: %v, %d", err, len(col.bodies))
	}
}

func TestExporterDropsOnPermanentRefusal(t *testing.T) {
	col := newStub(400)
	defer col.srv.Close()
	x, c, store := setup(t, `[{"url":"`+col.srv.URL+`"}]`)
	if err := x.Apply(context.Background(), finished(2)); err != nil {
		t.Fatal(err)
	}
	if c.get(Dropped) != 1 || c.get(Exported) != 0 {
		t.Errorf("counts %v", c.n)
	}
	if cp, _ := store.Checkpoint(CheckpointName); cp != 2 {
		t.Errorf("checkpoint %d", cp)
	}
}

func TestExporterKeepsPositionWhileCollectorDown(t *testing.T) {
	col := newStub(503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503)
	defer col.srv.Close()
	x, _, store := setup(t, `[{"url":"`+col.srv.URL+`"}]`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := x.Apply(ctx, finished(2)); err == nil {
		t.Fatal("Apply returned without delivering")
	}
	if cp, _ := store.Checkpoint(CheckpointName); cp != 0 || x.Applied() != 0 {
		t.Errorf("position moved to %d without delivery", cp)
	}
}

func TestExporterAuthorizationAndProtobuf(t *testing.T) {
	col := newStub()
	defer col.srv.Close()
	svc, _ := configtest.New()
	ctx := context.Background()
	actor := events.Actor{ID: "t", Type: "system"}
	if _, err := svc.CreateGateway(ctx, actor, "a", []byte(`{"id":"g"}`)); err != nil {
		t.Fatal(err)
	}
	k, err := svc.CreateProviderKey(ctx, actor, "a", "g", []byte(`{"provider_slug":"openai","secret":"Bearer collector-token"}`))
	if err != nil {
		t.Fatal(err)
	}
	secret := k.SecretID
	if _, err := svc.UpdateGateway(ctx, actor, "a", "g", []byte(`{"otel":[{"url":"`+col.srv.URL+`","headers":{},"authorization":"`+
		secret+`","content_type":"protobuf"},{"url":"`+col.srv.URL+`/missing","headers":{},"authorization":"nope"}]}`)); err != nil {
		t.Fatal(err)
	}
	store, _ := storage.Open(storage.Options{InMemory: true})
	defer store.Close()
	c := &counts{n: map[string]int{}}
	x, _ := New(Options{Store: store, Config: func() *config.Snapshot { return svc.Projection().Current() }, Count: c.add})
	if err := x.Apply(ctx, finished(2)); err != nil {
		t.Fatal(err)
	}
	if len(col.bodies) != 1 || col.headers[0].Get("Authorization") != "Bearer collector-token" || col.headers[0].Get("Content-Type") != ContentProtobuf {
		t.Fatalf("%d requests, headers %v", len(col.bodies), col.headers)
	}
	var td tracepb.TracesData
	if err := proto.Unmarshal(col.bodies[0], &td); err != nil || len(td.ResourceSpans[0].ScopeSpans[0].Spans) != 1 {
		t.Errorf("protobuf body: %v", err)
	}
	if c.get(Dropped) != 1 || c.get(Exported) != 1 {
		t.Errorf("counts %v (the exporter naming no stored secret drops)", c.n)
	}
}

// An exporter first started on an empty log whose collector failed until a restart keeps
// position 0 then: it must not skip to the log's end (the spans of those requests would be
// lost). A store where it never ran starts at the log's end.
func TestStartAt(t *testing.T) {
	x, _, store := setup(t, `[{"url":"http://127.0.0.1:1/v1/traces"}]`)
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
	fresh, err := storage.Open(storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	o := x.o
	o.Store = fresh
	z, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := z.StartAt(10); err != nil || z.Applied() != 10 {
		t.Fatalf("first start placed at %d: %v", z.Applied(), err)
	}
	_ = store
}

// SkipTo only moves the position forward, and keeps it across a restart.
func TestSkipTo(t *testing.T) {
	x, _, _ := setup(t, `[{"url":"http://127.0.0.1:1/v1/traces"}]`)
	if err := x.SkipTo(7); err != nil || x.Applied() != 7 {
		t.Fatalf("skip to 7: %d %v", x.Applied(), err)
	}
	if err := x.SkipTo(3); err != nil || x.Applied() != 7 {
		t.Fatalf("skip back to 3: %d %v", x.Applied(), err)
	}
	y, err := New(x.o)
	if err != nil || y.Applied() != 7 {
		t.Fatalf("after a restart: %d %v", y.Applied(), err)
	}
}
