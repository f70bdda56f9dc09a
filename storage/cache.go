// cache.go is the response cache's store: encoded entries (engine/cache) in Badger under
// their key with a TTL, so expired answers vanish on their own and compaction reclaims
// them. It is not a projection: a cache is a copy of answers, not state of record.
package storage

import (
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Cache is the response cache over a Store.
type Cache struct{ s *Store }

// NewCache opens the cache in the store.
func NewCache(s *Store) *Cache { return &Cache{s: s} }

func cacheEntryKey(key string) []byte { return []byte("k\x00" + key) }

// Get reads an entry; nil when absent or expired.
func (c *Cache) Get(key string) ([]byte, error) {
	var v []byte
	err := c.s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(cacheEntryKey(key))
		if err != nil {
			return err
		}
		v, err = it.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	return v, err
}

// Put stores an entry for ttl.
func (c *Cache) Put(key string, value []byte, ttl time.Duration) error {
	return c.s.db.Update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry(cacheEntryKey(key), value).WithTTL(ttl))
	})
}
