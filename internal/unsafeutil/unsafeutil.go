// Package unsafeutil holds the few uses of package unsafe that zcomm's
// packages share: cache-line padding, zero-copy conversions between strings
// and byte slices, and address and alignment queries.
//
// This file, the slab's mapping file and the buzzer's futex file are the only
// places in zcomm that import unsafe. Every function here states what its
// caller must guarantee.
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

// BytesToString returns a string that shares b's memory. The caller must not
// modify b while the string is in use, and must not keep the string past the
// life of the memory (for a slab view: past its release).
func BytesToString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// StringToBytes returns a byte slice that shares s's memory. The caller must
// never write through it.
func StringToBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// Addr returns the address of b's first byte, or 0 for a slice of capacity
// zero. It is meant for alignment checks and for telling buffers apart, never
// for turning back into a pointer.
func Addr(b []byte) uintptr {
	if cap(b) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(unsafe.SliceData(b[:1])))
}

// Aligned reports whether b's first byte lies on an align-byte boundary.
// align must be a power of two.
func Aligned(b []byte, align uintptr) bool {
	return Addr(b)&(align-1) == 0
}

// Offsetof returns the distance in bytes from base to field, both addresses
// within one object. It exists so that tests can check the layout of padded
// structures without importing unsafe.
func Offsetof[B, F any](base *B, field *F) uintptr {
	return uintptr(unsafe.Pointer(field)) - uintptr(unsafe.Pointer(base))
}
