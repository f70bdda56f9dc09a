// Package events is Switchyard's event log: the versioned event catalog, its encoding,
// the JetStream streams and consumers, the embedded NATS server, the publisher and replay.
// Nothing else in the tree touches NATS types; see README.md in this folder for the catalog.
package events

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	json "github.com/goccy/go-json"
)

// Type names one kind of event. Its subject on the stream is SubjectPrefix + Type.
type Type string

// The request-lifecycle events (stream RequestsStream).
const (
	TypeRequestStarted  Type = "request.started"
	TypeRequestFinished Type = "request.finished"
	// TypeRequestAttempt is one upstream call of a request (retries and fallback steps
	// each make one); TypeRequestFallback is the move from a failed step to the next.
	// Neither is emitted any more (request.finished's attempts say the same); old logs
	// still hold them (their v1 fields: events/README.md), and every reader skips them.
	TypeRequestAttempt  Type = "request.attempt"
	TypeRequestFallback Type = "request.fallback"
	// TypeRealtimeStarted and TypeRealtimeEnded bracket a proxied realtime WebSocket session.
	TypeRealtimeStarted Type = "realtime.started"
	TypeRealtimeEnded   Type = "realtime.ended"
	// TypeLogFeedback is human feedback (PATCH .../logs/{id}) on one log record;
	// TypeLogsDeleted is a DELETE .../logs: the records matching its filters go.
	TypeLogFeedback Type = "log.feedback"
	TypeLogsDeleted Type = "logs.deleted"
	// TypeRouteStep is one node of a dynamic route a request went through. No longer
	// emitted (request.finished's route says the same); old logs still hold it, and
	// every reader skips it.
	TypeRouteStep Type = "route.step"
)

// Current schema versions. Removing or renaming a field needs a new version and a
// decoder for the old one: the log is kept forever.
const (
	VersionRequestStarted  = 1
	VersionRequestFinished = 1
	VersionRealtimeStarted = 1
	VersionRealtimeEnded   = 1
	VersionLogFeedback     = 1
	VersionLogsDeleted     = 1
)

// Envelope is what is written to the stream for every event.
type Envelope struct {
	Type    Type            `json:"type"`
	Version int             `json:"v"`
	ID      string          `json:"id"`
	Time    time.Time       `json:"time"`
	Data    json.RawMessage `json:"data"`
}

// RequestStarted is emitted when a data-plane request has been parsed and handed to
// its request actor, before the upstream call.
type RequestStarted struct {
	LogID        string    `json:"log_id"`
	EventID      string    `json:"event_id"`
	AccountID    string    `json:"account_id"`
	GatewayID    string    `json:"gateway_id"`
	Provider     string    `json:"provider"`
	Model        string    `json:"model,omitempty"`
	Method       string    `json:"method"`
	Path         string    `json:"path"`
	RequestType  string    `json:"request_type,omitempty"`
	RequestSize  int64     `json:"request_size"`
	RequestCType string    `json:"request_content_type,omitempty"`
	StartedAt    time.Time `json:"started_at"`
}

// Payload is a request or response body as recorded: inline when it is at most the
// inline cap — as JSON when the body is a complete JSON document (no base64 inflation),
// as base64 bytes otherwise — or else stored in the payload object store under Ref.
type Payload struct {
	JSON      json.RawMessage `json:"json,omitempty"`
	Inline    []byte          `json:"inline,omitempty"`
	Ref       string          `json:"ref,omitempty"`
	Size      int64           `json:"size"`
	Truncated bool            `json:"truncated,omitempty"`
}

