//go:build !unix

package scenario

import (
	"fmt"
	"runtime"
	"time"
)

// CPUTime reports ErrNoCPUTime: the process's CPU time is read with
// getrusage, which this system lacks.
func CPUTime() (time.Duration, error) {
	return 0, fmt.Errorf("%w on %s", ErrNoCPUTime, runtime.GOOS)
}
