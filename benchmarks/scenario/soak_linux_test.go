package scenario

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zcomm-go/zcomm/process"
	"github.com/zcomm-go/zcomm/slab"
)

var soakFor = flag.Duration("zcomm.soak", 0,
	"run TestSoak, an all-to-all exchange of this duration (5m for the full soak) that "+
		"checks bytes mapped against the budgets and resident size after warm-up "+
		"(0 skips it)")

var soakPublish = flag.String("zcomm.soak.publish", "batched",
	"publishing mode of TestSoak: batched, or eager (every message through a stream)")

// residentBytes returns the process's resident set size, from
// /proc/self/statm (its second field, in pages).
func residentBytes() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("statm: %q", b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize()), err
}

// TestSoak runs two workers exchanging messages of 64 B to 64 KiB all-to-all,
// batched (or as -zcomm.soak.publish says), for -zcomm.soak, and checks two
// things throughout: each worker's
// bytes mapped stay within the bound its budgets imply, and, after a warm-up
// of a tenth of the run, the process's resident size stays flat (within 10%
// and 16 MiB of what it was when warm-up ended):
//
//	cd benchmarks && go test -run TestSoak -v -timeout 10m ./scenario/ -zcomm.soak=5m
func TestSoak(t *testing.T) {
	if *soakFor <= 0 {
		t.Skip("pass -zcomm.soak=5m to run the memory soak")
	}
	var publish process.Publish
	switch *soakPublish {
	case "batched":
		publish = process.Batched
	case "eager":
		publish = process.Eager
	default:
		t.Fatalf("-zcomm.soak.publish=%q: want batched or eager", *soakPublish)
	}
	const (
		peers   = 2
		budget  = 8 << 20
		bufSize = 1 << 20
	)
	// As in process's flood test: a writer maps less than its budget plus
	// the current buffer, one being retired and the idle ones, and a worker
	// has a writer per peer and one for broadcasts, which stays empty.
	const bound = peers * (budget + (2+slab.DefaultIdle)*bufSize)
	sizes := []int{64, 1 << 10, 8 << 10, 64 << 10}

	var stop atomic.Bool
	time.AfterFunc(*soakFor, func() { stop.Store(true) })
	warm := time.Now().Add(*soakFor / 10)
	var mu sync.Mutex
	var warmRSS, maxRSS, maxMapped int64
	var messages atomic.Int64

	err := process.Run(context.Background(), peers, func(a *process.Allocator) error {
		ch, err := process.Allocate(a, 1, process.Bytes{})
		if err != nil {
			return err
		}
		payload := make([]byte, sizes[len(sizes)-1])
		receive := func() error {
			if err := a.Receive(); err != nil {
				return err
			}
			for {
				m, ok, err := ch.Puller.Pull()
				if err != nil || !ok {
					a.DrainEvents(nil)
					return err
				}
				messages.Add(1)
				if err := m.Release(); err != nil {
					return err
				}
			}
		}
		sample := func() error {
			mapped := a.Stats().Slab.BytesMapped
			rss, err := residentBytes()
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			maxMapped = max(maxMapped, mapped)
			if mapped > bound {
				return fmt.Errorf("worker %d maps %d bytes, bound %d", a.Index(), mapped, bound)
			}
			if time.Now().Before(warm) {
				warmRSS = rss
				return nil
			}
			maxRSS = max(maxRSS, rss)
			return nil
		}
		next := time.Now()
		for i := 0; !stop.Load(); i++ {
			p := payload[:sizes[i%len(sizes)]]
			for {
				err := ch.Push(i%peers, p)
				if err == nil {
					break
				}
				if !errors.Is(err, process.ErrBackpressure) {
					return err
				}
				if err := a.Release(); err != nil {
					return err
				}
				if err := receive(); err != nil {
					return err
				}
				if err := a.AwaitEvents(time.Millisecond); err != nil {
					return err
				}
			}
			if i%64 == 63 {
				if err := a.Release(); err != nil {
					return err
				}
				if err := receive(); err != nil {
					return err
				}
				if now := time.Now(); now.After(next) {
					next = now.Add(100 * time.Millisecond)
					if err := sample(); err != nil {
						return err
					}
				}
			}
		}
		if err := a.Close(context.Background()); err != nil {
			return err
		}
		for !a.Finished() {
			if err := receive(); err != nil {
				return err
			}
			if err := a.AwaitEvents(10 * time.Millisecond); err != nil {
				return err
			}
		}
		return sample()
	}, process.WithPublish(publish), process.WithBudget(budget),
		process.WithSlab(slab.Config{BufferSize: bufSize}))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d messages in %v; most bytes mapped by a worker %d (bound %d); resident "+
		"%d MiB after warm-up, at most %d MiB after", messages.Load(), *soakFor, maxMapped,
		bound, warmRSS>>20, maxRSS>>20)
	if warmRSS == 0 || maxRSS == 0 {
		t.Fatalf("the run was too short to sample resident size before and after warm-up")
	}
	if limit := warmRSS + warmRSS/10 + 16<<20; maxRSS > limit {
		t.Errorf("resident size grew after warm-up: %d MiB then up to %d MiB (limit %d MiB)",
			warmRSS>>20, maxRSS>>20, limit>>20)
	}
}
