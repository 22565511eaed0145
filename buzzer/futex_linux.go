// This file is the buzzer's only use of package unsafe: a futex call must
// convert the address of the state word to a uintptr inside the system call
// expression itself, so that the compiler keeps the word alive and in place
// for the duration of the call.

package buzzer

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const futexSupported = true

// Futex operations from linux/futex.h; x/sys/unix defines SYS_FUTEX but not
// these. The private variants skip the cross-process hash lookup.
const (
	futexWaitPrivate = 0 | 128 // FUTEX_WAIT | FUTEX_PRIVATE_FLAG
	futexWakePrivate = 1 | 128 // FUTEX_WAKE | FUTEX_PRIVATE_FLAG
)

// futexWait blocks the thread while *addr == val, for at most d (forever if
// d is negative). It returns early on a wake, a signal or a changed word;
// callers recheck. It goes through unix.Syscall6, not RawSyscall6, so that the
// runtime can hand this thread's P to another goroutine while it blocks.
func futexWait(addr *atomic.Uint32, val uint32, d time.Duration) {
	var ts *unix.Timespec
	if d >= 0 {
		t := unix.NsecToTimespec(d.Nanoseconds())
		ts = &t
	}
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitPrivate,
		uintptr(val), uintptr(unsafe.Pointer(ts)), 0, 0)
}

// futexWake wakes one thread waiting on addr.
func futexWake(addr *atomic.Uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakePrivate, 1, 0, 0, 0)
}
