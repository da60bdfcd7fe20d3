package keys

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"sync"
)

// SearchAlertKeys is the purpose of the key of alerts' lookup hashes (its
// id in search_keys): the keyed hashes of dedup keys and group keys.
const SearchAlertKeys = "alert_key"

// Lookup hash domains: what a hash is of, so that equal text in two roles
// never hashes alike.
const (
	// LookupDedupKey is an alert's dedup key (alerts.dedup_hash).
	LookupDedupKey = "dedup"
	// LookupGroupKey is an alert group's key (alert_groups.group_hash).
	LookupGroupKey = "group"
)

// lookupHasher makes HMAC-SHA-256 hashes under one key. An HMAC keeps its
// keyed state after Reset, so a pool of them spares the key schedule on
// every hash (on intake's hot path: one per alert, one per word of the
// title of each incident an alert opens).
type lookupHasher struct {
	pool sync.Pool
}

func newLookupHasher(key []byte) *lookupHasher {
	return &lookupHasher{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// LookupHash returns the keyed hash by which a value that is stored
// sealed is found by equality: the HMAC-SHA-256, under the alert lookup
// key (random, stored sealed: search_keys), of domain, scope (the service
// the value belongs to) and value, truncated to 128 bits and base64. Equal
// values of the same domain and scope hash alike; without the key the hash
// reveals nothing of the value, nor whether two services share one.
func (k *Keyring) LookupHash(domain, scope, value string) string {
	m := k.lookup.pool.Get().(hash.Hash)
	m.Reset()
	var buf [64]byte
	b := append(buf[:0], domain...)
	b = append(b, 0)
	b = append(b, scope...)
	b = append(b, 0)
	m.Write(b)
	m.Write([]byte(value))
	var sum [sha256.Size]byte
	out := base64.RawStdEncoding.EncodeToString(m.Sum(sum[:0])[:tokenSize])
	k.lookup.pool.Put(m)
	return out
}
