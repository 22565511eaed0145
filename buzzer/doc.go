// Package buzzer parks an idle worker and wakes it, at the cost of one atomic
// load to the waker unless the worker is really asleep.
//
// A Buzzer belongs to one sleeper; any goroutine may wake it. The sleeper
// runs this loop:
//
//	for {
//		if work() { continue }   // drain whatever there is
//		b.Prepare()              // 1. announce: "I may sleep"
//		if ready() {             // 2. look once more
//			b.Cancel()
//			continue
//		}
//		b.Sleep(timeout)         // 3. sleep until woken or timed out
//	}
//
// and a waker publishes its work first, then calls Wake. Both the announcement
// (a store to the state word) and the publication are sequentially consistent
// atomics, as are the waker's load of the state word and the sleeper's second
// look. Of the two orders in which they can interleave, either the sleeper's
// second look sees the work, or the waker's load sees the announcement and
// wakes it: a wake-up is never lost. A Wake that arrives after Prepare and
// before Sleep is kept: Sleep returns at once.
//
// # State word
//
//	idle      the sleeper is running; Wake does nothing (one load)
//	spinning  announced; the sleeper may be spinning on the word
//	asleep    the sleeper is parked (or about to park) and needs a signal
//	woken     a waker claimed the wake-up; later wakers do nothing
//
// The sleeper moves idle→spinning (Prepare), spinning→asleep (before it
// parks) and any→idle (when it returns). A waker moves spinning or asleep to
// woken with a swap, and only a waker that swapped out asleep pays for a
// signal. A sleeper that is still spinning sees woken without any system call.
//
// # Parking
//
// Sleep spins briefly only when the sleeper has a core to itself; otherwise
// spinning would burn the processor that the waker needs. It then parks
// either the OS thread, in a futex wait on the state word (Linux only; the
// thread's P is handed to another goroutine once the system call blocks), or
// the goroutine, on a channel (every platform). See Mode.
package buzzer
