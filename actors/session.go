// session.go records proxied realtime WebSocket sessions: System implements
// engine.SessionRecorder by appending realtime.started and realtime.ended events, the way
// request actors append theirs. A session counts as in flight from its start to its end,
// so a graceful shutdown (Wait) lets open sessions close and record their end first.
package actors

import (
	"context"
	"time"

	"github.com/switchyard/switchyard/events"
)

// SessionStarted records the start of a realtime session.
func (s *System) SessionStarted(e events.RealtimeStarted) {
	s.inflight.Add(1)
	s.publishSession(events.TypeRealtimeStarted, events.VersionRealtimeStarted, e.SessionID, e, false)
}

// SessionEnded records the end of a realtime session started with SessionStarted. With
// Durable it waits for the event's ack.
func (s *System) SessionEnded(e events.RealtimeEnded) {
	defer s.inflight.Done()
	s.publishSession(events.TypeRealtimeEnded, events.VersionRealtimeEnded, e.SessionID, e, s.opts.Durable)
}

// publishSession encodes and appends a session event. The envelope id is derived from the
// session id, as a request's is from its log id.
func (s *System) publishSession(t events.Type, v int, sessionID string, data any, durable bool) {
	id := sessionID + "." + string(t)
	b, err := events.Encode(t, v, id, time.Now().UTC(), data)
	if err != nil {
		s.opts.Logger.Error("encode event", "type", t, "session_id", sessionID, "err", err)
		return
	}
	if durable {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = s.opts.Events.Publish(ctx, t, id, b)
	} else {
		err = s.opts.Events.PublishAsync(t, id, b)
	}
	if err != nil {
		s.opts.Logger.Error("publish event", "type", t, "session_id", sessionID, "err", err)
	}
}
