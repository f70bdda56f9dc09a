// The actor system's process registry, sized for this gateway: protoactor-go builds a
// fixed table of 1024 concurrent maps (32 locked shards each) for its PIDs, about 14 MB of
// heap once the maps have held an entry, and never smaller. A node has at most a few
// thousand actors alive at once (one per request in flight, one per limiter and budget),
// so a few hundred shards hold them with as little lock contention on two cores.
package actors

import (
	"github.com/asynkron/protoactor-go/actor"
	cmap "github.com/orcaman/concurrent-map"
)

// registryMaps is how many concurrent maps the registry keeps (each has 32 shards).
const registryMaps = 16

// shrinkRegistry replaces sys's PID table with registryMaps maps, moving the processes the
// system registered while starting (its event stream, dead letters). It must run before the
// system is shared: nothing else may be spawning or sending yet.
func shrinkRegistry(sys *actor.ActorSystem) {
	old := sys.ProcessRegistry.LocalPIDs
	small := &actor.SliceMap{LocalPIDs: make([]cmap.ConcurrentMap, registryMaps)}
	for i := range small.LocalPIDs {
		small.LocalPIDs[i] = cmap.New()
	}
	for _, m := range old.LocalPIDs {
		for id, p := range m.Items() {
			small.GetBucket(id).Set(id, p)
		}
	}
	sys.ProcessRegistry.LocalPIDs = small
}
