package process_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/zcomm-go/zcomm/process"
)

// Two workers each send three numbers to the other and print what they
// receive.
func Example() {
	var mu sync.Mutex
	got := map[int][]uint64{}

	err := process.Run(context.Background(), 2, func(a *process.Allocator) error {
		ch, err := process.Allocate(a, 1, process.Uint64{})
		if err != nil {
			return err
		}
		peer := 1 - a.Index()
		for i := uint64(0); i < 3; i++ {
			if err := ch.Push(peer, uint64(a.Index())*100+i); err != nil {
				return err
			}
		}
		if err := a.Close(context.Background()); err != nil {
			return err
		}
		for !a.Finished() {
			if err := a.Receive(); err != nil {
				return err
			}
			for {
				m, ok, err := ch.Puller.Pull()
				if err != nil {
					return err
				}
				if !ok {
					break
				}
				mu.Lock()
				got[a.Index()] = append(got[a.Index()], m.Value)
				mu.Unlock()
				m.Release()
			}
			a.DrainEvents(nil)
			if err := a.AwaitEvents(time.Second); err != nil {
				return err
			}
		}
		return nil
	})
	fmt.Println(err, got[0], got[1])
	// Output: <nil> [100 101 102] [0 1 2]
}
