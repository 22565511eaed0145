package process_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zcomm-go/zcomm/header"
	"github.com/zcomm-go/zcomm/process"
)

// The bad-frame tests run a group of badPeers workers; worker badReader
// receives buffers injected as if from worker badProducer, whose frames
// claim source 0, so that an error naming the producer shows that the name
// came from the ring entry, not from the header.
const (
	badPeers      = 3
	badReader     = 1
	badProducer   = 2
	badMaxPayload = 1024
)

// goodFrame returns a well-formed frame for worker badReader on channel 1
// carrying v as a Uint64 payload.
func goodFrame(v uint64) []byte {
	h := header.Header{Channel: 1, Source: 0, TargetLower: badReader,
		TargetUpper: badReader + 1, Seqno: v}
	return frame(h, binary.BigEndian.AppendUint64(nil, v))
}

// badCase is a frame that worker badReader must refuse.
type badCase struct {
	name  string
	bytes []byte
	want  error // the header sentinel the error wraps
	tail  bool  // a good frame after the bad one must be dropped with it
}

// badCases returns every kind of frame that does not parse at worker
// badReader of badPeers with payloads of at most badMaxPayload bytes.
func badCases() []badCase {
	ok := header.Header{Channel: 1, Source: 0, TargetLower: badReader,
		TargetUpper: badReader + 1}
	with := func(f func(h *header.Header)) header.Header {
		h := ok
		f(&h)
		return h
	}
	withLength := func(n uint64, payload int) []byte {
		h := with(func(h *header.Header) { h.Length = n })
		return append(h.Append(nil), make([]byte, payload)...)
	}
	eight := make([]byte, 8)
	return []badCase{
		{name: "runs past the buffer", bytes: withLength(100, 10), want: header.ErrLength},
		{name: "runs past by one byte", bytes: withLength(8, 7), want: header.ErrLength},
		{name: "exceeds the max payload", bytes: withLength(badMaxPayload+1, badMaxPayload+1),
			want: header.ErrLength},
		{name: "length 2^63", bytes: withLength(1<<63, 16), want: header.ErrLength},
		{name: "length 2^64-1", bytes: withLength(math.MaxUint64, 16), want: header.ErrLength},
		{name: "length 2^64-48", bytes: withLength(math.MaxUint64-47, 16),
			want: header.ErrLength},
		{name: "empty target range", bytes: frame(with(func(h *header.Header) {
			h.TargetLower, h.TargetUpper = badReader, badReader
		}), eight), want: header.ErrTarget, tail: true},
		{name: "reversed target range", bytes: frame(with(func(h *header.Header) {
			h.TargetLower, h.TargetUpper = badReader+1, badReader
		}), eight), want: header.ErrTarget, tail: true},
		{name: "range excludes this worker", bytes: frame(with(func(h *header.Header) {
			h.TargetLower, h.TargetUpper = badReader+1, badPeers
		}), eight), want: header.ErrTarget, tail: true},
		{name: "range ends at this worker", bytes: frame(with(func(h *header.Header) {
			h.TargetLower, h.TargetUpper = 0, badReader
		}), eight), want: header.ErrTarget, tail: true},
		{name: "source is not a peer", bytes: frame(with(func(h *header.Header) {
			h.Source = badPeers
		}), eight), want: header.ErrSource, tail: true},
		{name: "source 2^64-1", bytes: frame(with(func(h *header.Header) {
			h.Source = math.MaxUint64
		}), eight), want: header.ErrSource, tail: true},
		{name: "47 bytes left", bytes: ok.Append(nil)[:header.Size-1],
			want: header.ErrTruncated},
		{name: "one byte left", bytes: []byte{0}, want: header.ErrTruncated},
	}
}

// TestBadFrames injects a buffer with a frame that does not parse, after
// zero or two good ones, and checks that Receive delivers the frames before
// it, reports the producer and offset, counts and releases the rest, never
// hangs, and goes on delivering well-formed buffers from every peer.
func TestBadFrames(t *testing.T) {
	watchdog(t)
	for _, bc := range badCases() {
		for _, prefix := range []int{0, 2} {
			t.Run(fmt.Sprintf("%s/after %d", bc.name, prefix), func(t *testing.T) {
				testBadFrame(t, bc, prefix)
			})
		}
	}
}

