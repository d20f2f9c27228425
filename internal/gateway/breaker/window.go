package breaker

// numBuckets splits the sliding window: counts age out one tenth of the
// window at a time, so the window slides in steps of Window/10.
const numBuckets = 10

// bucket holds the outcomes of one slice of the window.
type bucket struct {
	idx                int64 // which slice of time (now / width) it holds
	total, fails, slow int64
}

// window counts outcomes over the last numBuckets slices of time. It keeps
// running totals so that recording and checking are O(1): the latency
// quantile needs no samples at all, because "the q-quantile of latencies
// exceeds T" is the same as "more than n - ceil(q*n) requests took longer
// than T", so counting slow requests is enough. Not safe for concurrent
// use; the breaker's mutex guards it.
type window struct {
	width   int64 // nanoseconds per bucket
	head    int64 // newest bucket index seen
	buckets [numBuckets]bucket
	total   int64
	fails   int64
	slow    int64
}

func newWindow(widthNanos int64) window {
	return window{width: widthNanos}
}

// advance drops the buckets that slid out of the window by time now.
func (w *window) advance(now int64) {
	idx := now / w.width
	if idx <= w.head {
		return
	}
	if idx-w.head >= numBuckets {
		w.reset()
		w.head = idx
		return
	}
	for i := w.head + 1; i <= idx; i++ {
		b := &w.buckets[i%numBuckets]
		w.total -= b.total
		w.fails -= b.fails
		w.slow -= b.slow
		*b = bucket{idx: i}
	}
	w.head = idx
}

// add records one outcome at time now.
func (w *window) add(now int64, fail, slow bool) {
	w.advance(now)
	b := &w.buckets[w.head%numBuckets]
	if b.idx != w.head { // first use of this slot
		*b = bucket{idx: w.head}
	}
	b.total++
	w.total++
	if fail {
		b.fails++
		w.fails++
	}
	if slow {
		b.slow++
		w.slow++
	}
}

func (w *window) reset() {
	w.buckets = [numBuckets]bucket{}
	w.total, w.fails, w.slow = 0, 0, 0
}
