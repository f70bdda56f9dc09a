// socket.go measures the non-realtime WebSocket API: one connection to the universal
// socket, c.conc requests in flight on it at any time (each worker sends a
// universal.create with its own eventId and waits for its universal.created), so the
// figure is request throughput on one connection.
package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
)

// socketCell runs a "ws" cell against the socket at c.url; c.body is the request's query.
func socketCell(c cell, d time.Duration) result {
	conn, _, err := websocket.DefaultDialer.Dial(c.url, nil)
	if err != nil {
		return result{cell: c, secs: d.Seconds(), cpuPerReq: -1, errs: 1, firstErr: err.Error()}
	}
	defer conn.Close()
	s := &socketClient{conn: conn, waiting: map[string]chan bool{}}
	go s.read()
	return runWorkers(c, d, func(from, to time.Time, t *tally) {
		for {
			start := time.Now()
			if !start.Before(to) {
				return
			}
			// Ids from one counter: ids made of the start time and a per-worker index can
			// repeat across workers, and a worker then waits for an answer routed to another.
			ok, err := s.do("bench-"+strconv.FormatUint(s.ids.Add(1), 36), c.body)
			if err != nil {
				t.errs++
				if t.firstErr == "" {
					t.firstErr = err.Error()
				}
				return
			}
			t.answered++
			if ok {
				t.ok++
			}
			switch {
			case !ok:
				t.non200++
			case !start.Before(from):
				t.lat = append(t.lat, time.Since(start))
			}
		}
	})
}

// socketClient sends universal.create messages and routes the answers by eventId.
type socketClient struct {
	conn    *websocket.Conn
	wmu     sync.Mutex
	mu      sync.Mutex
	waiting map[string]chan bool
	err     error
	ids     atomic.Uint64 // the last eventId sent
}

func (s *socketClient) do(id string, query []byte) (bool, error) {
	ch := make(chan bool, 1)
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return false, s.err
	}
	s.waiting[id] = ch
	s.mu.Unlock()
	msg := `{"type":"universal.create","request":{"eventId":"` + id + `","provider":"openai","endpoint":"chat/completions","headers":{"Authorization":"Bearer bench"},"query":` + string(query) + `}}`
	s.wmu.Lock()
	err := s.conn.WriteMessage(websocket.TextMessage, []byte(msg))
	s.wmu.Unlock()
	if err != nil {
		return false, err
	}
	select {
	case ok := <-ch:
		return ok, nil
	case <-time.After(10 * time.Second):
		return false, errTimeout
	}
}

type benchError string

func (e benchError) Error() string { return string(e) }

const errTimeout = benchError("no answer in 10 s")

// read delivers each final message (universal.created with a response, or an error) to
// the request that waits for it.
func (s *socketClient) read() {
	for {
		_, data, err := s.conn.ReadMessage()
		if err != nil {
			s.mu.Lock()
			s.err = err
			for _, ch := range s.waiting {
				ch <- false
			}
			s.waiting = map[string]chan bool{}
			s.mu.Unlock()
			return
		}
		var m struct {
			Type     string
			Metadata struct{ EventID string }
			Response json.RawMessage
		}
		if json.Unmarshal(data, &m) != nil || (m.Type == "universal.created" && len(m.Response) == 0) || m.Type == "universal.stream" {
			continue
		}
		s.mu.Lock()
		ch := s.waiting[m.Metadata.EventID]
		delete(s.waiting, m.Metadata.EventID)
		s.mu.Unlock()
		if ch != nil {
			ch <- strings.HasPrefix(m.Type, "universal.created") || m.Type == "universal.done"
		}
	}
}