func testBadFrame(t *testing.T, bc badCase, prefix int) {
	as := newGroup(t, badPeers, process.WithMaxPayload(badMaxPayload))
	chs := allocate(t, as, 1, process.Uint64{})
	a := as[badReader]
	in := newInjector(t)

	var buf []byte
	for i := 0; i < prefix; i++ {
		buf = append(buf, goodFrame(uint64(i))...)
	}
	off := len(buf)
	buf = append(buf, bc.bytes...)
	if bc.tail {
		buf = append(buf, goodFrame(99)...)
	}
	in.push(a, badProducer, buf)
	// A well-formed buffer drained with the bad one is received as usual.
	in.push(a, 0, goodFrame(1000))

	err := a.Receive()
	if !errors.Is(err, process.ErrBadFrame) || !errors.Is(err, bc.want) {
		t.Fatalf("Receive: %v, want ErrBadFrame and %v", err, bc.want)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("worker %d", badProducer)) ||
		!mentions(err, uint64(off)) {
		t.Errorf("error %q does not name worker %d and offset %d", err, badProducer, off)
	}
	ms := pullAll(t, chs[badReader].Puller)
	want := append(upTo(prefix), 1000)
	if got := values(ms); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	s := a.Stats()
	if s.Drops.BadFrames != 1 || s.Drops.BadFrameBytes != uint64(len(buf)-off) {
		t.Errorf("Drops.BadFrames %d, BadFrameBytes %d; want 1, %d",
			s.Drops.BadFrames, s.Drops.BadFrameBytes, len(buf)-off)
	}
	if got := s.Peers[badProducer].MessagesReceived; got != uint64(prefix) {
		t.Errorf("%d messages counted from worker %d, want %d", got, badProducer, prefix)
	}
	if v := in.outstanding(); v != int64(prefix+1) {
		t.Errorf("%d views of the injected buffers live, want %d (the pulled messages)",
			v, prefix+1)
	}
	releaseAll(t, ms)
	if v := in.outstanding(); v != 0 {
		t.Errorf("%d views of the injected buffers live after release, want 0", v)
	}

	// Reception goes on: every peer's pushes and injected buffers arrive.
	for i, ch := range chs {
		if err := ch.Push(badReader, uint64(2000+i)); err != nil {
			t.Fatalf("worker %d push: %v", i, err)
		}
	}
	in.push(a, badProducer, append(goodFrame(3000), goodFrame(3001)...))
	ms = receiveAll(t, a, chs[badReader].Puller)
	// Order holds per sender only; the worker's own message may come first.
	got := values(ms)
	slices.Sort(got)
	if !slices.Equal(got, []uint64{2000, 2001, 2002, 3000, 3001}) {
		t.Errorf("after the bad frame, delivered %v", values(ms))
	}
	releaseAll(t, ms)
	if v := in.outstanding(); v != 0 {
		t.Errorf("%d views of the injected buffers live, want 0", v)
	}
}

// TestBadFrameInJoinedEntries pushes three consecutive views of one buffer
// from one producer, which Receive splits as one, with a bad frame in the
// first: the frame's length would fit in the joined bytes but runs past its
// own entry. Only the rest of that entry is dropped, the error names the
// offset within the entry, and the later entries are delivered whole.
func TestBadFrameInJoinedEntries(t *testing.T) {
	watchdog(t)
	as := newGroup(t, badPeers, process.WithMaxPayload(badMaxPayload))
	chs := allocate(t, as, 1, process.Uint64{})
	a := as[badReader]
	in := newInjector(t)

	bad := goodFrame(99)
	binary.BigEndian.PutUint64(bad[32:], 64) // 64 payload bytes, 8 present
	first := append(goodFrame(0), bad...)
	in.push(a, badProducer, first)
	in.push(a, badProducer, append(goodFrame(1), goodFrame(2)...))
	in.push(a, badProducer, append(goodFrame(3), goodFrame(4)...))

	err := a.Receive()
	if !errors.Is(err, process.ErrBadFrame) || !errors.Is(err, header.ErrLength) {
		t.Fatalf("Receive: %v, want ErrBadFrame and ErrLength", err)
	}
	if off := len(goodFrame(0)); !mentions(err, uint64(off)) || !mentions(err, uint64(len(first))) {
		t.Errorf("error %q does not name offset %d of %d", err, off, len(first))
	}
	ms := pullAll(t, chs[badReader].Puller)
	if got := values(ms); !slices.Equal(got, []uint64{0, 1, 2, 3, 4}) {
		t.Errorf("delivered %v, want [0 1 2 3 4]", got)
	}
	s := a.Stats()
	if s.Drops.BadFrames != 1 || s.Drops.BadFrameBytes != uint64(len(bad)) {
		t.Errorf("Drops.BadFrames %d, BadFrameBytes %d; want 1, %d",
			s.Drops.BadFrames, s.Drops.BadFrameBytes, len(bad))
	}
	if v := in.outstanding(); v != int64(len(ms)) {
		t.Errorf("%d views of the injected buffers live, want %d (the pulled messages)",
			v, len(ms))
	}
	releaseAll(t, ms)
	if v := in.outstanding(); v != 0 {
		t.Errorf("%d views of the injected buffers live after release, want 0", v)
	}
}

