// nodes.go is how the nodes of a cluster know of each other: each keeps a heartbeat in a
// bucket whose entries expire, and answers "have you applied config sequence N?" once it
// has. A configuration write waits for every live node's answer before it is answered, so
// a client that moves to another node after the answer reads its write there.
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NodesBucket holds one heartbeat per live node; NodeSyncSubject carries the questions.
const (
	NodesBucket     = "switchyard-nodes"
	NodeSyncSubject = "switchyard.nodes.config-sync"
	// nodeTTL is how long a node stays listed after its last heartbeat (a killed node
	// leaves the list after at most this long); nodeBeat is how often it beats.
	nodeTTL  = 15 * time.Second
	nodeBeat = 4 * time.Second
)

// Nodes is this node's membership: its heartbeat and its answers to the others.
type Nodes struct {
	nc    *nats.Conn
	kv    jetstream.KeyValue
	node  string
	log   *slog.Logger
	sub   *nats.Subscription
	stop  chan struct{}
	done  sync.WaitGroup
	close sync.Once
}

// JoinNodes lists this node among the live ones and answers sync questions: applied
// waits until the config projection has applied a sequence.
func (b *Bus) JoinNodes(ctx context.Context, node string, applied func(ctx context.Context, seq uint64) error) (*Nodes, error) {
	var kv jetstream.KeyValue
	err := b.retrying(ctx, "nodes bucket", func(ctx context.Context) (err error) {
		kv, err = b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      NodesBucket,
			Description: "live Switchyard nodes (heartbeats)",
			Storage:     jetstream.MemoryStorage,
			TTL:         nodeTTL,
			History:     1,
			Replicas:    b.replicas,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", NodesBucket, err)
	}
	n := &Nodes{nc: b.nc, kv: kv, node: node, log: b.log, stop: make(chan struct{})}
	n.sub, err = b.nc.Subscribe(NodeSyncSubject, func(m *nats.Msg) {
		seq, err := strconv.ParseUint(string(m.Data), 10, 64)
		if err != nil || m.Reply == "" {
			return
		}
		go func() { // the answer waits for the projection, never the connection's reader
			c, cancel := context.WithTimeout(context.Background(), nodeTTL)
			defer cancel()
			if applied(c, seq) == nil {
				_ = n.nc.Publish(m.Reply, []byte(node))
			}
		}()
	})
	if err != nil {
		return nil, err
	}
	if _, err := kv.Put(ctx, node, []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
		n.sub.Unsubscribe()
		return nil, fmt.Errorf("node heartbeat: %w", err)
	}
	n.done.Add(1)
	go n.beat()
	return n, nil
}

func (n *Nodes) beat() {
	defer n.done.Done()
	t := time.NewTicker(nodeBeat)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			c, cancel := context.WithTimeout(context.Background(), nodeBeat)
			if _, err := n.kv.Put(c, n.node, []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
				n.log.Warn("node heartbeat", "err", err)
			}
			cancel()
		}
	}
}

// Live is the ids of the nodes with a recent heartbeat, this one included, sorted.
func (n *Nodes) Live(ctx context.Context) ([]string, error) {
	keys, err := n.kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	sort.Strings(keys)
	return keys, err
}

// WaitApplied waits until every other live node says it has applied config sequence seq;
// the error names the nodes that did not say so before ctx ended.
func (n *Nodes) WaitApplied(ctx context.Context, seq uint64) error {
	live, err := n.Live(ctx)
	if err != nil {
		return err
	}
	waiting := map[string]bool{}
	for _, id := range live {
		if id != n.node {
			waiting[id] = true
		}
	}
	if len(waiting) == 0 {
		return nil
	}
	inbox := n.nc.NewRespInbox()
	answers, err := n.nc.SubscribeSync(inbox)
	if err != nil {
		return err
	}
	defer answers.Unsubscribe()
	if err := n.nc.PublishRequest(NodeSyncSubject, inbox, []byte(strconv.FormatUint(seq, 10))); err != nil {
		return err
	}
	for len(waiting) > 0 {
		m, err := answers.NextMsgWithContext(ctx)
		if err != nil {
			var missing []string
			for id := range waiting {
				missing = append(missing, id)
			}
			sort.Strings(missing)
			return fmt.Errorf("nodes %s did not confirm config sequence %d: %w", strings.Join(missing, ", "), seq, err)
		}
		delete(waiting, string(m.Data))
	}
	return nil
}

// Close stops the heartbeat and the answers, and takes this node off the list.
func (n *Nodes) Close() {
	n.close.Do(func() {
		close(n.stop)
		n.done.Wait()
		_ = n.sub.Unsubscribe()
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = n.kv.Delete(c, n.node)
	})
}
