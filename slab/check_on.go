//go:build zcommcheck || race

package slab

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

// checked is true: every view carries a stamp that records where it was made
// and whether it was released, and released buffers are filled with
// PoisonByte.
const checked = true

type stampData struct {
	released atomic.Bool
	pc       uintptr
}

// stamp identifies one view and every copy of it.
type stamp struct{ d *stampData }

func newStamp(skip int) stamp {
	var pcs [1]uintptr
	runtime.Callers(skip+2, pcs[:])
	return stamp{&stampData{pc: pcs[0]}}
}

func (s stamp) where() string {
	if s.d == nil {
		return "an unknown place"
	}
	f, _ := runtime.CallersFrames([]uintptr{s.d.pc}).Next()
	return fmt.Sprintf("%s (%s:%d)", f.Function, f.File, f.Line)
}

// use panics if the view was released: reading through it would read bytes
// that may already belong to another message.
func (s stamp) use() {
	if s.d != nil && s.d.released.Load() {
		panic(fmt.Sprintf("slab: use of a released view made at %s", s.where()))
	}
}

func (s stamp) release() error {
	if s.d != nil && !s.d.released.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: view made at %s", ErrReleased, s.where())
	}
	return nil
}

// poison fills a buffer that no view points into any more.
func poison(b []byte) {
	for i := range b {
		b[i] = PoisonByte
	}
}
