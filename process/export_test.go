package process

import (
	"github.com/zcomm-go/zcomm/ring"
	"github.com/zcomm-go/zcomm/slab"
)

// RingOf returns the ring that carries views to worker i of a's group, so
// that a test can push views into it as if a producer had published them.
// Push is safe from any goroutine; the pushed view's reference passes to the
// ring.
func RingOf(a *Allocator, i int) *ring.Ring[slab.View] { return a.g.rings[i] }

// Sleeps returns how many times a's worker has parked in AwaitEvents. It
// reads an atomic counter, so any goroutine may call it: a test waits for it
// to grow to know that the worker is asleep (or about to be).
func Sleeps(a *Allocator) uint64 { return a.buzzer.Stats().Sleeps }

// Inboxes returns how many channels a keeps inboxes for.
func Inboxes(a *Allocator) int { return len(a.inboxes) }
