// cache.go is the response cache the nodes of a cluster share: a key-value bucket of
// encoded answers (replicated like the log), read on a node's miss and written after its
// own store (engine/cache.Tiered), so an answer cached by one node is a hit on another.
package events

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

const (
	// CacheBucket holds the shared answers.
	CacheBucket = "switchyard-cache"
	// cacheBucketAge is how long the bucket keeps an entry: the longest cache TTL a
	// gateway may set (30 days); each entry carries its own expiry.
	cacheBucketAge = 30 * 24 * time.Hour
	// sharedCacheMax is the largest entry shared (a message must fit NATS's max payload);
	// larger answers stay cached on the node that got them.
	sharedCacheMax = 768 << 10
	// cacheOpTimeout bounds one read or write.
	cacheOpTimeout = 2 * time.Second
)

// SharedCache is the cluster's response cache (an engine/cache.Store).
type SharedCache struct{ kv jetstream.KeyValue }

// SharedCache opens (creating when needed) the shared response cache.
func (b *Bus) SharedCache(ctx context.Context) (*SharedCache, error) {
	var kv jetstream.KeyValue
	err := b.retrying(ctx, "shared cache", func(ctx context.Context) (err error) {
		kv, err = b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      CacheBucket,
			Description: "response cache shared by the nodes of a cluster",
			Storage:     jetstream.FileStorage,
			TTL:         cacheBucketAge,
			History:     1,
			Replicas:    b.replicas,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", CacheBucket, err)
	}
	return &SharedCache{kv: kv}, nil
}

// cacheKey hashes a cache key into the bucket's key alphabet.
func cacheKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// Get reads an entry; nil when there is none.
func (c *SharedCache) Get(key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cacheOpTimeout)
	defer cancel()
	e, err := c.kv.Get(ctx, cacheKey(key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return e.Value(), nil
}

// Put stores an entry (its expiry is inside it; the bucket keeps it at most 30 days).
// Entries too large to share are not stored.
func (c *SharedCache) Put(key string, value []byte, _ time.Duration) error {
	if len(value) > sharedCacheMax {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cacheOpTimeout)
	defer cancel()
	_, err := c.kv.Put(ctx, cacheKey(key), value)
	return err
}
