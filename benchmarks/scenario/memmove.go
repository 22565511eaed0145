package scenario

import (
	"fmt"
	"time"
)

// memmoveSink keeps the copies of Memmove observable.
var memmoveSink byte

// Memmove copies from one SlabSize buffer to another on the calling
// goroutine, in chunks of size bytes, chunks times: it walks through the
// buffers and starts over at their end, as a writer fills a slab. It calls
// ready, if not nil, once the buffers are made. The result counts one
// message per chunk. Memmove is the floor for the one copy every transport
// makes, and zcbench's bandwidth baseline.
func Memmove(size, chunks int, ready func()) (Result, error) {
	if size < 1 || size > SlabSize || chunks < 1 {
		return Result{}, fmt.Errorf("scenario: memmove of %d chunks of %d bytes: "+
			"want at least one chunk of 1 to %d bytes", chunks, size, SlabSize)
	}
	src, dst := make([]byte, SlabSize), make([]byte, SlabSize)
	for i := range src {
		src[i] = byte(i)
	}
	if ready != nil {
		ready()
	}
	t0 := time.Now()
	off := 0
	for range chunks {
		if off+size > SlabSize {
			off = 0
		}
		copy(dst[off:off+size], src[off:off+size])
		off += size
	}
	elapsed := time.Since(t0)
	memmoveSink = dst[off-1]
	return Result{Elapsed: elapsed, Messages: chunks, Bytes: int64(chunks) * int64(size)}, nil
}