// timelyFrames returns the frames of the timely test vectors, one slice per
// frame, or nothing if the file is absent.
func timelyFrames() [][]byte {
	bin, err := os.ReadFile(filepath.Join("..", "..", "shared", "testdata",
		"timely-frames.bin"))
	if err != nil {
		return nil
	}
	var out [][]byte
	for len(bin) >= header.Size {
		h, _ := header.Decode(bin)
		n, ok := h.FrameSize()
		if !ok || n > len(bin) {
			break
		}
		out = append(out, bin[:n:n])
		bin = bin[n:]
	}
	return out
}

// FuzzSplit injects arbitrary bytes as one buffer into worker 1 of three and
// checks that Receive neither panics nor hangs, that the messages it counts
// and the bytes it drops account for the whole buffer, that every message
// went to a channel or to a drop counter, and that every view is released
// once the worker shuts down.
func FuzzSplit(f *testing.F) {
	f.Add(goodFrame(1))
	f.Add(bytes.Join([][]byte{goodFrame(1), goodFrame(2), goodFrame(3)}, nil))
	for _, h := range []header.Header{
		{Channel: 0, TargetLower: 1, TargetUpper: 2},              // below the bound
		{Channel: 5, Source: 2, TargetLower: 0, TargetUpper: 3},   // staged broadcast
		{Channel: 1, Source: 1, TargetLower: 1, TargetUpper: 2},   // zero-length
		{Channel: math.MaxUint64, TargetLower: 1, TargetUpper: 2}, // highest id
	} {
		f.Add(append(frame(h, nil), goodFrame(7)...))
	}
	for _, bc := range badCases() {
		f.Add(bc.bytes)
		f.Add(append(goodFrame(1), bc.bytes...))
	}
	frames := timelyFrames()
	var small, patched []byte
	for i, fr := range frames {
		if len(fr) <= 4096+header.Size {
			f.Add(fr)
		}
		if i < 12 {
			small = append(small, fr...)
			// The same frame, addressed to worker 1 by a peer.
			p := slices.Clone(fr)
			binary.BigEndian.PutUint64(p[8:], 0)
			binary.BigEndian.PutUint64(p[16:], 1)
			binary.BigEndian.PutUint64(p[24:], 2)
			patched = append(patched, p...)
		}
	}
	if len(frames) > 0 {
		f.Add(small)
		f.Add(patched)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return // a writer cannot make an empty view
		}
		watchdog(t)
		as := newGroup(t, 3, process.WithRingSize(2))
		a := as[1]
		ch, err := process.Allocate(a, 1, process.Bytes{})
		if err != nil {
			t.Fatal(err)
		}
		in := newInjector(t)
		in.push(a, 2, data)

		err = a.Receive()
		s := a.Stats()
		if err != nil && !errors.Is(err, process.ErrBadFrame) {
			t.Fatalf("Receive: %v", err)
		}
		if (err != nil) != (s.Drops.BadFrames == 1) || s.Drops.BadFrames > 1 {
			t.Fatalf("Receive: %v, but Drops.BadFrames is %d", err, s.Drops.BadFrames)
		}
		ps := s.Peers[2]
		used := ps.MessagesReceived*header.Size + ps.BytesReceived
		if used+s.Drops.BadFrameBytes != uint64(len(data)) {
			t.Fatalf("%d messages of %d payload bytes and %d dropped bytes, buffer of %d",
				ps.MessagesReceived, ps.BytesReceived, s.Drops.BadFrameBytes, len(data))
		}
		kept := uint64(s.Queued) + s.Drops.ClosedChannel + s.Drops.StagedLimit
		if ps.MessagesReceived != kept {
			t.Fatalf("%d messages received, %d queued or dropped", ps.MessagesReceived, kept)
		}
		if ev := a.DrainEvents(nil); uint64(len(ev)) != ps.MessagesReceived {
			t.Fatalf("%d events for %d messages", len(ev), ps.MessagesReceived)
		}
		for _, m := range pullAll(t, ch.Puller) {
			if m.Header().Channel != 1 || uint64(len(m.Value)) != m.Header().Length ||
				m.Header().TargetLower > 1 || m.Header().TargetUpper <= 1 || m.Header().Source > 2 {
				t.Fatalf("delivered a message with header %v and %d bytes", m.Header(),
					len(m.Value))
			}
			if err := m.Release(); err != nil {
				t.Fatal(err)
			}
		}
		a.Shutdown()
		if v := in.outstanding(); v != 0 {
			t.Fatalf("%d views live after Shutdown", v)
		}
	})
}