// RequestFinished is emitted once the response has been fully relayed to the client
// (or the request failed). It carries everything the logs projection needs.
type RequestFinished struct {
	LogID           string    `json:"log_id"`
	EventID         string    `json:"event_id"`
	AccountID       string    `json:"account_id"`
	GatewayID       string    `json:"gateway_id"`
	Provider        string    `json:"provider"`
	Model           string    `json:"model,omitempty"`
	Method          string    `json:"method"`
	Path            string    `json:"path"`
	RequestType     string    `json:"request_type,omitempty"`
	Step            int       `json:"step"`
	Status          int       `json:"status"`
	Success         bool      `json:"success"`
	Stream          bool      `json:"stream"`
	Cached          bool      `json:"cached"`
	StartedAt       time.Time `json:"started_at"`
	DurationMs      float64   `json:"duration_ms"`
	TTFBMs          float64   `json:"ttfb_ms"`
	TokensIn        int64     `json:"tokens_in"`
	TokensOut       int64     `json:"tokens_out"`
	TokensCached    int64     `json:"tokens_cached,omitempty"`    // input tokens served from the provider's prompt cache
	TokensEstimated bool      `json:"tokens_estimated,omitempty"` // counted with a tokenizer: the provider gave no usage
	RequestSize     int64     `json:"request_size"`
	ResponseSize    int64     `json:"response_size"`
	RequestCType    string    `json:"request_content_type,omitempty"`
	ResponseCType   string    `json:"response_content_type,omitempty"`
	ErrorCode       int       `json:"error_code,omitempty"`
	ErrorMessage    string    `json:"error_message,omitempty"`
	KeyID           string    `json:"key_id,omitempty"`    // stored provider key used (BYOK): its id
	KeyAlias        string    `json:"key_alias,omitempty"` // and alias, never the key
	// Attempts lists every upstream call made, in order (retries and fallback steps).
	Attempts []AttemptSummary `json:"attempts,omitempty"`
	// Cost is the request's price in USD from its usage and the pricing table (or the
	// cf-aig-custom-cost header, then CustomCost is set); nil when the model has no known
	// price. A cache hit costs 0.
	Cost       *float64 `json:"cost,omitempty"`
	CustomCost bool     `json:"custom_cost,omitempty"`
	// Metadata is the request's cf-aig-metadata (at most five entries).
	Metadata Metadata `json:"metadata,omitempty"`
	// NoLog: the gateway or the request (cf-aig-collect-log: false) asked for no log
	// record. The event still counts in analytics, costs and spend limits.
	NoLog bool `json:"no_log,omitempty"`
	// Route is the dynamic route the request walked (model "dynamic/{name}"), nil otherwise.
	Route *RouteWalk `json:"route,omitempty"`
	// DLP is what the gateway's DLP policies found in the request and the answer, nil when
	// nothing matched (added in version 1 without a bump: older events simply lack it).
	DLP *DLPResult `json:"dlp,omitempty"`
	// Guardrails is what the gateway's guardrails (a guard model) found in the prompt and
	// the answer, nil when they are off (added in version 1 without a bump).
	Guardrails *GuardrailsResult `json:"guardrails,omitempty"`
	// TraceID (32 lowercase hex) and ParentSpanID (16) are the trace context the client
	// sent (cf-aig-otel-trace-id / -parent-span-id or a W3C traceparent), for the exported
	// span; empty when none came (added in version 1 without a bump).
	TraceID      string `json:"trace_id,omitempty"`
	ParentSpanID string `json:"parent_span_id,omitempty"`
	// BodiesLast says that nothing but the two payloads follows (the encoder writes the
	// fields in this order), so a reader that does not need the bodies stops before them
	// (Msg.Finished) instead of reading past them. Events written before it was added
	// (in version 1 without a bump: older readers ignore it) are read whole.
	BodiesLast      bool     `json:"bodies_last,omitempty"`
	RequestPayload  *Payload `json:"request_payload,omitempty"`
	ResponsePayload *Payload `json:"response_payload,omitempty"`
}

// GuardrailsResult is one request's guardrails evaluations: one per side checked, and the
// strongest action taken (BLOCK, then FLAG; "" when nothing configured was found).
type GuardrailsResult struct {
	Prompt   *GuardrailsCheck `json:"prompt,omitempty"`
	Response *GuardrailsCheck `json:"response,omitempty"`
	Action   string           `json:"action,omitempty"`
}

