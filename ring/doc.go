// Package ring is a bounded, lock-free, multi-producer single-consumer ring.
//
// Any number of producers push values into a Ring; exactly one goroutine, the
// consumer, drains them. A push never blocks: a full ring answers ErrFull at
// once and a closed one ErrClosed (or ErrPoisoned), and a failed push leaves
// the value with its caller. Each entry carries the index of the producer that
// pushed it, so the consumer can name the sender of anything it reads.
//
// # Protocol
//
// The ring follows Dmitry Vyukov's bounded queue, specialised to one
// consumer, with slots handed back through the consumer's counter rather than
// through each slot. Each slot carries a sequence word that says when its
// value is written:
//
//	seq == p+1    the value for position p is written; the consumer may take it
//
// Positions advance in steps of two so that the low bit of the producers'
// counter can carry the closed flag: closing is one compare-and-swap on the
// same word that producers claim with, so a push either claimed its position
// before the close (and the consumer will find it) or fails, and nothing
// falls in between.
//
// Position p uses the slot of position p-2n of the lap before, where n is the
// number of slots, so p is free once the consumer's head has passed p-2n,
// that is once p-head < 2n. The consumer stores head after it has emptied the
// slots it passed, so a producer that loads head may write any of them.
// Producers keep a copy of head beside the tail, on their own cache line, and
// load the consumer's head only when the copy says the ring is full: a push
// that finds room reads no line the consumer writes. The copy only ever holds
// a value head once had, and head only grows, so a stale copy errs towards
// "full" and sends the producer to look at head itself.
//
// A producer claims position p by a compare-and-swap of the tail from p to
// p+2, writes the value, then stores seq = p+1. The consumer takes position h
// only after it loads seq == h+1, so it never reads a slot that is claimed but
// not yet written; a producer that stalls between claim and write holds up the
// positions after its own, and never exposes half a value. No producer can
// claim the same slot for the next lap meanwhile, because head cannot pass the
// stalled position.
//
// The consumer writes each slot it drains once, to zero its value, and
// stores head once per drain (and every 64 slots of a long one, so that
// producers waiting on a full ring get room while the drain goes on).
//
// All counters are 64-bit and wrap; every comparison is of differences, so the
// wrap is harmless.
package ring
