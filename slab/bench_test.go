package slab_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/zcomm-go/zcomm/ring"
	"github.com/zcomm-go/zcomm/slab"
)

// sizeName writes a message size the way benchmark names show it.
func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// BenchmarkMessage measures one message's way through a slab: reserve, write,
// commit, extract and release, on a writer with the standard buffer size.
func BenchmarkMessage(b *testing.B) {
	for _, rf := range refills() {
		for _, size := range []int{64, 1 << 10, 64 << 10} {
			b.Run(rf.name+"/"+sizeName(size), func(b *testing.B) {
				w := newWriter(b, slab.Config{Refill: rf.r})
				defer w.Close()
				msg := pattern(size, 1)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					p, err := w.Reserve(size)
					if err != nil {
						b.Fatal(err)
					}
					w.Commit(copy(p, msg))
					v, _ := w.Extract()
					if err := v.Release(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkMessageHeld is BenchmarkMessage with each view released only after
// the next message is written, as when a reader lags one message behind: at
// every refill the current buffer still has a view, so the writer takes
// another.
func BenchmarkMessageHeld(b *testing.B) {
	for _, rf := range refills() {
		for _, size := range []int{64, 1 << 10, 64 << 10} {
			b.Run(rf.name+"/"+sizeName(size), func(b *testing.B) {
				w := newWriter(b, slab.Config{Refill: rf.r})
				defer w.Close()
				msg := pattern(size, 1)
				var prev slab.View
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					p, err := w.Reserve(size)
					if err != nil {
						b.Fatal(err)
					}
					w.Commit(copy(p, msg))
					v, _ := w.Extract()
					if err := prev.Release(); err != nil {
						b.Fatal(err)
					}
					prev = v
				}
				if err := prev.Release(); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// BenchmarkRelease measures releasing one view of many that share a buffer,
// the receiving side's cost per message once it has split a view.
func BenchmarkRelease(b *testing.B) {
	w := newWriter(b, slab.Config{})
	defer w.Close()
	write(b, w, pattern(64, 1))
	v := extract(b, w)
	const batch = 1024
	views := make([]slab.View, batch)
	b.ReportAllocs()
	i := 0
	for ; b.Loop(); i++ {
		if i%batch == 0 {
			b.StopTimer()
			v.Acquire(batch)
			for j := range views {
				views[j] = v.Slice(0, 64)
			}
			b.StartTimer()
		}
		if err := views[i%batch].Release(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// Release the views the loop did not reach.
	for j := i % batch; j > 0 && j < batch; j++ {
		release(b, views[j])
	}
	release(b, v)
}

// BenchmarkRefill measures taking a fresh buffer from each refill: the writer
// keeps no idle buffers and the previous buffer still has a view, so every
// message of a whole buffer costs an Alloc, its pages' first touch and a Free.
func BenchmarkRefill(b *testing.B) {
	for _, rf := range refills() {
		b.Run(rf.name, func(b *testing.B) {
			const size = slab.DefaultBufferSize
			w := newWriter(b, slab.Config{Idle: -1, Refill: rf.r})
			defer w.Close()
			msg := pattern(size, 1)
			var prev slab.View
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				p, err := w.Reserve(size)
				if err != nil {
					b.Fatal(err)
				}
				w.Commit(copy(p, msg))
				v, _ := w.Extract()
				if err := prev.Release(); err != nil {
					b.Fatal(err)
				}
				prev = v
			}
			if err := prev.Release(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkMessageAcross is BenchmarkMessage with the views released on
// another goroutine, as a receiving worker does: the writer reserves, writes,
// commits and extracts 64-byte messages and hands the views over a ring, and
// the reader reads each view's bytes and releases it. It measures what the
// two sides pay for sharing a buffer's words across cores. An op is one
// message.
func BenchmarkMessageAcross(b *testing.B) {
	w := newWriter(b, slab.Config{Refill: slab.Heap{}})
	defer w.Close()
	r, err := ring.New[slab.View](1024)
	if err != nil {
		b.Fatal(err)
	}
	const size = 64
	msg := pattern(size, 1)
	done := make(chan error, 1)
	n := b.N
	go func() {
		dst := make([]ring.Entry[slab.View], 0, r.Cap())
		var sum byte
		for got := 0; got < n; {
			dst = r.Drain(dst[:0])
			if len(dst) == 0 {
				runtime.Gosched()
				continue
			}
			for _, e := range dst {
				sum += e.Value.Bytes()[size-1]
				if err := e.Value.Release(); err != nil {
					done <- err
					return
				}
			}
			got += len(dst)
		}
		if want := byte(n) * msg[size-1]; sum != want {
			done <- fmt.Errorf("reader saw bytes summing to %d, want %d", sum, want)
			return
		}
		done <- nil
	}()
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for range n {
		p, err := w.Reserve(size)
		if err != nil {
			b.Fatal(err)
		}
		w.Commit(copy(p, msg))
		v, _ := w.Extract()
		for r.Push(0, v) != nil {
			runtime.Gosched()
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
