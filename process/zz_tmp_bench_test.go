package process_test

import (
	"testing"

	"github.com/zcomm-go/zcomm/process"
)

func BenchmarkTmpSelf64(b *testing.B) {
	for _, pub := range []process.Publish{process.Batched, process.Eager} {
		b.Run(pub.String(), func(b *testing.B) {
			bs, _ := process.NewBuilders(1, process.WithPublish(pub))
			a, _ := bs[0].Build()
			ch, _ := process.Allocate(a, 1, process.Bytes{})
			payload := make([]byte, 64)
			var evs []uint64
			b.SetBytes(64)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += 64 {
				for j := 0; j < 64; j++ {
					if err := ch.Push(0, payload); err != nil {
						b.Fatal(err)
					}
				}
				a.Release()
				a.Receive()
				for {
					m, ok, _ := ch.Puller.Pull()
					if !ok {
						break
					}
					m.Release()
				}
				evs = a.DrainEvents(evs[:0])
			}
		})
	}
}