// GuardrailsCheck is the evaluation of one side (the prompt or the response) by the guard
// model: every category it reported, the action that applies (FLAG, BLOCK, "" none), the
// model, its latency (the wall time of the evaluation, all calls included) and the number of
// calls (one per chunk, and per segment of a streamed answer). Unavailable: the guard
// model could not answer (Error says why); the side failed closed (BLOCK) or open.
type GuardrailsCheck struct {
	Categories  []string `json:"categories,omitempty"`
	Action      string   `json:"action,omitempty"`
	Model       string   `json:"model"`
	LatencyMs   float64  `json:"latency_ms"`
	Calls       int      `json:"calls"`
	Segments    int      `json:"segments,omitempty"`
	Unavailable bool     `json:"unavailable,omitempty"`
	Error       string   `json:"error,omitempty"`
}

// DLPResult is what DLP found in one request, in the shape of the reference's cf-aig-dlp
// header: the findings and the strongest action taken (BLOCK, then REDACT, then FLAG).
type DLPResult struct {
	Findings []DLPFinding `json:"findings"`
	Action   string       `json:"action"`
}

// DLPFinding is one profile that matched on one side (check REQUEST or RESPONSE), the
// entries of it that matched and the policies that named it.
type DLPFinding struct {
	Profile   DLPProfileMatch `json:"profile"`
	PolicyIDs []string        `json:"policy_ids"`
	Check     string          `json:"check"`
}

// DLPProfileMatch names a matched profile and its matched entries. Context is always
// empty here (the reference's header carries an object).
type DLPProfileMatch struct {
	Context   struct{} `json:"context"`
	EntryIDs  []string `json:"entry_ids"`
	ProfileID string   `json:"profile_id"`
}

// RouteWalk is a request's walk through a dynamic route: the route, the deployed version
// it started on, and every node it went through, in order.
type RouteWalk struct {
	ID        string      `json:"id"`
	Name      string      `json:"name"`
	VersionID string      `json:"version_id"`
	Nodes     []RouteNode `json:"nodes"`
}

// RouteNode is one node a request went through and what happened there.
type RouteNode struct {
	ElementID string `json:"element_id"`
	Type      string `json:"type"`
	// Output is the output taken: "next", "true", "false", "10%", "else", "success",
	// "fallback"; empty at an end node and where the walk stopped.
	Output string `json:"output,omitempty"`
	// LimitKey is a rate_limit node's key value; Used the window's total after the decision.
	LimitKey string   `json:"limit_key,omitempty"`
	Used     *float64 `json:"used,omitempty"`
	// Provider and Model are a model node's; Status is its answer's status.
	Provider string `json:"provider,omitempty"`
	Model    string `json:"model,omitempty"`
	Status   int    `json:"status,omitempty"`
}

// Metadata is custom metadata: string, number (float64) and boolean values.
type Metadata map[string]any

// LogFeedback is human feedback on a log, as sent to PATCH .../logs/{id}: each field is
// set only when the call set it. Metadata entries are merged into the record's.
type LogFeedback struct {
	AccountID string   `json:"account_id"`
	GatewayID string   `json:"gateway_id"`
	LogID     string   `json:"log_id"`
	Feedback  *int     `json:"feedback,omitempty"` // -1, 0 or 1
	Score     *float64 `json:"score,omitempty"`    // 0 to 100
	Metadata  Metadata `json:"metadata,omitempty"`
}

