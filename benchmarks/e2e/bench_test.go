package e2e

import (
	"strings"
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

// BenchmarkLoopback measures one worker sending 64-byte messages to itself
// through zcomm and through the original design: every step of a message's
// way (push, publish, receive, pull, release) on one core, with no other core
// to wait for or to share cache lines with. It isolates the work each design
// does per message from the cost of moving lines between cores. One op is
// one message.
func BenchmarkLoopback(b *testing.B) {
	for _, p := range scenario.AllToAllPeers {
		if !strings.HasPrefix(p.Name, "zcomm") && !strings.HasPrefix(p.Name, "original") {
			continue
		}
		b.Run("64B/"+p.Name, func(b *testing.B) {
			b.SetBytes(64)
			b.ReportAllocs()
			res, err := p.Run(scenario.AllToAll{Workers: 1, Size: 64, Messages: b.N,
				Ready: b.ResetTimer})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := scenario.VerifyAllToAll(res.Tallies, b.N); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkPingPong measures the round trip of one 64-byte message between
// two workers; ns/op is one round trip, and p50-ns and p99-ns are the median
// and 99th percentile of every round trip's time, which each peer measures
// alike (two clock reads per round trip, included). The peers that busy-poll
// run on threads pinned to a CPU each, where scenario.CanPin.
func BenchmarkPingPong(b *testing.B) {
	b.Run("64B", func(b *testing.B) {
		for _, p := range scenario.PingPongPeers {
			b.Run(p.Name, func(b *testing.B) {
				b.ReportAllocs()
				h := scenario.NewLatencyHistogram()
				res, err := p.Run(scenario.PingPong{RoundTrips: b.N, Latency: h,
					Ready: b.ResetTimer, Pin: p.Spins})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := scenario.VerifyPingPong(res.Tallies, b.N); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(h.ValueAtQuantile(50)), "p50-ns")
				b.ReportMetric(float64(h.ValueAtQuantile(99)), "p99-ns")
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
