// limitwindows.go is the cluster's shared store of limiter windows: one message per limiter
// on its own subject of a replicated stream, read from the stream's leader and replaced only
// if nobody replaced it since it was read (JetStream's expected-last-subject-sequence). The
// limiter actors of every node decide against it, so a limit admits exactly its count across
// the cluster (see actors/limiter.go).
package events

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Limit windows stream: the newest window of each limiter, one subject per limiter.
const (
	LimitsStream        = "SWITCHYARD_LIMITS"
	LimitsSubjectPrefix = "switchyard.limits."
)

// ErrWindowMoved is returned by LimitWindows.Put when another writer replaced the window
// since the revision given: read it again and decide again.
var ErrWindowMoved = errors.New("limit window changed concurrently")

// LimitWindows reads and replaces limiter windows in the shared stream.
type LimitWindows struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

// LimitWindows opens (creating when needed) the shared store of limiter windows. Reads go
// to the stream's leader (no direct gets from followers, which may lag), so a window read
// is never older than the last one acknowledged.
func (b *Bus) LimitWindows(ctx context.Context) (*LimitWindows, error) {
	var s jetstream.Stream
	err := b.retrying(ctx, "limit windows", func(ctx context.Context) (err error) {
		s, err = b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:              LimitsStream,
			Description:       "Switchyard limiter windows shared by the nodes of a cluster; the newest per limiter",
			Subjects:          []string{LimitsSubjectPrefix + ">"},
			Storage:           jetstream.FileStorage,
			Retention:         jetstream.LimitsPolicy,
			MaxMsgsPerSubject: 1,
			Discard:           jetstream.DiscardOld,
			AllowDirect:       false,
			Replicas:          b.replicas,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", LimitsStream, err)
	}
	return &LimitWindows{js: b.js, stream: s}, nil
}

// limitSubject is a limiter's subject: its id hashed, since ids hold arbitrary key values.
func limitSubject(limiterID string) string {
	h := sha256.Sum256([]byte(limiterID))
	return LimitsSubjectPrefix + hex.EncodeToString(h[:16])
}

// Get returns a limiter's window and its revision; no data and revision 0 when the
// cluster has none yet.
func (w *LimitWindows) Get(ctx context.Context, limiterID string) ([]byte, uint64, error) {
	m, err := w.stream.GetLastMsgForSubject(ctx, limitSubject(limiterID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	return m.Data, m.Sequence, nil
}

// Put replaces a limiter's window if its revision is still rev (0: there is none yet) and
// returns the new revision; ErrWindowMoved when another writer came first.
func (w *LimitWindows) Put(ctx context.Context, limiterID string, data []byte, rev uint64) (uint64, error) {
	ack, err := w.js.Publish(ctx, limitSubject(limiterID), data, jetstream.WithExpectLastSequencePerSubject(rev))
	if err != nil {
		if isWrongLastSeq(err) {
			return 0, ErrWindowMoved
		}
		return 0, err
	}
	return ack.Sequence, nil
}

// isWrongLastSeq reports a publish refused because the stream (or subject) moved past the
// expected sequence: a compare-and-set lost to another writer. Replicated streams answer
// with a code of their own.
func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
