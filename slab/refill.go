package slab

import "fmt"

// Refill supplies a Writer's buffers and takes them back. Alloc returns a
// byte slice of exactly size bytes; Free receives only slices that Alloc
// returned, unresliced, each once. Free may be called from any goroutine (the
// last release of a view of a closed writer's buffer frees it), so an
// implementation must be safe for concurrent use.
type Refill interface {
	Alloc(size int) ([]byte, error)
	Free(b []byte) error
}

// Heap is a Refill that allocates buffers on the Go heap. Free leaves them
// to the garbage collector.
type Heap struct{}

// Alloc returns a new zeroed slice of size bytes.
func (Heap) Alloc(size int) ([]byte, error) {
	if size <= 0 {
		return nil, fmt.Errorf("slab: heap refill of %d bytes", size)
	}
	return make([]byte, size), nil
}

// Free does nothing: the garbage collector reclaims b once unreferenced.
func (Heap) Free([]byte) error { return nil }

// Default returns the refill a Writer uses when given none: Mmap where the
// system supports it, except in checked builds, which use Heap so that the
// race detector can watch the buffers.
func Default() Refill {
	if checked || !mmapSupported {
		return Heap{}
	}
	return Mmap{}
}
