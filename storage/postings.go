// postings.go holds the logs projection's indexes as posting lists: for each filterable
// value of a gateway (provider, model, success, cached, feedback, request type, DLP
// action, metadata key, value and pair; the event id only when it is not of the log id's
// millisecond), the ids of its records grouped by the second of the id, gathered in
// memory and written about once a second as one Badger key per value and second. A
// request thus adds no index key of its own (it used to add seven).
//
// A posting list may hold more than its value's records: a record deleted or given other
// feedback since keeps its old entries. Every id a walk takes from a posting list is
// therefore checked on the record's facts (logfilter.go), which are always current.
package storage

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/oklog/ulid/v2"
	"github.com/switchyard/switchyard/events"
)

// PostingsProjection names the checkpoint of the posting lists: the last stream sequence
// whose ids are written. It trails the records' checkpoint by up to a second; a restart
// re-adds the ids after it.
const PostingsProjection = "logs-postings"

// postingPrefix is where a value's posting lists live; each key under it ends with the
// second (8 bytes) and the number of the flush that wrote it (8 bytes).
func postingPrefix(acct, gw, field, value string) string {
	return "p" + sep + acct + sep + gw + sep + field + sep + clean(value) + sep
}

// postingFlushEvery is the longest an id waits in memory; postingMaxIDs the most ids that
// wait before a flush.
const (
	postingFlushEvery = time.Second
	postingMaxIDs     = 16 << 10
)

// postingValues calls add with each (field, value) a record is listed under. Inserts,
// feedback and the index rebuild all use it.
func postingValues(r *LogRecord, add func(field, value string)) {
	add("provider", r.Provider)
	add("model", r.Model)
	add("success", successValue(r.Success))
	add("cached", successValue(r.Cached))
	add("feedback", strconv.Itoa(feedbackOf(r)))
	add("rtype", r.RequestType)
	if r.EventID != "" && !sameMillisecond(r.ID, r.EventID) {
		add("event", r.EventID)
	}
	if r.DLPAction != "" {
		add("dlp", r.DLPAction)
	}
	if r.Metadata != "" {
		for k, v := range parseMeta(r.Metadata) {
			addMeta(add, k, v)
		}
	}
}

// ulidMillisecond is the millisecond of an id that is a ULID.
func ulidMillisecond(id string) (int64, bool) {
	u, err := ulid.ParseStrict(id)
	if err != nil || u.Time() > math.MaxInt64 {
		return 0, false
	}
	return int64(u.Time()), true
}

// sameMillisecond: a record's log id and event id are ULIDs of one millisecond, as the
// gateway makes them. Such a record is found by its event id among the facts of that
// millisecond (eventLogIDs), so it is not listed under its event id: a posting list per
// event would be one more key per request. Records whose ids were made apart (by older
// versions, or an event id that is not a ULID) are listed.
func sameMillisecond(logID, eventID string) bool {
	a, ok := ulidMillisecond(logID)
	if !ok {
		return false
	}
	b, ok := ulidMillisecond(eventID)
	return ok && a == b
}

func addMeta(add func(field, value string), k, v string) {
	add("mk", k)
	add("mv", v)
	add("mp", k+metaPairSep+v)
}

// idSecond is the second a log id was made in (0 for an id that is not a ULID).
func idSecond(id string) uint64 {
	u, err := ulid.Parse(id)
	if err != nil {
		return 0
	}
	return u.Time() / 1000
}

// postings is the part of the posting lists not yet written, and where they stand.
type postings struct {
	mu sync.Mutex
	// pending: posting prefix + second (8 bytes) -> ids, in arrival order. A list is
	// held by pointer, so adding to a waiting one neither writes the map nor makes its key.
	pending map[string]*[]string
	ids     int
	key     []byte // addOne's buffer
	// through is the last message whose ids are all in pending or written; stored the
	// last one written with a flush.
	through, stored uint64
	flushes         uint64 // number of the last flush, stored with the checkpoint
	lastFlush       time.Time
}

func newPostings(stored, flushes uint64) *postings {
	return &postings{pending: map[string]*[]string{}, through: stored, stored: stored, flushes: flushes, lastFlush: time.Now()}
}

// add lists id under each value of rec (in its account and gateway).
func (p *postings) add(rec *LogRecord) {
	sec := idSecond(rec.ID)
	postingValues(rec, func(field, value string) { p.addOne(rec.AccountID, rec.GatewayID, field, value, rec.ID, sec) })
}

