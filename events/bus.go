// bus.go connects to NATS (embedded or external), sets up the streams and the payload
// object store, and offers the small publish / consume / replay API the rest of the code uses.
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
	consumeGather   = 2 * time.Millisecond
)

// Bus is the connection to the event log.
type Bus struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	payloads jetstream.ObjectStore
	secrets  jetstream.KeyValue
	log      *slog.Logger
	retries  sync.WaitGroup
}

// ConnectOptions says which NATS to use: an embedded server or a URL.
type ConnectOptions struct {
	Embedded *Embedded
	URL      string
	Logger   *slog.Logger
	// Retention bounds how long request events and payloads are kept (0: forever), so
	// the log's disk use stays bounded; the config stream is always kept.
	Retention time.Duration
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
		jetstream.WithPublishAsyncErrHandler(b.republish))
	if err != nil {
		b.nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if _, err = b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        RequestsStream,
		Description: "Switchyard request lifecycle events",
		Subjects:    []string{SubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      o.Retention,
	}); err != nil {
		b.nc.Close()
		return nil, fmt.Errorf("create stream %s: %w", RequestsStream, err)
	}
	b.payloads, err = b.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      PayloadBucket,
		Description: "request and response bodies larger than the inline cap",
		Storage:     jetstream.FileStorage,
		TTL:         o.Retention,
	})
	if err != nil {
		b.nc.Close()
		return nil, fmt.Errorf("create object store %s: %w", PayloadBucket, err)
	}
	if err := b.setupConfig(ctx); err != nil {
		b.nc.Close()
		return nil, err
	}
	return b, nil
}

// republish is called when an asynchronous publish was not acknowledged: the event is
// sent again synchronously, so a transient failure never loses a record. If the first
// copy did land, the event is stored twice; projections apply it once.
func (b *Bus) republish(_ jetstream.JetStream, msg *nats.Msg, err error) {
	b.retries.Add(1)
	go func() {
		defer b.retries.Done()
		for attempt := 1; attempt <= 5; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, perr := b.js.PublishMsg(ctx, msg)
			cancel()
			if perr == nil {
				return
			}
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
		}
		b.log.Error("event lost after retries", "subject", msg.Subject, "first_error", err)
	}()
}

// msg builds the message. Events carry no Nats-Msg-Id: JetStream's duplicate window would
// hold an id per event in memory (tens of MB under load), and it is not needed, because
// projections apply events idempotently (a log record is keyed by its log id).
func (b *Bus) msg(t Type, id string, data []byte) *nats.Msg {
	return &nats.Msg{Subject: SubjectPrefix + string(t), Data: data}
}

// PublishAsync appends an encoded event without waiting for the acknowledgement.
func (b *Bus) PublishAsync(t Type, id string, data []byte) error {
	_, err := b.js.PublishMsgAsync(b.msg(t, id, data))
	return err
}

