//go:build unix

// This is the slab's mapping file. It maps buffers with x/sys/unix, which
// does the pointer conversions itself; nothing here needs package unsafe.

package slab

import (
	"fmt"

	"golang.org/x/sys/unix"
)

const mmapSupported = true

// Mmap is a Refill that maps each buffer as private anonymous memory. The
// buffers lie outside the Go heap: the garbage collector neither scans nor
// counts them, and a buffer's pages are returned to the system the moment it
// is freed. Never store a Go pointer in them.
type Mmap struct{}

// Alloc maps size bytes of zeroed memory.
func (Mmap) Alloc(size int) ([]byte, error) {
	if size <= 0 {
		return nil, fmt.Errorf("slab: mmap of %d bytes", size)
	}
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("slab: mmap of %d bytes: %w", size, err)
	}
	return b, nil
}

// Free unmaps b, which must be a slice Alloc returned, whole.
func (Mmap) Free(b []byte) error {
	if err := unix.Munmap(b); err != nil {
		return fmt.Errorf("slab: munmap of %d bytes: %w", len(b), err)
	}
	return nil
}
