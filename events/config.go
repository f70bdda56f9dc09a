// config.go is the configuration side of the event log: the config.changed event that
// every control-plane write appends to its own stream (kept forever, the audit trail), the
// publish with optimistic concurrency, the live follower the config projection runs on,
// and the bucket holding sealed provider keys (which never travel inside an event).
package events

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config stream and secrets bucket names.
const (
	ConfigStream        = "SWITCHYARD_CONFIG"
	ConfigSubjectPrefix = "switchyard.config."
	SecretsBucket       = "switchyard-secrets"
)

// TypeConfigChanged is the one config event: a resource was created, updated or deleted.
const (
	TypeConfigChanged    Type = "config.changed"
	VersionConfigChanged      = 1
)

// Actor is who made a change: an API token (by id, never its value) or the system.
type Actor struct {
	ID   string `json:"id"`
	Type string `json:"type"` // "token", "admin_token" (the bootstrap token) or "system"
}

// ConfigChanged records one control-plane write: who changed what, when, from which value
// to which. Old is null for a create, New is null for a delete. Values never hold a secret:
// provider keys appear as their id, alias, a masked preview and a reference to the sealed
// bytes in SecretsBucket; API tokens as a salted hash.
type ConfigChanged struct {
	Action     string          `json:"action"`   // create | update | delete
	Resource   string          `json:"resource"` // gateway | token | provider_config | custom_provider
	ResourceID string          `json:"resource_id"`
	AccountID  string          `json:"account_id"`
	GatewayID  string          `json:"gateway_id,omitempty"`
	Actor      Actor           `json:"actor"`
	Old        json.RawMessage `json:"old"`
	New        json.RawMessage `json:"new"`
}

// DecodeConfigChanged decodes a config.changed event of any known version.
func DecodeConfigChanged(e Envelope) (ConfigChanged, error) {
	var c ConfigChanged
	if e.Type != TypeConfigChanged {
		return c, fmt.Errorf("event %s is not %s", e.Type, TypeConfigChanged)
	}
	switch e.Version {
	case 1:
		err := json.Unmarshal(e.Data, &c)
		return c, err
	default:
		return c, fmt.Errorf("%s: unknown version %d", e.Type, e.Version)
	}
}

// configPublishTry bounds one try of a config publish in a cluster (a leader election
// after a node died takes a few seconds).
const configPublishTry = 2 * time.Second

// ErrConflict is returned by PublishConfig when the stream moved past the sequence the
// writer validated against: re-read the configuration and try again.
var ErrConflict = errors.New("config changed concurrently")

func (b *Bus) setupConfig(ctx context.Context) error {
	if _, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        ConfigStream,
		Description: "Switchyard configuration changes (the audit trail); kept forever",
		Subjects:    []string{ConfigSubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    b.replicas,
	}); err != nil {
		return fmt.Errorf("create stream %s: %w", ConfigStream, err)
	}
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      SecretsBucket,
		Description: "provider keys sealed with the master key (AES-256-GCM)",
		Storage:     jetstream.FileStorage,
		History:     1,
		Replicas:    b.replicas,
	})
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", SecretsBucket, err)
	}
	b.secrets = kv
	return nil
}

// PublishConfig appends a config event on switchyard.config.<resource>.<action> and waits
// for the acknowledgement. With expectLast > 0 (or 0 meaning "the stream is empty" when
// checkLast is set) JetStream refuses the write if anything else was appended since:
// writers validate against a snapshot at that sequence, so two nodes cannot both create the
// same slug. The answer is the event's stream sequence.
func (b *Bus) PublishConfig(ctx context.Context, c ConfigChanged, id string, at time.Time, expectLast uint64) (uint64, error) {
	data, err := Encode(TypeConfigChanged, VersionConfigChanged, id, at, c)
	if err != nil {
		return 0, err
	}
	subj := ConfigSubjectPrefix + c.Resource + "." + c.Action
	// The message id makes a retry safe: in a cluster the stream's leader may be gone (a
	// node died) and the publish unanswered though stored; sent again, the same id is
	// answered with the first copy's sequence instead of being stored twice.
	var ack *jetstream.PubAck
	for {
		pctx, cancel := context.WithTimeout(ctx, configPublishTry)
		ack, err = b.js.Publish(pctx, subj, data, jetstream.WithExpectLastSequence(expectLast), jetstream.WithMsgID(id))
		cancel()
		if err == nil || !b.clustered || ctx.Err() != nil ||
			!errors.Is(err, jetstream.ErrNoStreamResponse) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) {
			break
		}
		b.log.Info("config stream not answering; publishing again", "err", err)
	}
	if err != nil {
		if isWrongLastSeq(err) {
			return 0, ErrConflict
		}
		return 0, err
	}
	return ack.Sequence, nil
}

// ConfigLastSeq is the sequence of the newest config event (0 when there is none).
func (b *Bus) ConfigLastSeq(ctx context.Context) (uint64, error) {
	return b.streamLastSeq(ctx, ConfigStream)
}

