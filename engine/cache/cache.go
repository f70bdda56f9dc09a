// Package cache is the request side of the response cache: the per-request policy read
// from the cf-aig-* cache headers, the exact-match key (gateway, provider, path, the
// headers that change the answer and the body in a canonical form), the stored entry's
// format, and the coalescing of identical requests in flight. The entries themselves live
// in Badger with a TTL (storage.Cache implements Store).
package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits of the reference: a TTL from 60 s to one month; a custom key with no TTL on a
// gateway without caching caches for 5 minutes. MaxEntry is the largest answer kept.
const (
	MinTTL       = 60 * time.Second
	MaxTTL       = 30 * 24 * time.Hour
	CustomKeyTTL = 5 * time.Minute
	MaxEntry     = 25 << 20
)

// Status header values.
const (
	Hit  = "HIT"
	Miss = "MISS"
)

// Policy is what one request asks of the cache. A zero TTL means no caching.
type Policy struct {
	TTL  time.Duration
	Skip bool   // cf-aig-skip-cache: do not answer from the cache (a fresh answer is stored)
	Key  string // cf-aig-cache-key: replaces the computed key
	// Gen scopes the keys to one version of the gateway's settings when the gateway has
	// cache_invalidate_on_update: a settings change moves every key, emptying the cache.
	Gen string
}

// ReadPolicy builds a request's policy from its headers (get reads one) over the
// gateway's cache_ttl (seconds, nil or 0: off). A TTL header of 0 turns caching off for
// the request, as the reference's universal example does for one provider. A malformed or
// out-of-range header is an error whose message names it.
func ReadPolicy(get func(string) string, gatewayTTL *int64) (*Policy, error) {
	p := &Policy{}
	if gatewayTTL != nil && *gatewayTTL > 0 {
		p.TTL = time.Duration(*gatewayTTL) * time.Second
	}
	off := false
	for _, name := range []string{"cf-aig-cache-ttl", "cf-cache-ttl"} {
		v := strings.TrimSpace(get(name))
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		ttl := time.Duration(n) * time.Second
		if err != nil || (n != 0 && (ttl < MinTTL || ttl > MaxTTL)) {
			return nil, fmt.Errorf("%s must be 0 (no caching) or a whole number of seconds from 60 to 2592000 (one month), got %q", name, v)
		}
		p.TTL, off = ttl, n == 0
		break
	}
	for _, name := range []string{"cf-aig-skip-cache", "cf-skip-cache"} {
		v := strings.TrimSpace(get(name))
		if v == "" {
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%s must be true or false, got %q", name, v)
		}
		p.Skip = b
		break
	}
	if k := get("cf-aig-cache-key"); k != "" {
		if len(k) > 1024 {
			return nil, errors.New("cf-aig-cache-key is longer than 1024 bytes")
		}
		p.Key = k
		if p.TTL == 0 && !off {
			p.TTL = CustomKeyTTL
		}
	}
	if p.TTL == 0 {
		return nil, nil
	}
	return p, nil
}

// VaryHeaders are the request headers that change a provider's answer to the same body,
// so they are part of the key. Credentials are not: a gateway's cache is shared by its
// callers, as on the hosted gateway.
var VaryHeaders = []string{"anthropic-version", "anthropic-beta", "openai-beta",
	"openai-organization", "openai-project", "x-goog-api-version"}

// KeyInput is what the computed key covers.
type KeyInput struct {
	AccountID, GatewayID string
	Provider             string // the provider slug
	Method               string
	Path                 string // path after the provider, with the compat marker for unified calls
	Query                string
	Header               func(string) string // the request's headers (VaryHeaders are read)
	Body                 []byte
}

// Key is the entry's key: a hash of the policy's custom key or of the request.
func Key(p *Policy, in KeyInput) string {
	h := sha256.New()
	field := func(s string) {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	field(p.Gen)
	if p.Key != "" {
		field("custom")
		field(p.Key)
	} else {
		field(in.Provider)
		field(in.Method)
		field(in.Path)
		field(in.Query)
		for _, name := range VaryHeaders {
			v := ""
			if in.Header != nil {
				v = strings.TrimSpace(in.Header(name))
			}
			field(v)
		}
		field(string(Canonical(in.Body)))
	}
	return Prefix(in.AccountID, in.GatewayID) + hex.EncodeToString(h.Sum(nil))
}

// Prefix is the start of every key of one gateway.
func Prefix(acct, gw string) string { return acct + "/" + gw + "/" }

// Canonical is a JSON body with its object keys sorted and insignificant space removed,
// so {"b":1, "a":2} and {"a":2,"b":1} share an entry. Numbers keep their text. Anything
// that is not JSON is used as sent.
func Canonical(body []byte) []byte {
	t := bytes.TrimSpace(body)
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return body
	}
	d := json.NewDecoder(bytes.NewReader(t))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return body
	}
	out, err := json.Marshal(v) // encoding/json sorts map keys
	if err != nil {
		return body
	}
	return out
}

// Entry is one cached answer, replayed as it was sent: status, headers, body (an event
// stream is replayed as the same bytes) and the token counts of the original call.
type Entry struct {
	Status       int         `json:"status"`
	ContentType  string      `json:"content_type"`
	Header       [][2]string `json:"header,omitempty"`
	Stream       bool        `json:"stream,omitempty"`
	Model        string      `json:"model,omitempty"`
	TokensIn     int64       `json:"tokens_in,omitempty"`
	TokensOut    int64       `json:"tokens_out,omitempty"`
	TokensCached int64       `json:"tokens_cached,omitempty"`
	StoredAt     time.Time   `json:"stored_at"`
	Body         []byte      `json:"-"`
}

// Encode is the stored form: the length of the JSON head, the head, then the body raw.
func (e *Entry) Encode() ([]byte, error) {
	head, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, binary.MaxVarintLen64+len(head)+len(e.Body))
	out = binary.AppendUvarint(out, uint64(len(head)))
	out = append(out, head...)
	return append(out, e.Body...), nil
}

// Decode reads an entry written by Encode. The body is copied out of b.
func Decode(b []byte) (*Entry, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return nil, errors.New("cache entry: bad head length")
	}
	e := &Entry{}
	if err := json.Unmarshal(b[w:w+int(n)], e); err != nil {
		return nil, fmt.Errorf("cache entry: %w", err)
	}
	e.Body = append([]byte(nil), b[w+int(n):]...)
	return e, nil
}

// Store keeps encoded entries with a TTL (storage.Cache, in Badger).
type Store interface {
	Get(key string) ([]byte, error) // nil, nil when absent or expired
	Put(key string, value []byte, ttl time.Duration) error
}
