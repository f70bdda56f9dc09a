// session_test.go checks that realtime sessions become realtime.started and
// realtime.ended events, and that an open session holds a graceful shutdown's Wait.
package actors

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/events"
)

var _ engine.SessionRecorder = (*System)(nil)

func TestSessionEvents(t *testing.T) {
	for _, durable := range []bool{false, true} {
		rec := &recorder{}
		s := newSystem(rec, durable)
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		s.SessionStarted(events.RealtimeStarted{SessionID: "01JSESSION", AccountID: "a", GatewayID: "g", Provider: "openai",
			Path: "/openai", Model: "gpt-4o-realtime-preview", KeyID: "k1", StartedAt: at})

		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		if err := s.Wait(ctx); err == nil {
			t.Fatal("Wait returned while a session was open")
		}
		cancel()

		s.SessionEnded(events.RealtimeEnded{SessionID: "01JSESSION", AccountID: "a", GatewayID: "g", Provider: "openai",
			StartedAt: at, EndedAt: at.Add(1500 * time.Millisecond), DurationMs: 1500, FramesIn: 2, FramesOut: 3,
			BytesIn: 20, BytesOut: 30, CloseCode: 1000, ClosedBy: "client"})
		if err := s.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}

		if len(rec.events) != 2 {
			t.Fatalf("got %d events", len(rec.events))
		}
		st, en := rec.events[0], rec.events[1]
		if st.Type != events.TypeRealtimeStarted || st.Version != events.VersionRealtimeStarted || st.ID != "01JSESSION.realtime.started" ||
			en.Type != events.TypeRealtimeEnded || en.Version != events.VersionRealtimeEnded || en.ID != "01JSESSION.realtime.ended" {
			t.Fatalf("envelopes %+v %+v", st, en)
		}
		var started events.RealtimeStarted
		var ended events.RealtimeEnded
		if err := json.Unmarshal(st.Data, &started); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(en.Data, &ended); err != nil {
			t.Fatal(err)
		}
		if started.Model != "gpt-4o-realtime-preview" || started.KeyID != "k1" || !started.StartedAt.Equal(at) {
			t.Fatalf("started %+v", started)
		}
		if ended.FramesIn != 2 || ended.FramesOut != 3 || ended.BytesIn != 20 || ended.BytesOut != 30 || ended.CloseCode != 1000 || ended.ClosedBy != "client" {
			t.Fatalf("ended %+v", ended)
		}
		wantSync := 0 // durable waits for the ack of the end only
		if durable {
			wantSync = 1
		}
		if rec.sync != wantSync {
			t.Fatalf("durable=%v: %d synchronous publishes, want %d", durable, rec.sync, wantSync)
		}
		s.Shutdown()
	}
}
