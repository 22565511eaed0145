//go:build linux

// This file and runDiodes, which hands the diode unsafe.Pointers, are the
// package's only uses of unsafe. A futex call must convert the address of its
// word to a uintptr inside the system call expression itself, so that the
// compiler keeps the word alive and in place for the duration of the call.

package micro

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Futex operations from linux/futex.h, private to this process.
const (
	futexWaitPrivate = 0 | 128 // FUTEX_WAIT | FUTEX_PRIVATE_FLAG
	futexWakePrivate = 1 | 128 // FUTEX_WAKE | FUTEX_PRIVATE_FLAG
)

// futexWait blocks the thread while *addr == val, with no timeout. It returns
// early on a wake, a signal or a changed word; callers recheck. It goes
// through unix.Syscall6, as the buzzer does, so that the runtime may hand the
// thread's P to another goroutine while it blocks.
func futexWait(addr *atomic.Uint32, val uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitPrivate,
		uintptr(val), 0, 0, 0)
}

// futexWake wakes one thread waiting on addr.
func futexWake(addr *atomic.Uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakePrivate, 1, 0, 0, 0)
}
