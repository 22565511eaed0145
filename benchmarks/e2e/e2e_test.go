package e2e

import (
	"fmt"
	"testing"
)

// smallN returns the message count of a checked run: enough to cross
// several Release points and, for large payloads, to fill several slabs.
func smallN(size int) int {
	n := 2000
	if size >= 64<<10 {
		n = 100
	}
	if testing.Short() {
		n /= 4
	}
	return n
}

// TestAllToAllSmall runs every benchmark body once with a small count and
// checks that each message was received exactly once, by the worker it was
// sent to: the all-to-all runs for every size and peer, and the ping-pong
// runs.
func TestAllToAllSmall(t *testing.T) {
	for _, sz := range sizes {
		for _, p := range allToAllPeers {
			t.Run(fmt.Sprintf("%s/%s", sz.name, p.name), func(t *testing.T) {
				n := smallN(sz.n)
				ts := newTallies(n, true)
				if err := p.run(sz.n, n, ts, nil); err != nil {
					t.Fatal(err)
				}
				if err := verify(ts, n); err != nil {
					t.Error(err)
				}
			})
		}
	}
	for _, p := range pingPongPeers {
		t.Run("PingPong/"+p.name, func(t *testing.T) {
			n := 200
			if testing.Short() {
				n = 50
			}
			ts := newTallies(n, true)
			if err := p.run(n, ts, nil); err != nil {
				t.Fatal(err)
			}
			for w := range ts {
				if ts[w].count != n {
					t.Errorf("worker %d received %d messages, want %d", w, ts[w].count, n)
				}
				for i, c := range ts[w].seen[1-w] {
					if c != 1 {
						t.Errorf("worker %d received round trip %d %d times, want 1", w, i, c)
					}
				}
			}
		})
	}
}

// TestExpected checks the count of messages each worker should receive.
func TestExpected(t *testing.T) {
	for n := 1; n < 10; n++ {
		total := 0
		for w := 0; w < peers; w++ {
			per := 0
			for i := 0; i < n; i++ {
				if i%peers == w {
					per++
				}
			}
			if got := expected(w, n); got != peers*per {
				t.Errorf("expected(%d, %d) = %d, want %d", w, n, got, peers*per)
			}
			total += expected(w, n)
		}
		if total != peers*n {
			t.Errorf("n=%d: %d messages received in all, want %d", n, total, peers*n)
		}
	}
}