// LogFilter is one condition of a log query in the hosted filters form: key (id,
// provider, model, cost, tokens_in, metadata.key, ...), operator (eq, neq, contains, lt,
// gt) and one or more values (any of them matches).
type LogFilter struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"value"`
}

// LogsDeleted records a DELETE .../logs call. The projection deletes, at this point of
// the log, the records of the gateway matching every filter (all when none), oldest or
// newest first as ordered, at most Limit (0: no limit).
type LogsDeleted struct {
	AccountID string      `json:"account_id"`
	GatewayID string      `json:"gateway_id"`
	Filters   []LogFilter `json:"filters,omitempty"`
	Limit     int         `json:"limit,omitempty"`
	Ascending bool        `json:"ascending,omitempty"`
}

// AttemptSummary is one upstream call as the log record keeps it.
type AttemptSummary struct {
	Step       int     `json:"step"`
	Attempt    int     `json:"attempt"` // 1-based within the step
	Provider   string  `json:"provider"`
	Model      string  `json:"model,omitempty"`
	Status     int     `json:"status,omitempty"` // 0 when no answer came (network error, timeout)
	ErrorCode  int     `json:"error_code,omitempty"`
	Error      string  `json:"error,omitempty"`
	DurationMs float64 `json:"duration_ms"`
	// Outcome is what followed: "answered" (this attempt is the response), "retry",
	// "fallback" (the next step was tried) or "failed" (nothing left to try).
	Outcome string `json:"outcome"`
	// DelayMs is the wait before the retry that followed, when Outcome is "retry".
	DelayMs int64 `json:"delay_ms,omitempty"`
	// Element is the dynamic route's model element the try was made for; its "fallback"
	// is then the route's fallback output, not the next step.
	Element string `json:"element,omitempty"`
}

// RealtimeStarted is emitted when a realtime WebSocket session to a provider is open.
type RealtimeStarted struct {
	SessionID string    `json:"session_id"`
	AccountID string    `json:"account_id"`
	GatewayID string    `json:"gateway_id"`
	Provider  string    `json:"provider"`
	Path      string    `json:"path"`
	Model     string    `json:"model,omitempty"`
	KeyID     string    `json:"key_id,omitempty"`
	StartedAt time.Time `json:"started_at"`
}

// RealtimeEnded is emitted when a realtime session closes, from either side.
type RealtimeEnded struct {
	SessionID    string    `json:"session_id"`
	AccountID    string    `json:"account_id"`
	GatewayID    string    `json:"gateway_id"`
	Provider     string    `json:"provider"`
	StartedAt    time.Time `json:"started_at"`
	EndedAt      time.Time `json:"ended_at"`
	DurationMs   float64   `json:"duration_ms"`
	FramesIn     int64     `json:"frames_in"`  // client → provider
	FramesOut    int64     `json:"frames_out"` // provider → client
	BytesIn      int64     `json:"bytes_in"`
	BytesOut     int64     `json:"bytes_out"`
	CloseCode    int       `json:"close_code,omitempty"`
	ClosedBy     string    `json:"closed_by"` // "client", "provider" or "gateway"
	ErrorMessage string    `json:"error_message,omitempty"`
}

// Encode wraps data in an envelope of the given type and version. The envelope is
// written by hand around the encoded data: re-encoding a RawMessage would validate and
// copy the whole event a second time on the hot path.
func Encode(t Type, version int, id string, at time.Time, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := AppendEncoded(&buf, json.NewEncoder(&buf), t, version, id, at, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// AppendEncoded writes the envelope Encode returns at the end of buf, data encoded by enc
// (an encoder writing to buf, so a caller that encodes many events into one buffer, as
// the batcher does, allocates no copy of each). On an error buf is left as it was.
func AppendEncoded(buf *bytes.Buffer, enc *json.Encoder, t Type, version int, id string, at time.Time, data any) error {
	start := buf.Len()
	var head [160]byte
	h := append(head[:0], `{"type":`...)
	h = appendJSONString(h, string(t))
	h = append(h, `,"v":`...)
	h = strconv.AppendInt(h, int64(version), 10)
	h = append(h, `,"id":`...)
	h = appendJSONString(h, id) // JSON quoting, not Go's: ids may hold any character
	h = append(h, `,"time":"`...)
	h = at.AppendFormat(h, time.RFC3339Nano)
	h = append(h, `","data":`...)
	buf.Write(h)
	if err := enc.Encode(data); err != nil {
		buf.Truncate(start)
		return fmt.Errorf("encode %s: %w", t, err)
	}
	buf.Truncate(buf.Len() - 1) // the encoder's trailing newline
	buf.WriteByte('}')
	return nil
}

// Decode reads an envelope. Its Data is decoded with DecodeRequestFinished and friends.
// An envelope as Encode writes it is read without a JSON decoder, its Data pointing into
// b and checked only by the decoder that reads it; anything else goes through the
// decoder.
func Decode(b []byte) (Envelope, error) {
	if e, ok := decodeEncoded(b); ok {
		return e, nil
	}
	var e Envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("decode envelope: %w", err)
	}
	return e, nil
}

