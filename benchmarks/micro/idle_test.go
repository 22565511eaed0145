package micro

import (
	"flag"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zcomm-go/zcomm/benchmarks/scenario"
	"github.com/zcomm-go/zcomm/buzzer"
)

var idleFor = flag.Duration("zcomm.idle", 0,
	"park idleSleepers sleepers for this long in TestIdleCPU and log the "+
		"process's CPU use (0 skips the test)")

// idleSleepers is the number of sleepers TestIdleCPU parks.
const idleSleepers = 8

// TestIdleCPU parks idleSleepers sleepers on buzzers with no timeout for
// -zcomm.idle, and logs the CPU the whole process used meanwhile (user plus
// system, from getrusage) as a percentage of one core. The baseline subtest
// parks nobody and shows what the idle runtime costs by itself.
func TestIdleCPU(t *testing.T) {
	if *idleFor <= 0 {
		t.Skip("set -zcomm.idle, e.g. -zcomm.idle=10s, to measure")
	}
	if _, err := scenario.CPUTime(); err != nil {
		t.Skip(err)
	}
	for _, k := range []struct {
		name     string
		mode     buzzer.Mode
		sleepers int
	}{
		{"baseline", buzzer.Auto, 0},
		{"futex", buzzer.Futex, idleSleepers},
		{"goroutine", buzzer.Goroutine, idleSleepers},
	} {
		t.Run(k.name, func(t *testing.T) {
			bzs := make([]*buzzer.Buzzer, k.sleepers)
			var (
				stop atomic.Bool
				wg   sync.WaitGroup
			)
			for i := range bzs {
				bz := buzzer.New(buzzer.Config{Mode: k.mode, Sleepers: k.sleepers})
				bzs[i] = bz
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						bz.Prepare()
						if stop.Load() {
							bz.Cancel()
							return
						}
						bz.Sleep(-1)
					}
				}()
			}
			for _, bz := range bzs {
				for bz.Stats().Sleeps == 0 {
					time.Sleep(time.Millisecond)
				}
			}

			before, _ := scenario.CPUTime()
			t0 := time.Now()
			time.Sleep(*idleFor)
			used, _ := scenario.CPUTime()
			wall := time.Since(t0)
			used -= before

			var extra uint64
			for _, bz := range bzs {
				extra += bz.Stats().Sleeps - 1
			}
			stop.Store(true)
			for _, bz := range bzs {
				bz.Wake()
			}
			wg.Wait()

			t.Logf("%s: %d sleepers parked for %v: CPU %v = %.3f%% of one core; "+
				"%d extra sleeps", k.name, k.sleepers, wall.Round(time.Millisecond), used,
				100*used.Seconds()/wall.Seconds(), extra)
		})
	}
}
