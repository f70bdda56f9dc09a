// cluster_test.go runs three embedded NATS servers joined into one JetStream cluster, as
// three gateway nodes do: the streams are created with three replicas, an event published
// through one node is read through another, the shared limit windows refuse a stale
// compare-and-set from any node, and with one server stopped the other two keep taking
// events and windows.
package events_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/events"
)

// freePorts finds n loopback ports nothing listens on (the servers' cluster addresses must
// be known to each other before any of them starts).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

type clusterNode struct {
	emb *events.Embedded
	bus *events.Bus
}

// startCluster starts three clustered embedded servers and a bus on each.
func startCluster(t testing.TB) []*clusterNode {
	t.Helper()
	ports := freePorts(t, 3)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	nodes := make([]*clusterNode, 3)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		wg.Add(1)
		go func() { // together: a server waits for its peers before JetStream is ready
			defer wg.Done()
			emb, err := events.StartEmbedded(events.EmbeddedOptions{StoreDir: t.TempDir(), ServerName: fmt.Sprintf("n%d", i+1),
				ClusterListen: fmt.Sprintf("127.0.0.1:%d", ports[i]), ClusterName: "test", Routes: routes})
			if err != nil {
				errs[i] = err
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			bus, err := events.Connect(ctx, events.ConnectOptions{Embedded: emb, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				emb.Shutdown()
				errs[i] = err
				return
			}
			nodes[i] = &clusterNode{emb: emb, bus: bus}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, n := range nodes {
			if n != nil {
				n.stop()
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
	}
	return nodes
}

func (n *clusterNode) stop() {
	if n.bus != nil {
		n.bus.Close()
		n.emb.Shutdown()
		n.bus = nil
	}
}

func TestThreeNodeCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster")
	}
	nodes := startCluster(t)
	for i, n := range nodes {
		if n.bus.Replicas() != 3 {
			t.Fatalf("node %d: streams with %d replicas, want 3 (automatic with three servers)", i+1, n.bus.Replicas())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// An event published through node 1 is in the stream node 3 reads.
	_, data := event(t, 1)
	seq, err := nodes[0].bus.Publish(ctx, events.TypeRequestFinished, "e1", data)
	if err != nil {
		t.Fatal(err)
	}
	if last, err := nodes[2].bus.LastSeq(ctx); err != nil || last != seq {
		t.Fatalf("node 3 sees last sequence %d (%v), want %d", last, err, seq)
	}
	if got, err := nodes[2].bus.EventAt(ctx, seq); err != nil || string(got) != string(data) {
		t.Fatalf("node 3 reads %q (%v)", got, err)
	}

	// Limit windows: a write on a revision another node has replaced is refused.
	w := make([]*events.LimitWindows, 3)
	for i, n := range nodes {
		if w[i], err = n.bus.LimitWindows(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rev1, err := w[0].Put(ctx, "count/fixed/60s/gw/a/g", []byte("one"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w[1].Put(ctx, "count/fixed/60s/gw/a/g", []byte("two"), 0); !errors.Is(err, events.ErrWindowMoved) {
		t.Fatalf("second create from node 2: %v, want ErrWindowMoved", err)
	}
	got, rev, err := w[1].Get(ctx, "count/fixed/60s/gw/a/g")
	if err != nil || string(got) != "one" || rev != rev1 {
		t.Fatalf("node 2 reads %q rev %d (%v), want %q rev %d", got, rev, err, "one", rev1)
	}
	rev2, err := w[1].Put(ctx, "count/fixed/60s/gw/a/g", []byte("two"), rev1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w[2].Put(ctx, "count/fixed/60s/gw/a/g", []byte("three"), rev1); !errors.Is(err, events.ErrWindowMoved) {
		t.Fatalf("stale write from node 3: %v, want ErrWindowMoved", err)
	}
	if got, _, _ := w[2].Get(ctx, "count/fixed/60s/gw/a/other"); got != nil {
		t.Fatalf("a limiter never written reads %q", got)
	}

	// The shared response cache: written through node 1, read through node 2.
	c1, err := nodes[0].bus.SharedCache(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := nodes[1].bus.SharedCache(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c1.Put("gw/a/g/key 1", []byte("answer"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, err := c2.Get("gw/a/g/key 1"); err != nil || string(got) != "answer" {
		t.Fatalf("node 2 reads %q (%v) from the shared cache", got, err)
	}
	if got, err := c2.Get("never stored"); got != nil || err != nil {
		t.Fatalf("absent entry: %q, %v", got, err)
	}

	// One server stopped: the two left keep a quorum for events and windows.
	nodes[0].stop()
	var last uint64
	deadline := time.Now().Add(30 * time.Second)
	for { // the streams led by the stopped server elect a new leader first
		_, data = event(t, 2)
		if last, err = nodes[1].bus.Publish(ctx, events.TypeRequestFinished, "e2", data); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || last <= seq {
		t.Fatalf("publish with one server down: seq %d, %v", last, err)
	}
	for {
		_, err = w[2].Put(ctx, "count/fixed/60s/gw/a/g", []byte("three"), rev2)
		if err == nil || errors.Is(err, events.ErrWindowMoved) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("window write with one server down: %v", err)
	}
}