// DecodeRequestFinished decodes a request.finished event of any known version.
func DecodeRequestFinished(e Envelope) (RequestFinished, error) {
	var f RequestFinished
	if e.Type != TypeRequestFinished {
		return f, fmt.Errorf("event %s is not %s", e.Type, TypeRequestFinished)
	}
	switch e.Version {
	case 1:
		err := json.Unmarshal(e.Data, &f)
		return f, err
	default:
		return f, fmt.Errorf("%s: unknown version %d", e.Type, e.Version)
	}
}

// DecodeRequestStarted decodes a request.started event of any known version.
func DecodeRequestStarted(e Envelope) (RequestStarted, error) {
	var s RequestStarted
	if e.Type != TypeRequestStarted {
		return s, fmt.Errorf("event %s is not %s", e.Type, TypeRequestStarted)
	}
	switch e.Version {
	case 1:
		err := json.Unmarshal(e.Data, &s)
		return s, err
	default:
		return s, fmt.Errorf("%s: unknown version %d", e.Type, e.Version)
	}
}

// InlinePayload records body inside the event, as JSON when it is a JSON document.
func InlinePayload(body []byte, size int64, truncated bool) *Payload {
	p := &Payload{Size: size, Truncated: truncated}
	if !truncated && mayBeJSON(body) && json.Valid(body) {
		p.JSON = body
	} else {
		p.Inline = body
	}
	return p
}

// mayBeJSON: b starts (after white space) the way a JSON document must. A streamed answer
// ("data: ..." or "event: ...") is told apart without the validator, which builds a
// formatted error for it.
func mayBeJSON(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{', '[', '"', '-', 't', 'f', 'n':
			return true
		}
		return c >= '0' && c <= '9'
	}
	return false
}

// Body returns the inline bytes, whichever form they were kept in.
func (p *Payload) Body() []byte {
	if p.JSON != nil {
		return p.JSON
	}
	return p.Inline
}

// decodeEncoded reads the exact layout Encode writes:
// {"type":"T","v":N,"id":"ID","time":"RFC3339Nano","data":DATA}, DATA being everything
// up to the closing brace. It reports false for anything else (escapes in the type or id
// included), and the caller decodes in full. An envelope with members after data, which
// Encode never writes, is read with those members in its Data, which then decodes to
// an error.
func decodeEncoded(b []byte) (Envelope, bool) {
	var e Envelope
	rest, ok := bytes.CutPrefix(b, []byte(`{"type":"`))
	if !ok {
		return e, false
	}
	i := bytes.IndexByte(rest, '"')
	if i < 0 || !plainString(rest[:i]) {
		return e, false
	}
	e.Type, rest = Type(rest[:i]), rest[i+1:]
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"v":`)); !ok {
		return e, false
	}
	n := 0
	for n < len(rest) && n < 9 && rest[n] >= '0' && rest[n] <= '9' {
		e.Version = e.Version*10 + int(rest[n]-'0')
		n++
	}
	if n == 0 {
		return e, false
	}
	if rest, ok = bytes.CutPrefix(rest[n:], []byte(`,"id":"`)); !ok {
		return e, false
	}
	i = bytes.IndexByte(rest, '"')
	if i < 0 || !plainString(rest[:i]) {
		return e, false
	}
	e.ID, rest = string(rest[:i]), rest[i+1:]
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"time":"`)); !ok {
		return e, false
	}
	i = bytes.IndexByte(rest, '"')
	if i < 0 {
		return e, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:i]))
	if err != nil {
		return e, false
	}
	e.Time = t
	if rest, ok = bytes.CutPrefix(rest[i+1:], []byte(`,"data":`)); !ok || len(rest) < 2 || rest[len(rest)-1] != '}' {
		return e, false
	}
	// Data is not validated here: each typed decoder validates what it reads, and a
	// request.finished read without its bodies (Msg.Finished) never reads them at all.
	e.Data = rest[:len(rest)-1]
	return e, true
}

// plainString: a JSON string body that reads as itself (no escapes, no control
// characters, valid UTF-8).
func plainString(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == '\\' {
			return false
		}
	}
	return utf8.Valid(b)
}
