// Package unsafeutil holds what zcomm's packages share that touches memory
// layout: cache-line padding, and a way for tests to check the layout of
// padded structures.
//
// This file, the slab's mapping file and the buzzer's futex file are the only
// places in zcomm allowed to import unsafe.
package unsafeutil

import "unsafe"

// CacheLineSize is the padding unit between fields that different cores
// write. It is two 64-byte lines because x86 cores prefetch lines in adjacent
// pairs, and 128 bytes is the line size on Apple and some ARM server cores, so
// fields this far apart never share a line or a prefetch pair.
const CacheLineSize = 128

// Pad fills the rest of a cache line. Place one between fields that are
// written by different goroutines.
type Pad [CacheLineSize]byte

// Offsetof returns the distance in bytes from base to field, both addresses
// within one object. It exists so that tests can check the layout of padded
// structures without importing unsafe.
func Offsetof[B, F any](base *B, field *F) uintptr {
	return uintptr(unsafe.Pointer(field)) - uintptr(unsafe.Pointer(base))
}

// Sizeof returns the size in bytes of a value of type T, so that tests can
// pin the size of structures on the hot path without importing unsafe.
func Sizeof[T any]() uintptr {
	var v T
	return unsafe.Sizeof(v)
}
