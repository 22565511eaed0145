//go:build !linux

package buzzer

import (
	"sync/atomic"
	"time"
)

// futexSupported is false: New turns Futex into Goroutine, so these are never
// called.
const futexSupported = false

func futexWait(*atomic.Uint32, uint32, time.Duration) { panic("buzzer: no futex on this system") }

func futexWake(*atomic.Uint32) { panic("buzzer: no futex on this system") }
