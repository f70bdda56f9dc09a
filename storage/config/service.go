// service.go is the command side of the configuration: each control-plane write is
// validated against the current snapshot, appended as one config.changed event (with
// optimistic concurrency on the stream sequence) and answered only once the projection has
// applied it, so the writer and the next data-plane request read their write.
package config

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	json "github.com/goccy/go-json"
	"github.com/oklog/ulid/v2"
	"github.com/switchyard/switchyard/events"
)

// Publisher is the part of the event log the service writes to (events.Bus).
type Publisher interface {
	PublishConfig(ctx context.Context, c events.ConfigChanged, id string, at time.Time, expectLast uint64) (uint64, error)
	ConfigLastSeq(ctx context.Context) (uint64, error)
	PutSecret(ctx context.Context, name string, sealed []byte) error
	DeleteSecret(ctx context.Context, name string) error
}

// Error is a refused write or a missing resource, in the hosted error shape: a code, a
// message and the path of the field at fault (["body","slug"], ["path","gateway_id"]).
type Error struct {
	Status  int
	Code    int
	Message string
	Path    []string
}

func (e *Error) Error() string { return e.Message }

// Control-plane error codes. 1002–1004 are the hosted custom-provider codes; the 7xxx are ours.
const (
	CodeInvalidBaseURL  = 1002
	CodeDuplicateSlug   = 1003
	CodeCustomNotFound  = 1004
	CodeNotFound        = 7003
	CodeInvalid         = 7400
	CodeConflict        = 7409
	CodeWriteFailed     = 7500
	maxSecretLen        = 8 << 10
	conflictRetries     = 8
	defaultKeyAlias     = "default"
	tokenPrefix         = "syt_"
	gatewayCacheTTLMax  = 30 * 24 * 3600
	retryMaxAttemptsMax = 5
	retryDelayMaxMs     = 5000
)

func invalid(msg string, path ...string) *Error {
	return &Error{Status: 400, Code: CodeInvalid, Message: msg, Path: path}
}

func notFound(what string, path ...string) *Error {
	return &Error{Status: 404, Code: CodeNotFound, Message: what + " not found", Path: path}
}

// Service performs control-plane writes.
type Service struct {
	bus    Publisher
	proj   *Projection
	sealer *Sealer
	// CheckBaseURL vets a custom provider's base_url (scheme, SSRF); nil accepts any https URL.
	CheckBaseURL func(string) error
	// KnownProvider says whether a provider slug exists (built in, or custom-{slug} of acct).
	KnownProvider func(acct, slug string) bool
	// CheckSecret vets a provider key's secret for its provider and answers it as stored
	// (a Vertex service account JSON on one line); nil stores secrets as sent.
	CheckSecret func(slug, secret string) (string, error)
	// KnownDLPProfile says whether a DLP profile id exists for acct (predefined or the
	// account's custom profile); nil accepts any id.
	KnownDLPProfile func(acct, id string) bool
	// Now is the clock (tests inject one).
	Now func() time.Time
	// Replicated, when set, waits after each write until the other nodes of a cluster
	// have applied it (events.Nodes), so the answer means "visible on every node".
	Replicated func(ctx context.Context, seq uint64)

	mu sync.Mutex // one write at a time on this node; other nodes are fenced by the sequence
}

// NewService builds the command side over a bus and the projection it feeds.
func NewService(bus Publisher, proj *Projection, sealer *Sealer) *Service {
	return &Service{bus: bus, proj: proj, sealer: sealer, Now: time.Now}
}

// Projection is the projection the service waits on.
func (s *Service) Projection() *Projection { return s.proj }

// change is what a write produced: the event, and the value to answer with.
type change struct {
	ev     events.ConfigChanged
	result any
	after  func() // runs once the event is applied
}

// write validates with fn against the current snapshot and appends its event, retrying when
// another writer appended first; it returns once the projection has applied the event.
func (s *Service) write(ctx context.Context, actor events.Actor, fn func(*Snapshot) (*change, error)) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for attempt := 0; ; attempt++ {
		snap := s.proj.Current()
		ch, err := fn(snap)
		if err != nil {
			return nil, err
		}
		ch.ev.Actor = actor
		seq, err := s.bus.PublishConfig(ctx, ch.ev, ulid.Make().String(), s.Now().UTC(), snap.Seq)
		if errors.Is(err, events.ErrConflict) && attempt < conflictRetries {
			last, lerr := s.bus.ConfigLastSeq(ctx)
			if lerr != nil {
				return nil, writeFailed(lerr)
			}
			if werr := s.proj.WaitFor(ctx, last); werr != nil {
				return nil, writeFailed(werr)
			}
			continue
		}
		if err != nil {
			return nil, writeFailed(err)
		}
		if err := s.proj.WaitFor(ctx, seq); err != nil {
			return nil, writeFailed(err)
		}
		if s.Replicated != nil {
			s.Replicated(ctx, seq)
		}
		if ch.after != nil {
			ch.after()
		}
		return ch.result, nil
	}
}

func writeFailed(err error) *Error {
	return &Error{Status: 500, Code: CodeWriteFailed, Message: "configuration write failed: " + err.Error()}
}

func mustJSON(v any) []byte {
	if v == nil {
		return []byte("null")
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // our own types always encode
	}
	return b
}

// decode reads a JSON object body into v (fields already set are kept when absent), naming
// the field at fault when a value has the wrong type.
func decode(body []byte, v any) *Error {
	if len(strings.TrimSpace(string(body))) == 0 {
		return invalid("request body must be a JSON object", "body")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return invalid(fmt.Sprintf("%s must be of type %s", te.Field, te.Type), append([]string{"body"}, strings.Split(te.Field, ".")...)...)
		}
		return invalid("request body is not valid JSON: "+err.Error(), "body")
	}
	return nil
}

// ValidID reports whether s is 1–64 letters, digits, '-' or '_' (gateway, account and alias ids).
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validSlug: lowercase letters, digits and inner hyphens, 1–64 characters.
func validSlug(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