// Publish appends an encoded event and waits for JetStream's acknowledgement.
func (b *Bus) Publish(ctx context.Context, t Type, id string, data []byte) (uint64, error) {
	ack, err := b.js.PublishMsg(ctx, b.msg(t, id, data))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// Flush waits until every asynchronous publish so far is acknowledged (or ctx ends).
func (b *Bus) Flush(ctx context.Context) error {
	select {
	case <-b.js.PublishAsyncComplete():
	case <-ctx.Done():
		return fmt.Errorf("flush events: %w", ctx.Err())
	}
	done := make(chan struct{})
	go func() { b.retries.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush events: %w", ctx.Err())
	}
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

// EventAt reads the event stored at a sequence of the requests stream.
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

// LastSeqOf is the sequence of the newest event of the given type (0 when there is none):
// what a consumer filtered to that type has to reach to be caught up.
func (b *Bus) LastSeqOf(ctx context.Context, t Type) (uint64, error) {
	s, err := b.js.Stream(ctx, RequestsStream)
	if err != nil {
		return 0, err
	}
	m, err := s.GetLastMsgForSubject(ctx, SubjectPrefix+string(t))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return m.Sequence, nil
}

// Msg is one event read from the stream, with its stream sequence.
type Msg struct {
	Seq  uint64
	Data []byte
}

// BatchHandler applies a batch of events in stream order. An error stops the consumer.
type BatchHandler func(batch []Msg) error

// Consume runs a durable consumer called name over the requests stream, starting after
// the sequence the caller has already applied (its checkpoint), and calls h with batches
// until ctx ends. The consumer is recreated at that position on each start, so the
// caller's checkpoint, not the server, decides where it resumes: nothing is dropped or
// applied twice even if the server-side consumer was lost or is ahead. With types, only
// events of those types are delivered (sequences stay the stream's).
func (b *Bus) Consume(ctx context.Context, name string, after uint64, h BatchHandler, types ...Type) error {
	_ = b.js.DeleteConsumer(ctx, RequestsStream, name)
	cfg := jetstream.ConsumerConfig{
		Durable:           name,
		AckPolicy:         jetstream.AckAllPolicy,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		MaxAckPending:     consumeBatchMax * 8,
		InactiveThreshold: 24 * time.Hour,
	}
	for _, t := range types {
		cfg.FilterSubjects = append(cfg.FilterSubjects, SubjectPrefix+string(t))
	}
	if after > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = after + 1
	}
	cons, err := b.js.CreateConsumer(ctx, RequestsStream, cfg)
	if err != nil {
		return fmt.Errorf("create consumer %s: %w", name, err)
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
	cc, err := cons.Consume(deliver, jetstream.PullMaxMessages(consumeBatchMax))
	if err != nil {
		return fmt.Errorf("consume %s: %w", name, err)
	}
	defer cc.Stop()
	batch := make([]Msg, 0, consumeBatchMax)
	gather := time.NewTimer(time.Hour)
	defer gather.Stop()
	for {
		var first jetstream.Msg
		select {
		case <-ctx.Done():
			return nil
		case first = <-in:
		}
		batch = batch[:0]
		last := first
		batch = appendMsg(batch, first)
		// Wait up to consumeGather for more: at low load this turns one transaction per
		// event into one per few milliseconds; under load the batch fills at once.
		gather.Reset(consumeGather)
	drain:
		for len(batch) < consumeBatchMax {
			select {
			case m := <-in:
				batch = appendMsg(batch, m)
				last = m
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
		if err := h(batch); err != nil {
			return fmt.Errorf("consumer %s: %w", name, err)
		}
		_ = last.Ack()
	}
}

func appendMsg(batch []Msg, m jetstream.Msg) []Msg {
	md, err := m.Metadata()
	if err != nil {
		return batch
	}
	return append(batch, Msg{Seq: md.Sequence.Stream, Data: m.Data()})
}

// Replay reads the requests stream from the first event up to the last one present when
// it starts, in order, with an ordered (ephemeral) consumer, calling h with batches.
func (b *Bus) Replay(ctx context.Context, h BatchHandler) (uint64, error) {
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
	batch := make([]Msg, 0, consumeBatchMax)
	var seq uint64
	for seq < last {
		m, err := it.Next()
		if ctx.Err() != nil {
			return seq, ctx.Err()
		}
		if err != nil {
			return seq, err
		}
		md, err := m.Metadata()
		if err != nil {
			return seq, err
		}
		seq = md.Sequence.Stream
		batch = append(batch, Msg{Seq: seq, Data: m.Data()})
		if len(batch) == consumeBatchMax || seq >= last {
			if err := h(batch); err != nil {
				return seq, err
			}
			batch = batch[:0]
		}
	}
	return seq, nil
}

// Close drains the connection.
func (b *Bus) Close() {
	if b.nc != nil {
		_ = b.nc.Drain()
		for b.nc.IsDraining() {
			time.Sleep(10 * time.Millisecond)
		}
		b.nc.Close()
	}
}
