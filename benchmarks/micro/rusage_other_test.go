//go:build !linux && !darwin

package micro

import (
	"errors"
	"time"
)

// cpuTime reports that this system's process CPU time is not measured here.
func cpuTime() (time.Duration, error) {
	return 0, errors.New("micro: process CPU time is measured on linux and darwin only")
}