// FollowConfig delivers every config event from the first, in order, and then each new
// one as it is appended, until ctx ends. It runs on an ordered (ephemeral) consumer: the
// config projection lives in memory and is rebuilt from the whole stream at each start.
func (b *Bus) FollowConfig(ctx context.Context, h func(Msg) error) error {
	var last uint64 // the newest sequence handed to h
	for {
		err := b.followConfigFrom(ctx, last+1, &last, h)
		switch {
		case err == nil || ctx.Err() != nil:
			return nil
		case errors.Is(err, errFollowerStalled):
			b.log.Warn("config follower stalled; following again", "after", last)
		case b.clustered && !errors.Is(err, errConfigHandler):
			// The cluster may be electing the stream's leader (a server died): try again.
			b.log.Warn("config follower failed; following again", "after", last, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(250 * time.Millisecond):
			}
		default:
			return err
		}
	}
}

// errConfigHandler marks an error of the handler (the projection), which ends following.
var errConfigHandler = errors.New("config handler")

// errFollowerStalled: the stream holds events the follower has not delivered for a while
// (its consumer lived on a server that went away); FollowConfig starts another.
var errFollowerStalled = errors.New("config follower stalled")

// followerStall is how long the follower may lag behind the stream's last event before it
// is replaced.
const followerStall = 2 * time.Second

func (b *Bus) followConfigFrom(ctx context.Context, from uint64, last *uint64, h func(Msg) error) error {
	cfg := jetstream.OrderedConsumerConfig{}
	if from > 1 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
	}
	cons, err := b.js.OrderedConsumer(ctx, ConfigStream, cfg)
	if err != nil {
		return fmt.Errorf("follow %s: %w", ConfigStream, err)
	}
	it, err := cons.Messages(jetstream.PullExpiry(pullExpiry), jetstream.PullHeartbeat(pullHeartbeat))
	if err != nil {
		return fmt.Errorf("follow %s: %w", ConfigStream, err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	// A watchdog: in a cluster the consumer's server can die and the client's own reset
	// back off for long; if the stream is ahead and nothing came for followerStall, stop.
	var handled atomic.Uint64
	handled.Store(*last)
	var stalled atomic.Bool
	wctx, cancelWatch := context.WithCancel(ctx)
	defer cancelWatch()
	if b.clustered {
		go func() {
			t := time.NewTicker(followerStall / 2)
			defer t.Stop()
			seen, since := handled.Load(), time.Now()
			for {
				select {
				case <-wctx.Done():
					return
				case <-t.C:
				}
				if n := handled.Load(); n != seen {
					seen, since = n, time.Now()
					continue
				}
				qctx, cancel := context.WithTimeout(wctx, followerStall)
				lastSeq, err := b.ConfigLastSeq(qctx)
				cancel()
				if err == nil && lastSeq > seen && time.Since(since) >= followerStall {
					stalled.Store(true)
					it.Stop()
					return
				}
				if err == nil && lastSeq <= seen {
					since = time.Now()
				}
			}
		}()
	}
	for {
		m, err := it.Next()
		if ctx.Err() != nil {
			return nil
		}
		if stalled.Load() {
			return errFollowerStalled
		}
		if err != nil {
			return fmt.Errorf("follow %s: %w", ConfigStream, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		if err := h(Msg{Seq: md.Sequence.Stream, Data: m.Data()}); err != nil {
			return fmt.Errorf("%w: %w", errConfigHandler, err)
		}
		*last = md.Sequence.Stream
		handled.Store(*last)
	}
}

// ReadConfig returns every config event up to the newest one present now (for audits and
// tools that must not wait for new events).
func (b *Bus) ReadConfig(ctx context.Context) ([]Msg, error) {
	last, err := b.ConfigLastSeq(ctx)
	if err != nil || last == 0 {
		return nil, err
	}
	var out []Msg
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	err = b.FollowConfig(cctx, func(m Msg) error {
		out = append(out, m)
		if m.Seq >= last {
			cancel()
		}
		return nil
	})
	return out, err
}

// PutSecret stores sealed bytes under a name.
func (b *Bus) PutSecret(ctx context.Context, name string, sealed []byte) error {
	_, err := b.secrets.Put(ctx, name, sealed)
	return err
}

// GetSecret reads sealed bytes stored with PutSecret.
func (b *Bus) GetSecret(ctx context.Context, name string) ([]byte, error) {
	e, err := b.secrets.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return e.Value(), nil
}

// DeleteSecret removes sealed bytes (a deleted or rotated key).
func (b *Bus) DeleteSecret(ctx context.Context, name string) error {
	err := b.secrets.Purge(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return err
}

// masterKeyCheck is the secrets bucket entry holding the check value of the master key the
// log's secrets are sealed with.
const masterKeyCheck = "master-key-check"

// ErrMasterKeyMismatch: this node's master key is not the one the log's secrets are sealed
// with (every node of a cluster needs the same).
var ErrMasterKeyMismatch = errors.New("this node's master key differs from the one the event log's provider keys are sealed with")

// CheckMasterKey stores check (a value derived from the master key, not the key) the first
// time any node starts on the log, and afterwards refuses a node whose check differs.
func (b *Bus) CheckMasterKey(ctx context.Context, check []byte) error {
	for try := 0; ; try++ {
		_, err := b.secrets.Create(ctx, masterKeyCheck, check)
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return err
		}
		e, err := b.secrets.Get(ctx, masterKeyCheck)
		if errors.Is(err, jetstream.ErrKeyNotFound) && try < 50 {
			// Another node created it a moment ago and the replica read here has not got it
			// yet: read again.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return err
		}
		if !bytes.Equal(e.Value(), check) {
			return ErrMasterKeyMismatch
		}
		return nil
	}
}
