package micro

import (
	"encoding/binary"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// recordSize is the payload every benchmark moves: one cache line.
const recordSize = 64

// slots is the capacity of every bounded transport: ring slots, channel
// buffer, diode buckets.
const slots = 1024

// poolSize is the number of records in each producer's pool, a power of two.
// A producer refills a record only after the consumer has released it (see
// pool.acquire), so the pool bounds the records a producer has in flight,
// whatever the transport does.
const poolSize = 2 * slots

// ownerShift places the producer's index in the high bits of a record's first
// word, above its sequence number, so the consumer can release a record to its
// pool from the bytes it touches anyway.
const ownerShift = 48

// batch is the most records a batched transport carries in one element: 4 KiB
// of 64-byte records.
const batch = 64

// cacheLine separates fields that different cores write.
const cacheLine = 128

// record is one pooled 64-byte buffer. Transports carry *record.
type record struct {
	buf [recordSize]byte
}

// pool is one producer's preallocated records, handed out round robin and
// released by the consumer in the order it receives them.
type pool struct {
	// Owned by the producer.
	recs  []record
	owner uint64
	next  uint64 // records filled so far
	freed uint64 // the producer's last load of released
	_     [cacheLine]byte

	// released counts the records the consumer has finished reading. Written
	// only by the consumer, after it reads a record's bytes; loaded by the
	// producer when it runs out of credit, so that a refill happens after
	// the read of the record's previous contents.
	released atomic.Uint64
	_        [cacheLine]byte
}

func newPool(owner int) *pool {
	return &pool{recs: make([]record, poolSize), owner: uint64(owner)}
}

// acquire waits until the consumer has released the record that fill will
// reuse. It costs a comparison except once per poolSize records, or while the
// consumer lags by a whole pool.
func (p *pool) acquire() {
	for p.next-p.freed >= poolSize {
		if p.freed = p.released.Load(); p.next-p.freed >= poolSize {
			runtime.Gosched()
		}
	}
}

// fill copies payload into the next record, stamps the owner and seq into its
// first word and returns it. With acquire before it, this is the per-record
// work of every producer.
func (p *pool) fill(payload *[recordSize]byte, seq uint64) *record {
	r := &p.recs[p.next&(poolSize-1)]
	p.next++
	r.buf = *payload
	binary.LittleEndian.PutUint64(r.buf[:8], p.owner<<ownerShift|seq)
	return r
}

// fillRun waits for credit for k records (k <= batch), fills them as fill
// does with sequence numbers from seq on, and returns them: consecutive
// records of the pool, since runs start at multiples of batch, which divides
// poolSize, and only the last run of a producer may be short.
func (p *pool) fillRun(payload *[recordSize]byte, seq, k uint64) []record {
	for p.next+k-p.freed > poolSize {
		if p.freed = p.released.Load(); p.next+k-p.freed > poolSize {
			runtime.Gosched()
		}
	}
	start := p.next & (poolSize - 1)
	run := p.recs[start : start+k]
	for i := range run {
		run[i].buf = *payload
		binary.LittleEndian.PutUint64(run[i].buf[:8], p.owner<<ownerShift|(seq+uint64(i)))
	}
	p.next += k
	return run
}

// touch reads every word of r and returns their sum.
func touch(r *record) uint64 {
	var s uint64
	for i := 0; i < recordSize; i += 8 {
		s += binary.LittleEndian.Uint64(r.buf[i:])
	}
	return s
}

// consumer is the receiving side's per-record work, the same for every
// transport: touch the record's bytes, then release it to its pool.
type consumer struct {
	pools     []*pool
	released  []uint64 // per pool; the consumer's copy of pool.released
	sum       uint64
	delivered int
}

func newConsumer(pools []*pool) *consumer {
	return &consumer{pools: pools, released: make([]uint64, len(pools))}
}

// take touches r and releases it.
func (c *consumer) take(r *record) {
	c.sum += touch(r)
	o := binary.LittleEndian.Uint64(r.buf[:8]) >> ownerShift
	c.released[o]++
	c.pools[o].released.Store(c.released[o])
	c.delivered++
}

// takeRun touches every record of run, which all come from one pool, and
// releases them with one store.
func (c *consumer) takeRun(run []record) {
	for i := range run {
		c.sum += touch(&run[i])
	}
	o := binary.LittleEndian.Uint64(run[0].buf[:8]) >> ownerShift
	c.released[o] += uint64(len(run))
	c.pools[o].released.Store(c.released[o])
	c.delivered += len(run)
}

// newHist returns a histogram of nanoseconds from 1ns to 10s, to three
// significant digits.
func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(10*time.Second), 3)
}

// recordNs adds d to h, clamped into its range so that an outlier (a
// descheduled thread) is counted rather than lost.
func recordNs(h *hdrhistogram.Histogram, d int64) {
	_ = h.RecordValue(min(max(d, 1), h.HighestTrackableValue()))
}

// reportLatency reports h's median and 99th percentile, and its mean, as
// benchmark metrics.
func reportLatency(b *testing.B, h *hdrhistogram.Histogram) {
	if h.TotalCount() == 0 {
		return
	}
	b.ReportMetric(float64(h.ValueAtQuantile(50)), "p50-ns")
	b.ReportMetric(float64(h.ValueAtQuantile(99)), "p99-ns")
	b.ReportMetric(h.Mean(), "mean-ns")
}
