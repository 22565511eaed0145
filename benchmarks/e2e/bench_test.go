package e2e

import "testing"

// BenchmarkAllToAll measures two workers exchanging b.N messages each, for
// every payload size and peer (see the package documentation). One op is
// one message from each worker; MB/s counts one worker's payload bytes.
func BenchmarkAllToAll(b *testing.B) {
	for _, sz := range sizes {
		b.Run(sz.name, func(b *testing.B) {
			for _, p := range allToAllPeers {
				b.Run(p.name, func(b *testing.B) {
					b.SetBytes(int64(sz.n))
					b.ReportAllocs()
					ts := newTallies(b.N, false)
					if err := p.run(sz.n, b.N, ts, b.ResetTimer); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					for w := range ts {
						if got, want := ts[w].count, expected(w, b.N); got != want {
							b.Fatalf("worker %d received %d messages, want %d", w, got, want)
						}
					}
				})
			}
		})
	}
}

// BenchmarkPingPong measures the round trip of one 64-byte message between
// two workers; ns/op is one round trip.
func BenchmarkPingPong(b *testing.B) {
	b.Run("64B", func(b *testing.B) {
		for _, p := range pingPongPeers {
			b.Run(p.name, func(b *testing.B) {
				b.ReportAllocs()
				ts := newTallies(b.N, false)
				if err := p.run(b.N, ts, b.ResetTimer); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				for w := range ts {
					if ts[w].count != b.N {
						b.Fatalf("worker %d received %d messages, want %d", w, ts[w].count, b.N)
					}
				}
			})
		}
	})
}

// sinkByte keeps the compiler from discarding the copies of BenchmarkMemmove.
var sinkByte byte

// BenchmarkMemmove measures the copy every peer makes once per message:
// copy over a slab-sized buffer in chunks of the payload size, on one
// goroutine.
func BenchmarkMemmove(b *testing.B) {
	for _, sz := range sizes {
		b.Run(sz.name, func(b *testing.B) {
			src, dst := make([]byte, slabSize), make([]byte, slabSize)
			for i := range src {
				src[i] = byte(i)
			}
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			off := 0
			for b.Loop() {
				if off+sz.n > slabSize {
					off = 0
				}
				copy(dst[off:off+sz.n], src[off:off+sz.n])
				off += sz.n
			}
			sinkByte = dst[off-1]
		})
	}
}
