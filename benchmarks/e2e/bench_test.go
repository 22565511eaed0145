package e2e

import (
	"testing"

	"github.com/zcomm-go/zcomm/benchmarks/scenario"
)

// peers is the number of workers in the all-to-all benchmarks.
const peers = 2

// sizes are the payload sizes every benchmark runs with.
var sizes = []struct {
	name string
	n    int
}{
	{"8B", 8},
	{"64B", 64},
	{"1KiB", 1 << 10},
	{"64KiB", 64 << 10},
}

// BenchmarkAllToAll measures two workers exchanging b.N messages each, for
// every payload size and peer (see the package documentation). One op is
// one message from each worker; MB/s counts one worker's payload bytes.
func BenchmarkAllToAll(b *testing.B) {
	for _, sz := range sizes {
		b.Run(sz.name, func(b *testing.B) {
			for _, p := range scenario.AllToAllPeers {
				b.Run(p.Name, func(b *testing.B) {
					b.SetBytes(int64(sz.n))
					b.ReportAllocs()
					res, err := p.Run(scenario.AllToAll{Workers: peers, Size: sz.n,
						Messages: b.N, Ready: b.ResetTimer})
					if err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := scenario.VerifyAllToAll(res.Tallies, b.N); err != nil {
						b.Fatal(err)
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
		for _, p := range scenario.PingPongPeers {
			b.Run(p.Name, func(b *testing.B) {
				b.ReportAllocs()
				res, err := p.Run(scenario.PingPong{RoundTrips: b.N, Ready: b.ResetTimer})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := scenario.VerifyPingPong(res.Tallies, b.N); err != nil {
					b.Fatal(err)
				}
			})
		}
	})
}

// BenchmarkMemmove measures the copy every peer makes once per message:
// copy over a slab-sized buffer in chunks of the payload size, on one
// goroutine.
func BenchmarkMemmove(b *testing.B) {
	for _, sz := range sizes {
		b.Run(sz.name, func(b *testing.B) {
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			if _, err := scenario.Memmove(sz.n, b.N, b.ResetTimer); err != nil {
				b.Fatal(err)
			}
		})
	}
}
