//go:build zcommslow

package process

import "time"

// slowdown spins for about 200 ns on every push. The zcommslow build tag
// exists only for the benchmark gate's live check, which must flag a build
// this much slower; never use it otherwise.
func slowdown() {
	for start := time.Now(); time.Since(start) < 200*time.Nanosecond; {
	}
}
