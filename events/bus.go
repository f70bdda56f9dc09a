// bus.go connects to NATS (embedded or external), sets up the streams and the payload
// object store, and offers the small publish / consume / replay API the rest of the code uses.
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream and bucket names.
const (
	RequestsStream  = "SWITCHYARD_REQUESTS"
	SubjectPrefix   = "switchyard.requests."
	PayloadBucket   = "switchyard-payloads"
	publishPending  = 8192
	consumeBatchMax = 512
	// consumeEventsMax closes a handler batch early once it holds this many events
	// (a message can hold up to batchMaxEvents of them).
	consumeEventsMax = 4096
	// consumeGather: a handler batch waits this long for more messages after its first.
	// Each batch costs the projections a Badger transaction, a checkpoint and posting
	// lists; 10 ms instead of 2 ms cut the consumer and Badger's write loop by about 5 µs
	// per request at 8,000 requests/s (c16 profiles), and delays a log by at most that.
	consumeGather = 10 * time.Millisecond
	// pullExpiry and pullHeartbeat: a consumer whose server went away is noticed within
	// a few seconds (missed heartbeats), not the client's default half minute.
	pullExpiry    = 10 * time.Second
	pullHeartbeat = 2 * time.Second
	// stallAfter: in a cluster, a consumer that delivered nothing for this long while the
	// stream holds events past its position is taken as lost (seen once: after the stream
	// leader's server was stopped, a node's consumer went silent with no heartbeat error).
	stallAfter = 5 * time.Second
	// dedupWindow is how long JetStream remembers a batch's message id, so a batch sent
	// again after a lost acknowledgement (batcher.retry, within about 30 s) is stored once.
	dedupWindow = time.Minute
	// unlimitedPerSubject is the requests stream's per-subject message limit: never
	// reached (see setup).
	unlimitedPerSubject = 1 << 62
)

// Bus is the connection to the event log.
type Bus struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	payloads jetstream.ObjectStore
	secrets  jetstream.KeyValue
	log      *slog.Logger
	batches  *batcher
	replicas int
	// clustered: several servers hold the log (creations are retried, see retrying).
	clustered bool
}

// ConnectOptions says which NATS to use: an embedded server or a URL.
type ConnectOptions struct {
	Embedded *Embedded
	URL      string
	Logger   *slog.Logger
	// Retention bounds how long request events and payloads are kept (0: forever), so
	// the log's disk use stays bounded; the config stream is always kept.
	Retention time.Duration
	// Replicas is how many copies of each stream the cluster keeps; 0 chooses (see
	// autoReplicas). Existing streams are scaled to it.
	Replicas int
	// ReadOnly connects to an existing log without creating or changing anything
	// (`switchyard logs tail`): the streams' settings stay the gateway's.
	ReadOnly bool
}

