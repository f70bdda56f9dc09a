// natsurl_test.go: --nats-url puts the event log on an external NATS JetStream server
// (here one started by the test on a free loopback port) instead of the embedded one.
package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/mock"
)

func TestExternalNATS(t *testing.T) {
	ns := startNATS(t)
	defer ns.Shutdown()
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL, "SWITCHYARD_NATS_URL=" + ns.ClientURL()})
	ids := sendChats(t, g, 3, false)
	for _, id := range ids {
		g.WaitLog(id)
	}
	if _, err := os.Stat(filepath.Join(g.DataDir, "nats")); !os.IsNotExist(err) {
		t.Fatalf("embedded NATS store created although --nats-url was given: %v", err)
	}
	g.Stop() // before the NATS server goes away with the deferred Shutdown
	bus, err := events.Connect(context.Background(), events.ConnectOptions{URL: ns.ClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	finished := map[string]bool{}
	if _, err := bus.Replay(context.Background(), func(batch []events.Msg) error {
		for _, m := range batch {
			if f, err := m.Finished(); err == nil {
				finished[f.LogID] = true
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if !finished[id] {
			t.Errorf("external NATS holds no request.finished event for log %s (%d in all)", id, len(finished))
		}
	}
}

// startNATS runs a NATS JetStream server on a free loopback port, for tests that read the
// event log from outside the gateway. The caller shuts it down after stopping the gateway.
func startNATS(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats not ready")
	}
	return ns
}