func (p *postings) addOne(acct, gw, field, value, id string, sec uint64) {
	// postingPrefix and the second, built in a reused buffer: a key already waiting
	// costs no allocation.
	b := append(p.key[:0], 'p')
	for _, part := range [...]string{acct, gw, field} {
		b = append(append(b, sep...), part...)
	}
	b = append(b, sep...)
	for i := 0; i < len(value); i++ {
		if value[i] != sep[0] {
			b = append(b, value[i])
		}
	}
	b = append(b, sep...)
	if len(b)+16 > maxIndexKey {
		return // an odd huge value: found by scanning the facts, not listed
	}
	b = binary.BigEndian.AppendUint64(b, sec)
	p.key = b
	if ids, ok := p.pending[string(b)]; ok {
		*ids = append(*ids, id)
	} else {
		p.pending[string(b)] = &[]string{id}
	}
	p.ids++
}

// addFeedback lists a record under the values a feedback event gives it; the values it
// had stay listed (the facts check drops them).
func (p *postings) addFeedback(fb events.LogFeedback) {
	sec := idSecond(fb.LogID)
	if fb.Feedback != nil {
		p.addOne(fb.AccountID, fb.GatewayID, "feedback", strconv.Itoa(*fb.Feedback), fb.LogID, sec)
	}
	for k, v := range fb.Metadata {
		addMeta(func(field, value string) { p.addOne(fb.AccountID, fb.GatewayID, field, value, fb.LogID, sec) }, k, metaString(v))
	}
}

// due: enough ids or time have gathered for a flush.
func (p *postings) due() bool {
	return p.ids >= postingMaxIDs || (p.ids > 0 && time.Since(p.lastFlush) >= postingFlushEvery)
}

// postingsMetaValue is the stored checkpoint: the sequence and the flush number.
func postingsMetaValue(seq, flush uint64) []byte {
	return binary.BigEndian.AppendUint64(u64(seq), flush)
}

// readPostingsMeta reads the stored checkpoint of the posting lists (0 when none).
func readPostingsMeta(s *Store) (seq, flush uint64, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(checkpointKey(PostingsProjection))
		if err != nil {
			if err == badger.ErrKeyNotFound {
				return nil
			}
			return err
		}
		return it.Value(func(v []byte) error {
			if len(v) == 16 {
				seq, flush = binary.BigEndian.Uint64(v[:8]), binary.BigEndian.Uint64(v[8:])
			}
			return nil
		})
	})
	return seq, flush, err
}

// flush writes the pending ids, one key per value and second, sorted, through a, and the
// checkpoint of the posting lists (the last whole message) with them.
func (p *postings) flush(a *applier) error {
	if p.ids == 0 && p.through == p.stored {
		return nil
	}
	n := p.flushes + 1
	keys := make([]string, 0, len(p.pending))
	for k := range p.pending {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ids := *p.pending[k]
		if !slices.IsSorted(ids) { // they mostly come in order: ids are made in time order
			slices.Sort(ids)
		}
		ids = slices.Compact(ids)
		v := appendPosting(make([]byte, 0, 12*len(ids)+8), ids)
		if err := a.set(binary.BigEndian.AppendUint64([]byte(k), n), v); err != nil {
			return err
		}
	}
	if err := a.set(checkpointKey(PostingsProjection), postingsMetaValue(p.through, n)); err != nil {
		return err
	}
	clear(p.pending)
	p.ids, p.flushes, p.stored, p.lastFlush = 0, n, p.through, time.Now()
	return nil
}

// postingCompact marks a posting list written as appendPosting writes it. Lists written
// before it (each id as its length, a uvarint, and its bytes) never start with a zero byte:
// no listed id is empty.
const postingCompact = 0x00

// In a compact list each id starts with a byte k: k <= 16 is a ULID in its 16 binary
// bytes, of which the first k are the previous ULID's and the other 16-k follow (ids are
// sorted, and those of one second share their first 4 to 6 bytes, the time); postingRaw
// is an id that is not a ULID as the gateway writes them, its length (uvarint) and bytes.
const postingRaw = 0xff

// appendPosting appends the stored form of a posting list of sorted ids: about 12 bytes
// per id made by the gateway, against 27 written whole.
func appendPosting(v []byte, ids []string) []byte {
	v = append(v, postingCompact)
	var prev ulid.ULID
	var text [ulid.EncodedSize]byte
	for _, id := range ids {
		u, err := ulid.ParseStrict(id)
		if err == nil {
			err = u.MarshalTextTo(text[:])
		}
		if err != nil || string(text[:]) != id { // lower case, or not a ULID: kept as it is
			v = append(v, postingRaw)
			v = binary.AppendUvarint(v, uint64(len(id)))
			v = append(v, id...)
			continue
		}
		k := 0
		for k < len(u) && u[k] == prev[k] {
			k++
		}
		v = append(v, byte(k))
		v = append(v, u[k:]...)
		prev = u
	}
	return v
}

