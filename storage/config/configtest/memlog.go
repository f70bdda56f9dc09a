// Package configtest provides an in-memory config log for unit tests of the packages
// that use storage/config: it appends events, applies them to the projection at once and
// keeps sealed secrets in a map, with the same optimistic-concurrency rule as JetStream.
package configtest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage/config"
)

// Log is an in-memory config stream and secrets bucket.
type Log struct {
	mu      sync.Mutex
	Events  []events.Msg
	Secrets map[string][]byte
	proj    *config.Projection
}

// New returns a service over an in-memory log, with a fixed master key.
func New() (*config.Service, *Log) {
	l := &Log{Secrets: map[string][]byte{}}
	sealer, err := config.NewSealer(make([]byte, 32))
	if err != nil {
		panic(err)
	}
	l.proj = config.NewProjection(l, sealer, nil)
	return config.NewService(l, l.proj, sealer), l
}

// PublishConfig appends and applies an event.
func (l *Log) PublishConfig(_ context.Context, c events.ConfigChanged, id string, at time.Time, expectLast uint64) (uint64, error) {
	data, err := events.Encode(events.TypeConfigChanged, events.VersionConfigChanged, id, at, c)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	if uint64(len(l.Events)) != expectLast {
		l.mu.Unlock()
		return 0, events.ErrConflict
	}
	m := events.Msg{Seq: uint64(len(l.Events)) + 1, Data: data}
	l.Events = append(l.Events, m)
	l.mu.Unlock()
	return m.Seq, l.proj.Apply(m)
}

// ConfigLastSeq is the last sequence.
func (l *Log) ConfigLastSeq(context.Context) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.Events)), nil
}

// PutSecret stores sealed bytes.
func (l *Log) PutSecret(_ context.Context, name string, b []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Secrets[name] = append([]byte(nil), b...)
	return nil
}

// GetSecret reads sealed bytes.
func (l *Log) GetSecret(_ context.Context, name string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.Secrets[name]
	if !ok {
		return nil, errors.New("no such secret")
	}
	return b, nil
}

// DeleteSecret removes sealed bytes.
func (l *Log) DeleteSecret(_ context.Context, name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.Secrets, name)
	return nil
}
