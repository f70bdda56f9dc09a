// registry_test.go checks the shrunken PID table: the processes registered while the
// system started are still found, and starting a system no longer holds megabytes of heap.
// (Every other test in this package spawns and stops its actors through the small table.)
package actors

import (
	"runtime"
	"testing"
)

func TestRegistryIsSmallAndKeepsSystemProcesses(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := New(Options{Events: dropPublisher{}})
	defer s.Shutdown()
	runtime.GC()
	runtime.ReadMemStats(&after)

	if n := len(s.sys.ProcessRegistry.LocalPIDs.LocalPIDs); n != registryMaps {
		t.Fatalf("registry has %d maps, want %d", n, registryMaps)
	}
	for _, id := range []string{"eventstream", "deadletter"} {
		if _, ok := s.sys.ProcessRegistry.GetLocal(id); !ok {
			t.Errorf("process %q lost when the registry was replaced", id)
		}
	}
	// protoactor's own table is 1024 maps of 32 shards: megabytes of live heap before
	// the first actor exists, and about 14 MB once each shard has held a PID.
	got := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap held by a started system: %d bytes", got)
	if got > 1<<20 {
		t.Errorf("a started actor system holds %d bytes of heap, want under 1 MiB", got)
	}
}
