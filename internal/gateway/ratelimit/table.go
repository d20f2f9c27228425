package ratelimit

import (
	"hash/maphash"
	"sync"
)

// numShards splits a table so that requests for different keys rarely
// wait on the same mutex.
const numShards = 64

// evictSample is how many buckets a full shard looks at to pick the one to
// drop: the least recently used of a random sample, as Redis does, instead
// of keeping an LRU list on the hot path.
const evictSample = 8

// bucket is a token bucket refilled lazily: tokens as of last.
type bucket struct {
	tokens float64
	last   int64 // clock nanos
}

// table holds the buckets of one kind of key, sharded, bounded in size.
type table[K comparable] struct {
	seed     maphash.Seed
	hash     func(maphash.Seed, K) uint64
	perShard int
	shards   [numShards]shard[K]
}

type shard[K comparable] struct {
	mu sync.Mutex
	m  map[K]bucket
	_  [48]byte // keep shards on separate cache lines
}

func newTable[K comparable](maxKeys int, hash func(maphash.Seed, K) uint64) *table[K] {
	t := &table[K]{seed: maphash.MakeSeed(), hash: hash, perShard: max(1, (maxKeys+numShards-1)/numShards)}
	for i := range t.shards {
		t.shards[i].m = make(map[K]bucket)
	}
	return t
}

// limits are the parameters a take needs.
type limits struct {
	perNano float64 // tokens per nanosecond
	burst   float64
}

// take spends a token of k's bucket at time now if it has one. It returns
// whether it did, the tokens left, and (when it did not) how long until a
// token is there.
func (t *table[K]) take(k K, now int64, l limits) (ok bool, left float64, wait int64) {
	s := &t.shards[t.hash(t.seed, k)%numShards]
	s.mu.Lock()
	b, found := s.m[k]
	if !found {
		if len(s.m) >= t.perShard {
			s.evictOne()
		}
		// A new key starts full: a missing bucket and a full one are the
		// same thing, which is what makes evicting idle buckets lossless.
		b = bucket{tokens: l.burst, last: now}
	} else if now > b.last {
		b.tokens = min(l.burst, b.tokens+float64(now-b.last)*l.perNano)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		ok = true
	} else {
		wait = int64((1 - b.tokens) / l.perNano)
	}
	s.m[k] = b
	s.mu.Unlock()
	return ok, b.tokens, wait
}

// evictOne drops the least recently used of a few buckets. Called with the
// shard locked when it is full: a flood of new keys costs the flood's own
// oldest entries, not the memory of the gateway.
func (s *shard[K]) evictOne() {
	var victim K
	oldest, n := int64(0), 0
	for k, b := range s.m { // map iteration starts at a random place
		if n == 0 || b.last < oldest {
			victim, oldest = k, b.last
		}
		if n++; n == evictSample {
			break
		}
	}
	if n > 0 {
		delete(s.m, victim)
	}
}

// sweep drops buckets idle for at least idle nanoseconds: they are full
// again, so forgetting them changes nothing.
func (t *table[K]) sweep(now, idle int64) (dropped int) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, b := range s.m {
			if now-b.last >= idle {
				delete(s.m, k)
				dropped++
			}
		}
		s.mu.Unlock()
	}
	return dropped
}

func (t *table[K]) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
