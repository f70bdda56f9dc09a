// realtime.go is a mock of a provider's realtime WebSocket endpoint (OpenAI Realtime, the
// Gemini Live API, ElevenLabs conversations, fal, Workers AI Deepgram...): any path is
// upgraded, every text and binary message is echoed back unchanged, and each upgrade's
// path, query, headers and offered subprotocols are recorded, as are the close frames it
// receives. Like OpenAI it selects the subprotocol "realtime" when the client offers it.
package mock

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
)

// Realtime is the mock. A text message "close:<code>:<reason>" makes it close the session
// with that code and reason instead of echoing.
type Realtime struct {
	*httptest.Server
	mu       sync.Mutex
	sessions []RealtimeSeen
	// Refuse, when not zero, answers every upgrade with this HTTP status and a JSON error.
	Refuse int
	// Closes receives every close frame the mock gets from its client (the gateway).
	Closes chan RealtimeClose
}

// RealtimeSeen is one upgrade the mock accepted or refused.
type RealtimeSeen struct {
	Path, Query  string
	Header       http.Header
	Subprotocols []string
}

// RealtimeClose is a close frame the mock received.
type RealtimeClose struct {
	Code int
	Text string
}

// NewRealtime starts the mock.
func NewRealtime() *Realtime {
	m := &Realtime{Closes: make(chan RealtimeClose, 16)}
	up := websocket.Upgrader{
		Subprotocols: []string{"realtime"},
		CheckOrigin:  func(*http.Request) bool { return true },
	}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.sessions = append(m.sessions, RealtimeSeen{Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Subprotocols: websocket.Subprotocols(r)})
		refuse := m.Refuse
		m.mu.Unlock()
		if refuse != 0 {
			writeJSON(w, refuse, map[string]any{"error": map[string]any{"message": "refused by the mock", "type": "invalid_request_error", "code": "mock_refused"}})
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		m.echo(c)
	}))
	return m
}

// Sessions lists the upgrades received so far.
func (m *Realtime) Sessions() []RealtimeSeen {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]RealtimeSeen(nil), m.sessions...)
}

// echo sends every message back until the session ends.
func (m *Realtime) echo(c *websocket.Conn) {
	c.SetCloseHandler(func(code int, text string) error {
		select {
		case m.Closes <- RealtimeClose{Code: code, Text: text}:
		default:
		}
		return c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(5*time.Second))
	})
	for {
		mt, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		if mt == websocket.TextMessage {
			if rest, ok := strings.CutPrefix(string(data), "close:"); ok {
				codeText, reason, _ := strings.Cut(rest, ":")
				code, _ := strconv.Atoi(codeText)
				_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(5*time.Second))
				// Wait for the close reply (or the connection's end) before hanging up.
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			}
		}
		if err := c.WriteMessage(mt, data); err != nil {
			return
		}
	}
}