// Connect opens the connection and makes sure the streams and the payload bucket exist.
func Connect(ctx context.Context, o ConnectOptions) (*Bus, error) {
	b := &Bus{log: o.Logger}
	if b.log == nil {
		b.log = slog.Default()
	}
	var err error
	switch {
	case o.Embedded != nil:
		b.nc, err = nats.Connect("", nats.InProcessServer(o.Embedded.srv), nats.Name("switchyard"))
	case o.URL != "":
		b.nc, err = nats.Connect(o.URL, nats.Name("switchyard"), nats.MaxReconnects(-1))
	default:
		return nil, errors.New("events: neither an embedded server nor a NATS URL")
	}
	if err != nil {
		return nil, fmt.Errorf("nats connect: %w", err)
	}
	b.js, err = jetstream.New(b.nc,
		jetstream.WithPublishAsyncMaxPending(publishPending),
		jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		b.nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	b.replicas = o.Replicas
	if b.replicas <= 0 {
		b.replicas = autoReplicas(o.Embedded, len(b.nc.Servers()))
	}
	b.clustered = b.replicas > 1 || o.Embedded != nil && o.Embedded.Servers() > 1
	if b.clustered {
		b.awaitJetStream(ctx)
	}
	if o.ReadOnly {
		if _, err := b.js.Stream(ctx, RequestsStream); err != nil {
			b.nc.Close()
			return nil, fmt.Errorf("the event log's stream %s: %w", RequestsStream, err)
		}
	} else if err := b.retrying(ctx, "event log", func(ctx context.Context) error { return b.setup(ctx, o.Retention) }); err != nil {
		b.nc.Close()
		return nil, err
	}
	b.batches = newBatcher(b.js, b.log)
	return b, nil
}

// retrying runs fn, which creates streams or buckets, until it succeeds. In a cluster a
// creation can time out while the cluster elects its meta leader (its peers may still be
// starting) or the new asset's own leader: each try gets setupTimeout and they go on, a
// second apart, for setupTries. A single server gets one try.
func (b *Bus) retrying(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	for try := 1; ; try++ {
		tctx, cancel := context.WithTimeout(ctx, setupTimeout)
		err := fn(tctx)
		cancel()
		if err == nil || !b.clustered || try == setupTries || ctx.Err() != nil {
			return err
		}
		b.log.Info(what+" not ready; trying again", "err", err, "try", try)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

const (
	setupTries   = 60
	setupTimeout = 2 * time.Second
)

// awaitJetStream waits (as long as ctx allows) until the cluster's JetStream answers: a
// request sent before the cluster has elected its meta leader gets no answer at all, so
// the first creation would wait out its whole timeout.
func (b *Bus) awaitJetStream(ctx context.Context) {
	for ctx.Err() == nil {
		tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, err := b.js.AccountInfo(tctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// autoReplicas is the replica count of the streams when none is configured: 3 when the
// cluster has three or more servers (its embedded routes, or the servers an external
// NATS told the client of), else as many as there are.
func autoReplicas(e *Embedded, known int) int {
	if e != nil {
		known = e.Servers()
	}
	return min(max(known, 1), 3)
}

// Replicas is how many copies of each stream, bucket and object store the cluster keeps.
func (b *Bus) Replicas() int { return b.replicas }

// setup makes sure the streams, the payload object store and the config buckets exist with
// this node's settings.
func (b *Bus) setup(ctx context.Context, retention time.Duration) error {
	if _, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        RequestsStream,
		Description: "Switchyard request lifecycle events",
		Subjects:    []string{SubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      retention,
		Duplicates:  dupWindow(retention),
		Replicas:    b.replicas,
		// No limit in practice; set only because nats-server then writes the stream in
		// 4 MB blocks instead of 8 MB ones (it has no block-size setting). Each block's
		// cache is held in memory while the block is written and read: about 12 MB less
		// live heap at c64.
		MaxMsgsPerSubject: unlimitedPerSubject,
	}); err != nil {
		return fmt.Errorf("create stream %s: %w", RequestsStream, err)
	}
	payloads, err := b.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      PayloadBucket,
		Description: "request and response bodies larger than the inline cap",
		Storage:     jetstream.FileStorage,
		TTL:         retention,
		Replicas:    b.replicas,
	})
	if err != nil {
		return fmt.Errorf("create object store %s: %w", PayloadBucket, err)
	}
	b.payloads = payloads
	return b.setupConfig(ctx)
}

// PublishAsync appends an encoded event without waiting for the acknowledgement: it
// joins the batch being gathered (see batcher.go). The id is not sent: events carry their
// id in the envelope, and a batch carries one message id for JetStream's deduplication.
func (b *Bus) PublishAsync(t Type, id string, data []byte) error {
	return b.batches.add(queued{subject: SubjectPrefix + string(t), data: data})
}

// PublishQueue is how far publishing lags: the events waiting to join a batch and the
// batches sent and not yet acknowledged by JetStream.
func (b *Bus) PublishQueue() (waiting, unacked int) {
	return len(b.batches.in), len(b.batches.acks)
}

// PublishEventAsync appends an event given as a value, without waiting: the publisher
// encodes it (Encode) off the caller's path. data must not change after the call.
func (b *Bus) PublishEventAsync(t Type, version int, id string, at time.Time, data any) error {
	return b.batches.add(queued{subject: SubjectPrefix + string(t), ev: &unencoded{t: t, version: version, id: id, at: at, data: data}})
}

// Publish appends an encoded event and waits for JetStream's acknowledgement. It
// returns the sequence of the message holding the event (shared with the events
// batched with it).
func (b *Bus) Publish(ctx context.Context, t Type, id string, data []byte) (uint64, error) {
	done := make(chan Ack, 1)
	if err := b.batches.add(queued{subject: SubjectPrefix + string(t), data: data, done: done}); err != nil {
		return 0, err
	}
	select {
	case a := <-done:
		return a.Seq, a.Err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Flush waits until every event published so far is acknowledged (or ctx ends).
func (b *Bus) Flush(ctx context.Context) error {
	if err := b.batches.flush(ctx); err != nil {
		return fmt.Errorf("flush events: %w", err)
	}
	return nil
}

// PutPayload stores a large body in the payload object store.
func (b *Bus) PutPayload(ctx context.Context, name string, data []byte) error {
	_, err := b.payloads.PutBytes(ctx, name, data)
	return err
}

// GetPayload reads a body stored with PutPayload.
func (b *Bus) GetPayload(ctx context.Context, name string) ([]byte, error) {
	return b.payloads.GetBytes(ctx, name)
}

// EventAt reads the message stored at a sequence of the requests stream: one event, or
// several (Split separates them).
func (b *Bus) EventAt(ctx context.Context, seq uint64) ([]byte, error) {
	s, err := b.js.Stream(ctx, RequestsStream)
	if err != nil {
		return nil, err
	}
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		return nil, err
	}
	return m.Data, nil
}

// LastSeq is the sequence of the newest event in the requests stream.
func (b *Bus) LastSeq(ctx context.Context) (uint64, error) {
	return b.streamLastSeq(ctx, RequestsStream)
}

// streamLastSeq is the sequence of the newest message in a stream.
func (b *Bus) streamLastSeq(ctx context.Context, stream string) (uint64, error) {
	s, err := b.js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

// Msg is one event read from the stream, with the stream sequence of the message that
// holds it: the events of one message share a sequence, so a handler that commits part of
// a batch must cut it where the sequence changes (see Whole).
type Msg struct {
	Seq  uint64
	Data []byte
	// Batched: the message holds several events, so it came from the batcher, whose
	// message ids let JetStream drop a copy sent twice: none of its events is stored twice.
	Batched bool
	dec     *decoded // shared by copies of the Msg: the event is decoded once for every projection
}

// BatchHandler applies a batch of events in stream order. An error stops the consumer.
// The batch, and every event's Data, are only valid until it returns: the consumer reuses
// their memory for the next batch (Arena), so nothing of them may be kept, e.g. by a write
// finished later; what a handler decodes from them (strings, bodies) is its own.
type BatchHandler func(batch []Msg) error

// Consume runs a durable consumer called name over the requests stream, starting after
// the sequence the caller has already applied (its checkpoint), and calls h with batches
// until ctx ends. The consumer is recreated at that position on each start, so the
// caller's checkpoint, not the server, decides where it resumes: nothing is dropped or
// applied twice even if the server-side consumer was lost or is ahead. Every event is
// delivered: a batched message holds events of every type.
func (b *Bus) Consume(ctx context.Context, name string, after uint64, h BatchHandler) error {
	pos := after
	for {
		err := b.consumeOnce(ctx, name, &pos, h)
		if !errors.Is(err, errConsumerLost) {
			return err
		}
		// In a cluster the consumer lives on one server (one copy: see consumeOnce); when
		// that server goes, it is created again where the handler stands.
		b.log.Warn("consumer lost; creating it again", "consumer", name, "after", pos, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// errConsumerLost: the server-side consumer is gone or silent; Consume creates it again.
var errConsumerLost = errors.New("consumer lost")

// consumeOnce runs one server-side consumer from *pos, moving *pos past each batch h applied.
func (b *Bus) consumeOnce(ctx context.Context, name string, pos *uint64, h BatchHandler) error {
	after := *pos
	_ = b.js.DeleteConsumer(ctx, RequestsStream, name)
	cfg := jetstream.ConsumerConfig{
		Durable:           name,
		AckPolicy:         jetstream.AckAllPolicy,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		MaxAckPending:     consumeBatchMax * 8,
		InactiveThreshold: 24 * time.Hour,
		// One copy is enough in a cluster: the caller's checkpoint, not the consumer,
		// says where it resumes, and a lost consumer is recreated there.
		Replicas: 1,
	}
	if after > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = after + 1
	}
	// Right after the delete, the server may still be flushing the old consumer's state
	// file (seen as a 500 "rename …/o.dat.tmp: no such file or directory"): try again.
	var cons jetstream.Consumer
	var err error
	for try := 1; ; try++ {
		if cons, err = b.js.CreateConsumer(ctx, RequestsStream, cfg); err == nil {
			break
		}
		if try == 5 || ctx.Err() != nil {
			if b.clustered && ctx.Err() == nil { // the cluster may be electing leaders: Consume tries again
				return fmt.Errorf("%w: create consumer %s: %w", errConsumerLost, name, err)
			}
			return fmt.Errorf("create consumer %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(try) * 50 * time.Millisecond):
		}
	}

	in := make(chan jetstream.Msg, consumeBatchMax*2)
	done := make(chan struct{})
	defer close(done)
	// The callback must never block once we have returned, or the connection cannot drain.
	deliver := func(m jetstream.Msg) {
		select {
		case in <- m:
		case <-done:
		}
	}
	lost := make(chan error, 1)
	onErr := func(_ jetstream.ConsumeContext, err error) {
		if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrNoHeartbeat) {
			select {
			case lost <- err:
			default:
			}
		}
	}
	opts := []jetstream.PullConsumeOpt{jetstream.PullMaxMessages(consumeBatchMax), jetstream.ConsumeErrHandler(onErr)}
	if b.clustered {
		// Notice a consumer whose server went away within seconds, not half a minute (on
		// a single server the consumer lives in this process: nothing to notice, and no
		// pull every few seconds while idle).
		opts = append(opts, jetstream.PullExpiry(pullExpiry), jetstream.PullHeartbeat(pullHeartbeat))
	}
	cc, err := cons.Consume(deliver, opts...)
	if err != nil {
		return fmt.Errorf("consume %s: %w", name, err)
	}
	defer cc.Stop()
	batch := make([]Msg, 0, consumeBatchMax)
	var arena Arena   // the batch's memory, reused once h has returned
	next := after + 1 // the stream sequence the next message must have
	add := func(m jetstream.Msg) error {
		var err error
		batch, next, err = b.appendInOrder(ctx, &arena, batch, next, m)
		return err
	}
	gather := time.NewTimer(time.Hour)
	defer gather.Stop()
	var stall <-chan time.Time // nil on a single server: never fires
	if b.clustered {
		t := time.NewTicker(stallAfter)
		defer t.Stop()
		stall = t.C
	}
	delivered := false // since the last stall check
	for {
		var first jetstream.Msg
		select {
		case <-ctx.Done():
			return nil
		case err := <-lost:
			return fmt.Errorf("%w: %w", errConsumerLost, err)
		case <-stall:
			if !delivered {
				sctx, cancel := context.WithTimeout(ctx, stallAfter)
				last, err := b.LastSeq(sctx)
				cancel()
				if err == nil && last > *pos {
					return fmt.Errorf("%w: nothing delivered for %s with the stream at %d", errConsumerLost, stallAfter, last)
				}
			}
			delivered = false
			continue
		case first = <-in:
			delivered = true
		}
		batch = batch[:0]
		arena.Reset()
		last := first
		if err := add(first); err != nil {
			return err
		}
		msgs := 1
		// Wait up to consumeGather for more: this turns one transaction per message into
		// one per consumeGather (a batch fills sooner only past consumeBatchMax messages
		// or consumeEventsMax events).
		gather.Reset(consumeGather)
	drain:
		for msgs < consumeBatchMax && len(batch) < consumeEventsMax {
			select {
			case m := <-in:
				if err := add(m); err != nil {
					return err
				}
				last = m
				msgs++
			case <-gather.C:
				break drain
			case <-ctx.Done():
				break drain
			}
		}
		if !gather.Stop() {
			select {
			case <-gather.C:
			default:
			}
		}
		if len(batch) > 0 {
			if err := h(batch); err != nil {
				return fmt.Errorf("consumer %s: %w", name, err)
			}
			*pos = batch[len(batch)-1].Seq
		}
		_ = last.Ack()
	}
}

// appendInOrder appends the events of a delivered message to batch and returns the
// sequence the next message must have. The stream holds every event, so a consumer must
// see every sequence: a message delivered again (at or below next-1) is dropped, and when
// one arrives past next the ones in between are read from the stream (GetMsg, answered by
// the stream's leader) before it. Seen once in a three-server cluster right after the
// stream was created: a node's consumer skipped one message and its three events never
// reached that node's logs. Sequences the stream no longer has (aged out by retention)
// are skipped.
func (b *Bus) appendInOrder(ctx context.Context, arena *Arena, batch []Msg, next uint64, m jetstream.Msg) ([]Msg, uint64, error) {
	md, err := m.Metadata()
	if err != nil { // not a stream message: nothing to apply, and the gap check catches a loss
		return batch, next, nil
	}
	seq := md.Sequence.Stream
	if seq < next {
		return batch, next, nil
	}
	if seq > next {
		missing, err := b.readRange(ctx, next, seq)
		if err != nil {
			return batch, next, fmt.Errorf("%w: messages %d-%d not delivered and not read: %w", errConsumerLost, next, seq-1, err)
		}
		if len(missing) > 0 {
			b.log.Warn("consumer skipped messages; read them from the stream", "from", next, "to", seq-1, "read", len(missing))
		}
		for _, sm := range missing {
			batch = arena.Expand(batch, sm.seq, sm.data)
		}
	}
	return arena.Expand(batch, seq, m.Data()), seq + 1, nil
}

// storedMsg is one message read from the stream by sequence.
type storedMsg struct {
	seq  uint64
	data []byte
}

// readRange reads the messages stored at sequences from..to-1, skipping those the stream
// no longer holds (before its first sequence, or deleted).
func (b *Bus) readRange(ctx context.Context, from, to uint64) ([]storedMsg, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := b.js.Stream(ctx, RequestsStream)
	if err != nil {
		return nil, err
	}
	if first := s.CachedInfo().State.FirstSeq; first > from {
		from = first
	}
	var out []storedMsg
	for seq := from; seq < to; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, storedMsg{seq, m.Data})
	}
	return out, nil
}

// Replay reads the requests stream from the first event up to the last one present when
// it starts, in order, with an ordered (ephemeral) consumer, calling h with batches. A
// reading goroutine fetches, splits and decodes the next batch (see Msg.Predecode), and
// runs each of ahead on it, while h applies the one before, so a replay uses two cores.
// ahead must only prepare (Msg.SetAhead): it runs before h has applied earlier batches.
func (b *Bus) Replay(ctx context.Context, h BatchHandler, ahead ...func(batch []Msg)) (uint64, error) {
	last, err := b.LastSeq(ctx)
	if err != nil || last == 0 {
		return 0, err
	}
	cons, err := b.js.OrderedConsumer(ctx, RequestsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(consumeBatchMax))
	if err != nil {
		return 0, err
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop) // Next has no context: stopping the iterator ends it
	defer stop()

	type read struct {
		batch []Msg
		seq   uint64 // the last sequence read
		err   error
	}
	ready := make(chan read, 1)
	free := make(chan []Msg, 2) // batches h is done with, for the reader to fill again
	free <- make([]Msg, 0, consumeEventsMax+batchMaxEvents)
	free <- make([]Msg, 0, consumeEventsMax+batchMaxEvents)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		defer close(ready)
		var seq uint64
		for seq < last {
			var batch []Msg
			select {
			case batch = <-free:
			case <-quit:
				return
			}
			batch = batch[:0]
			for seq < last && len(batch) < consumeEventsMax {
				m, err := it.Next()
				if err == nil {
					var md *jetstream.MsgMetadata
					if md, err = m.Metadata(); err == nil {
						seq = md.Sequence.Stream
						from := len(batch)
						batch = Expand(batch, seq, m.Data())
						for _, e := range batch[from:] {
							e.Predecode()
						}
					}
				}
				if err != nil {
					select {
					case ready <- read{seq: seq, err: err}:
					case <-quit:
					}
					return
				}
			}
			for _, prepare := range ahead {
				prepare(batch)
			}
			select {
			case ready <- read{batch: batch, seq: seq}:
			case <-quit:
				return
			}
		}
	}()
	var applied uint64
	for r := range ready {
		if ctx.Err() != nil {
			return applied, ctx.Err()
		}
		if r.err != nil {
			return applied, r.err
		}
		if err := h(r.batch); err != nil {
			return applied, err
		}
		applied = r.seq
		free <- r.batch
	}
	return applied, ctx.Err()
}

// Tail calls h with each batch of events appended to the requests stream from now on,
// through an ordered (ephemeral) consumer, until ctx ends: `switchyard logs tail`.
func (b *Bus) Tail(ctx context.Context, h BatchHandler) error {
	cons, err := b.js.OrderedConsumer(ctx, RequestsStream, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return err
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	var batch []Msg
	for {
		m, err := it.Next()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		batch = Expand(batch[:0], md.Sequence.Stream, m.Data())
		if err := h(batch); err != nil {
			return err
		}
	}
}

// Close flushes the events published so far and drains the connection.
func (b *Bus) Close() {
	if b.batches != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		b.batches.close(ctx)
		cancel()
	}
	if b.nc != nil {
		_ = b.nc.Drain()
		for b.nc.IsDraining() {
			time.Sleep(10 * time.Millisecond)
		}
		b.nc.Close()
	}
}

// DropConsumer deletes a durable consumer of the requests stream, if it exists.
func (b *Bus) DropConsumer(ctx context.Context, name string) {
	_ = b.js.DeleteConsumer(ctx, RequestsStream, name)
}

// dupWindow is dedupWindow, shortened to the retention when that is shorter (JetStream
// refuses a window longer than the stream's max age).
func dupWindow(retention time.Duration) time.Duration {
	if retention > 0 && retention < dedupWindow {
		return retention
	}
	return dedupWindow
}
