package slab_test

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zcomm-go/zcomm/slab"
)

// Messages in TestConcurrentRelease: an 8-byte sequence number, a 4-byte
// payload length, and the payload, fill's pattern for the sequence number.
const seqHeader = 12

// checkMessages parses a view written by TestConcurrentRelease and marks each
// message's sequence number in seen, reporting any byte out of place and any
// message seen twice.
func checkMessages(t *testing.T, b []byte, seen []atomic.Bool, scratch *[]byte) {
	for len(b) > 0 {
		if len(b) < seqHeader {
			t.Errorf("view ends in a partial header of %d bytes", len(b))
			return
		}
		seq := binary.LittleEndian.Uint64(b)
		n := int(binary.LittleEndian.Uint32(b[8:]))
		if seq >= uint64(len(seen)) || n > len(b)-seqHeader {
			t.Errorf("bad header: seq %d, %d bytes, %d left in view", seq, n, len(b)-seqHeader)
			return
		}
		want := (*scratch)[:n]
		fill(want, seq)
		if !bytes.Equal(b[seqHeader:seqHeader+n], want) {
			t.Errorf("message %d: payload of %d bytes corrupted", seq, n)
		}
		if seen[seq].Swap(true) {
			t.Errorf("message %d delivered twice", seq)
		}
		b = b[seqHeader+n:]
	}
}

// TestConcurrentRelease has a writer goroutine extract views of batches of
// messages and hand them through a channel to two readers, which check every
// byte and release the views, some after splitting or retaining them. Under
// -race it checks that no release races with the writer's reuse of a buffer;
// in every build, that the bytes mapped stay bounded by the views alive.
func TestConcurrentRelease(t *testing.T) {
	watchdog(t)
	msgs := 200_000
	if testing.Short() {
		msgs = 20_000
	}
	const buf, readers, maxPayload = 64 << 10, 2, 2000
	w := newWriter(t, slab.Config{BufferSize: buf})
	ch := make(chan slab.View, 16)
	seen := make([]atomic.Bool, msgs)

	var wg sync.WaitGroup
	for r := range readers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			scratch := make([]byte, maxPayload)
			for v := range ch {
				checkMessages(t, v.Bytes(), seen, &scratch)
				switch rng.IntN(4) {
				case 0:
					head, tail := v.Split(rng.IntN(v.Len() + 1))
					if err := tail.Release(); err != nil {
						t.Error(err)
					}
					if err := head.Release(); err != nil {
						t.Error(err)
					}
				case 1:
					r := v.Retain()
					if err := v.Release(); err != nil {
						t.Error(err)
					}
					if err := r.Release(); err != nil {
						t.Error(err)
					}
				default:
					if err := v.Release(); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}

	// Each live view pins at most one buffer: the writer's, those in the
	// channel and two per reader. Buffers freed since the writer last
	// reclaimed may add as many again, besides idle ones and the current.
	maxViews := 1 + cap(ch) + 2*readers
	bound := int64((slab.DefaultIdle + 1 + 2*maxViews) * buf)
	rng := rand.New(rand.NewPCG(3, 4))
	for seq := 0; seq < msgs; {
		for k := 1 + rng.IntN(8); k > 0 && seq < msgs; k-- {
			n := rng.IntN(maxPayload + 1)
			p, err := w.Reserve(seqHeader + n)
			if err != nil {
				t.Fatal(err)
			}
			binary.LittleEndian.PutUint64(p, uint64(seq))
			binary.LittleEndian.PutUint32(p[8:], uint32(n))
			fill(p[seqHeader:], uint64(seq))
			w.Commit(len(p))
			seq++
		}
		ch <- extract(t, w)
		if s := w.Stats(); s.BytesMapped > bound {
			t.Errorf("after %d messages: %d bytes mapped, bound %d", seq, s.BytesMapped, bound)
			break
		}
	}
	close(ch)
	wg.Wait()

	for i := range seen {
		if !seen[i].Load() {
			t.Fatalf("message %d never delivered", i)
		}
	}
	w.Reclaim()
	s := w.Stats()
	if s.OutstandingViews != 0 || s.OverReleases != 0 || s.DoubleReleases != 0 {
		t.Errorf("stats after every release = %+v", s)
	}
	t.Logf("%d messages: %+v", msgs, s)
	w.Close()
	if s := w.Stats(); s.BuffersMapped != 0 {
		t.Errorf("stats after Close = %+v", s)
	}
}

// TestConcurrentReleaseAfterClose has readers release the last views of a
// closed writer's buffers at the same time, so that the frees race with each
// other: each buffer must be freed exactly once.
func TestConcurrentReleaseAfterClose(t *testing.T) {
	watchdog(t)
	rounds := 200
	if testing.Short() {
		rounds = 20
	}
	for range rounds {
		rec := newRecorder(slab.Heap{})
		w := newWriter(t, slab.Config{BufferSize: 1024, Refill: rec})
		var views []slab.View
		for i := range 64 {
			v := send(t, w, pattern(300, uint64(i)))
			views = append(views, v, v.Retain())
		}
		w.Close()
		start := make(chan struct{})
		var wg sync.WaitGroup
		for r := range 4 {
			wg.Go(func() {
				<-start
				for i := r; i < len(views); i += 4 {
					if err := views[i].Release(); err != nil {
						t.Error(err)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		if s := w.Stats(); s.BuffersMapped != 0 || s.BytesMapped != 0 {
			t.Fatalf("stats after releasing every view = %+v", s)
		}
		rec.check(t, true)
	}
}
