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
// The ring is Dmitry Vyukov's bounded queue, specialised to one consumer. Each
// slot carries its own sequence word, which says whose turn the slot is:
//
//	seq == p      the slot is free for the producer that claims position p
//	seq == p+1    the value for position p is written; the consumer may take it
//	seq == p+2n   the consumer has emptied it; free for position p+2n next lap
//
// where n is the number of slots. Positions advance in steps of two so that
// the low bit of the producers' counter can carry the closed flag: closing is
// one compare-and-swap on the same word that producers claim with, so a push
// either claimed its position before the close (and the consumer will find
// it) or fails, and nothing falls in between.
//
// A producer claims position p by a compare-and-swap of the tail from p to
// p+2, writes the value, then stores seq = p+1. The consumer takes position h
// only after it loads seq == h+1, so it never reads a slot that is claimed but
// not yet written; a producer that stalls between claim and write holds up the
// positions after its own, and never exposes half a value.
//
// All counters are 64-bit and wrap; every comparison is of differences, so the
// wrap is harmless.
package ring
