//go:build !unix

package slab

const mmapSupported = false

// Mmap is the heap on systems without mmap, so that the package builds
// wherever Go does.
type Mmap = Heap