// decodePosting calls fn with each id of a stored posting list, compact or written
// before; it stops at the first damaged entry.
func decodePosting(v []byte, fn func(id string)) {
	compact := len(v) > 0 && v[0] == postingCompact
	if compact {
		v = v[1:]
	}
	var prev ulid.ULID
	for len(v) > 0 {
		if compact && v[0] != postingRaw { // a ULID, sharing its first k bytes with prev
			k := int(v[0])
			v = v[1:]
			if k > len(prev) || len(v) < len(prev)-k {
				return
			}
			copy(prev[k:], v[:len(prev)-k])
			v = v[len(prev)-k:]
			fn(prev.String())
			continue
		}
		if compact {
			v = v[1:] // postingRaw
		}
		id, rest, ok := cutPrefixed(v) // every id of a list written before
		if !ok {
			return
		}
		fn(string(id))
		v = rest
	}
}

// postingIter walks the ids of one posting prefix that fall in [lo, hi], in walk order,
// each once: a second's lists are read together, merged and sorted.
type postingIter struct {
	it            *badger.Iterator
	pre           []byte
	asc           bool
	lo, hi        string
	loSec, hiSec  uint64
	ids           []string // the loaded second's, in walk order
	i             int
	sec           uint64 // the loaded second
	loaded, ended bool
}

func newPostingIter(txn *badger.Txn, pre string, asc bool, lo, hi string) *postingIter {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Reverse = !asc
	opts.Prefix = []byte(pre)
	p := &postingIter{it: txn.NewIterator(opts), pre: []byte(pre), asc: asc, lo: lo, hi: hi,
		loSec: idSecond(lo), hiSec: math.MaxUint64}
	if _, err := ulid.Parse(hi); err == nil {
		p.hiSec = idSecond(hi)
	}
	if asc {
		p.seek(p.loSec)
	} else {
		p.seek(p.hiSec)
	}
	return p
}

func (p *postingIter) close() { p.it.Close() }

// seek puts the iterator on the first list of second sec in walk order.
func (p *postingIter) seek(sec uint64) {
	k := binary.BigEndian.AppendUint64(slices.Clip(p.pre), sec)
	if !p.asc {
		k = binary.BigEndian.AppendUint64(k, math.MaxUint64)
	}
	p.it.Seek(k)
}

// load reads the next second holding ids in range; false at the end of the range.
func (p *postingIter) load() bool {
	p.ids, p.i, p.loaded = p.ids[:0], 0, false
	for len(p.ids) == 0 {
		if !p.it.Valid() {
			p.ended = true
			return false
		}
		key := p.it.Item().Key()
		if len(key) != len(p.pre)+16 {
			p.it.Next()
			continue
		}
		sec := binary.BigEndian.Uint64(key[len(p.pre):])
		if (p.asc && sec > p.hiSec) || (!p.asc && sec < p.loSec) {
			p.ended = true
			return false
		}
		for ; p.it.Valid(); p.it.Next() {
			k := p.it.Item().Key()
			if len(k) != len(p.pre)+16 || binary.BigEndian.Uint64(k[len(p.pre):]) != sec {
				break
			}
			err := p.it.Item().Value(func(v []byte) error {
				decodePosting(v, func(id string) {
					if id >= p.lo && id <= p.hi {
						p.ids = append(p.ids, id)
					}
				})
				return nil
			})
			if err != nil {
				p.ended = true
				return false
			}
		}
		slices.Sort(p.ids)
		p.ids = slices.Compact(p.ids)
		if !p.asc {
			slices.Reverse(p.ids)
		}
		p.sec = sec
	}
	p.loaded = true
	return true
}

// next is the next id in walk order.
func (p *postingIter) next() (string, bool) {
	if p.i >= len(p.ids) && (p.ended || !p.load()) {
		return "", false
	}
	p.i++
	return p.ids[p.i-1], true
}

// has reports whether the list holds id; ids are asked in walk order, so the walk only
// moves forward, seeking over the seconds between two ids rather than reading them.
func (p *postingIter) has(id string) bool {
	ts := idSecond(id)
	behind := func() bool { return !p.loaded || (p.asc && ts > p.sec) || (!p.asc && ts < p.sec) }
	// A few steps first (the next second with ids is often the one asked), then a seek.
	for steps := 0; behind() && steps < 4 && p.loaded && !p.ended; steps++ {
		p.load()
	}
	if behind() {
		if p.ended {
			return false
		}
		p.seek(ts)
		if !p.load() {
			return false
		}
	}
	if p.sec != ts {
		return false
	}
	for ; p.i < len(p.ids); p.i++ {
		cur := p.ids[p.i]
		if cur == id {
			return true
		}
		if (p.asc && cur > id) || (!p.asc && cur < id) {
			return false
		}
	}
	return false
}
