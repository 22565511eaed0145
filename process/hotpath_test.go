package process_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/zcomm-go/zcomm/header"
	"github.com/zcomm-go/zcomm/process"
)

// chFrame is a good frame from worker 0 to badReader on channel ch, whose
// payload and seqno are v.
func chFrame(ch, v uint64) []byte {
	h := header.Header{Channel: ch, Source: 0, TargetLower: badReader,
		TargetUpper: badReader + 1, Seqno: v}
	return frame(h, binary.BigEndian.AppendUint64(nil, v))
}

// cat joins frames into one entry.
func cat(bs ...[]byte) []byte { return slices.Concat(bs...) }

// TestSingleFrame checks split's path for a view of one frame (one entry,
// one reference, the frame filling it) against every kind of routing, and
// the entries that look like one but are not: a frame followed by garbage, a
// frame followed by a good frame, a bad single frame.
func TestSingleFrame(t *testing.T) {
	watchdog(t)
	as := newGroup(t, badPeers, process.WithMaxPayload(badMaxPayload))
	a := as[badReader]
	c1, err := process.Allocate(a, 1, process.Uint64{})
	if err != nil {
		t.Fatal(err)
	}
	in := newInjector(t)

	// Allocated channel.
	in.push(a, badProducer, chFrame(1, 10))
	if err := a.Receive(); err != nil {
		t.Fatal(err)
	}
	ms := pullAll(t, c1.Puller)
	if got := values(ms); !slices.Equal(got, []uint64{10}) {
		t.Fatalf("single frame: %v", got)
	}
	if ms[0].Header().Seqno != 10 || len(ms[0].Payload()) != 8 {
		t.Fatalf("single frame header %v payload %d", ms[0].Header(), len(ms[0].Payload()))
	}
	s := a.Stats()
	if p := s.Peers[badProducer]; p.MessagesReceived != 1 || p.BytesReceived != 8 {
		t.Fatalf("stats after one frame: %+v", p)
	}
	// One event for the message, one for the puller running dry.
	if ev := a.DrainEvents(nil); !slices.Equal(ev, []uint64{1, 1}) {
		t.Fatalf("events %v", ev)
	}
	releaseAll(t, ms)
	if v := in.outstanding(); v != 0 {
		t.Fatalf("%d views live", v)
	}

	// A zero-length payload frame that fills its entry.
	in.push(a, badProducer, frame(header.Header{Channel: 1, TargetLower: badReader,
		TargetUpper: badReader + 1}, nil))
	if err := a.Receive(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c1.Puller.Pull(); err == nil || !errors.Is(err, process.ErrDecode) {
		t.Fatalf("zero-length Uint64: %v, want a decode error", err)
	}
	if v := in.outstanding(); v != 0 {
		t.Fatalf("%d views live after a decode error", v)
	}

	// A frame followed by 5 bytes of garbage: not the fast path; the frame is
	// delivered, the 5 bytes dropped, offset 56 of 61 reported.
	in.push(a, badProducer, cat(chFrame(1, 11), []byte{1, 2, 3, 4, 5}))
	err = a.Receive()
	if !errors.Is(err, process.ErrBadFrame) || !errors.Is(err, header.ErrTruncated) ||
		!mentions(err, 56) || !mentions(err, 61) {
		t.Fatalf("frame+garbage: %v", err)
	}
	ms = pullAll(t, c1.Puller)
	if got := values(ms); !slices.Equal(got, []uint64{11}) {
		t.Fatalf("frame+garbage delivered %v", got)
	}
	s = a.Stats()
	if s.Drops.BadFrames != 1 || s.Drops.BadFrameBytes != 5 {
		t.Fatalf("drops %+v", s.Drops)
	}
	if p := s.Peers[badProducer]; p.MessagesReceived != 3 || p.BytesReceived != 16 {
		t.Fatalf("stats: %+v", p)
	}
	releaseAll(t, ms)

	// A single bad frame: the fast path's ReadFrame fails, the slow path
	// reports it at offset 0.
	bad := chFrame(1, 12)
	binary.BigEndian.PutUint64(bad[24:], badReader) // empty target range
	in.push(a, badProducer, bad)
	err = a.Receive()
	if !errors.Is(err, process.ErrBadFrame) || !errors.Is(err, header.ErrTarget) ||
		!mentions(err, 0) {
		t.Fatalf("bad single: %v", err)
	}
	if v := in.outstanding(); v != 0 {
		t.Fatalf("%d views live after a bad single frame", v)
	}
	if s := a.Stats(); s.Drops.BadFrames != 2 || s.Drops.BadFrameBytes != 5+uint64(len(bad)) {
		t.Fatalf("drops %+v", s.Drops)
	}

	// Single frame for a channel not yet allocated: staged, then delivered.
	in.push(a, badProducer, chFrame(5, 50))
	if err := a.Receive(); err != nil {
		t.Fatal(err)
	}
	if s := a.Stats(); s.Staged != 56 || s.Queued != 1 {
		t.Fatalf("staged %d queued %d", s.Staged, s.Queued)
	}
	c5, err := process.Allocate(a, 5, process.Uint64{})
	if err != nil {
		t.Fatal(err)
	}
	ms = pullAll(t, c5.Puller)
	if got := values(ms); !slices.Equal(got, []uint64{50}) {
		t.Fatalf("staged single delivered %v", got)
	}
	releaseAll(t, ms)

	// Single frame for a channel below the bound, never allocated: dropped.
	in.push(a, badProducer, chFrame(3, 30))
	if err := a.Receive(); err != nil {
		t.Fatal(err)
	}
	if s := a.Stats(); s.Drops.ClosedChannel != 1 || s.Queued != 0 {
		t.Fatalf("below-bound: drops %+v queued %d", s.Drops, s.Queued)
	}
	// Single frame for a closed channel: dropped and counted.
	c5.Close()
	in.push(a, badProducer, chFrame(5, 51))
	if err := a.Receive(); err != nil {
		t.Fatal(err)
	}
	if s := a.Stats(); s.Drops.ClosedChannel != 2 || s.Queued != 0 {
		t.Fatalf("closed: drops %+v queued %d", s.Drops, s.Queued)
	}
	if v := in.outstanding(); v != 0 {
		t.Fatalf("%d views live", v)
	}
}

// sizeCodec is Uint64 with a settable Size, for sizes the fast path must
// refuse once a buffer exists.
type sizeCodec struct {
	process.Uint64
	n *int
}

func (c sizeCodec) Size(uint64) int { return *c.n }
func (c sizeCodec) Encode(dst []byte, v uint64) {
	if len(dst) >= 8 {
		binary.BigEndian.PutUint64(dst, v)
	}
}
func (c sizeCodec) Decode(src []byte) (uint64, error) {
	if len(src) < 8 {
		return 0, errors.New("short")
	}
	return binary.BigEndian.Uint64(src), nil
}

// TestReserveRefusalsWithRoom checks that every refusal of a push holds when
// the current buffer has room for the frame, where reserve's one-test common
// case would otherwise take it: sizes out of range, and a poisoned group.
func TestReserveRefusalsWithRoom(t *testing.T) {
	watchdog(t)
	size := 8
	for _, mode := range []process.Publish{process.Eager, process.Batched} {
		t.Run(mode.String(), func(t *testing.T) {
			as := newGroup(t, 2, process.WithPublish(mode), process.WithMaxPayload(100))
			ch := allocate[uint64](t, as, 1, sizeCodec{n: &size})
			size = 8
			if err := ch[0].Push(1, 1); err != nil { // takes a buffer
				t.Fatal(err)
			}
			for _, n := range []int{-1, -48, -49, math.MinInt, 101, math.MaxInt, math.MaxInt - 47} {
				size = n
				err := ch[0].Push(1, 2)
				if err == nil {
					t.Fatalf("Push of size %d succeeded", n)
				}
				if n > 100 && !errors.Is(err, process.ErrTooLarge) {
					t.Errorf("size %d: %v, want ErrTooLarge", n, err)
				}
				if n < 0 && !strings.Contains(err.Error(), "negative") {
					t.Errorf("size %d: %v, want the negative-size error", n, err)
				}
				if err := ch[0].Broadcast(2); err == nil {
					t.Errorf("Broadcast of size %d succeeded", n)
				}
			}
			size = 100
			if err := ch[0].Push(1, 3); err != nil {
				t.Fatalf("Push at the maximum: %v", err)
			}
			size = 8
			if err := as[0].Release(); err != nil {
				t.Fatal(err)
			}
			ms := receiveAll(t, as[1], ch[1].Puller)
			if got := values(ms); !slices.Equal(got, []uint64{1, 3}) {
				t.Fatalf("delivered %v", got)
			}
			if s := as[0].Stats(); s.Peers[1].MessagesSent != 2 || s.Peers[1].BytesSent != 108 {
				t.Fatalf("sent stats %+v", s.Peers[1])
			}
			releaseAll(t, ms)

			// Poisoned: refused though the buffer has room.
			if err := ch[1].Push(0, 1); err != nil {
				t.Fatal(err)
			}
			as[0].Poison(errors.New("boom"))
			if err := ch[1].Push(0, 1); !errors.Is(err, process.ErrPoisoned) {
				t.Fatalf("Push after Poison: %v", err)
			}
		})
	}
}

// TestRouteCachedInbox follows the inbox that route remembers through every
// way an inbox changes: staged channels dropped by a higher Allocate, a staged
// channel allocated, a puller closed while messages for it arrive in the same
// Receive that forgets it, a channel never seen before, and Shutdown.
func TestRouteCachedInbox(t *testing.T) {
	watchdog(t)
	as := newGroup(t, badPeers, process.WithMaxPayload(badMaxPayload))
	a := as[badReader]
	in := newInjector(t)
	recv := func(want error) {
		t.Helper()
		if err := a.Receive(); !errors.Is(err, want) && err != want {
			t.Fatalf("Receive: %v", err)
		}
		a.DrainEvents(nil)
	}

	// Stage channels 5 and 9, in streaks so that the cache points at them.
	in.push(a, badProducer, cat(chFrame(5, 0), chFrame(5, 1)))
	in.push(a, 0, chFrame(5, 2))
	in.push(a, 0, chFrame(9, 0))
	recv(nil)
	in.push(a, badProducer, chFrame(9, 1))
	recv(nil)
	in.push(a, badProducer, chFrame(5, 3)) // the cache now points at 5's inbox
	recv(nil)
	if n := process.Inboxes(a); n != 2 {
		t.Fatalf("%d inboxes", n)
	}
	// Allocating 7 drops 5's staged messages (ids only increase).
	c7, err := process.Allocate(a, 7, process.Uint64{})
	if err != nil {
		t.Fatal(err)
	}
	if s := a.Stats(); s.Drops.ClosedChannel != 4 || s.Staged != 56*2 {
		t.Fatalf("after Allocate(7): drops %+v staged %d", s.Drops, s.Staged)
	}
	// Later messages for 5 are dropped, not staged again in the inbox the
	// cache held.
	in.push(a, badProducer, chFrame(5, 4))
	recv(nil)
	if s := a.Stats(); s.Drops.ClosedChannel != 5 || s.Staged != 56*2 || process.Inboxes(a) != 2 {
		t.Fatalf("message for dropped 5: drops %+v, %d inboxes", s.Drops, process.Inboxes(a))
	}
	// The cache now points at 9's staged inbox; allocating 9 keeps it.
	in.push(a, badProducer, chFrame(9, 2))
	recv(nil)
	c9, err := process.Allocate(a, 9, process.Uint64{})
	if err != nil {
		t.Fatal(err)
	}
	in.push(a, badProducer, chFrame(9, 3))
	recv(nil)
	ms := pullAll(t, c9.Puller)
	if got := values(ms); !slices.Equal(got, []uint64{0, 1, 2, 3}) {
		t.Fatalf("channel 9 delivered %v", got)
	}
	releaseAll(t, ms)

	// Close 9's puller while the cache points at it; in the same Receive,
	// its inbox is forgotten first, then messages for 9 come: all dropped.
	in.push(a, badProducer, chFrame(9, 4))
	recv(nil)
	c9.Close()
	before := a.Stats().Drops.ClosedChannel
	in.push(a, badProducer, cat(chFrame(9, 5), chFrame(9, 6)))
	in.push(a, 0, chFrame(9, 7))
	in.push(a, 0, cat(chFrame(7, 0), chFrame(9, 8)))
	recv(nil)
	if s := a.Stats(); s.Drops.ClosedChannel != before+5 || s.Queued != 1 {
		t.Fatalf("after closing 9: drops %d (before %d), queued %d", s.Drops.ClosedChannel,
			before, s.Queued)
	}
	if _, _, err := c9.Puller.Pull(); !errors.Is(err, process.ErrClosed) {
		t.Fatalf("Pull of closed: %v", err)
	}
	// Close while messages are queued and the cache points at it, and
	// messages arrive before the next Receive forgets it... they arrive in
	// that Receive, after the forget.
	in.push(a, badProducer, chFrame(7, 1))
	recv(nil)
	c7.Close()
	in.push(a, badProducer, chFrame(7, 2))
	before = a.Stats().Drops.ClosedChannel
	recv(nil)
	if s := a.Stats(); s.Drops.ClosedChannel != before+3 || s.Queued != 0 {
		t.Fatalf("after closing 7: drops %d (before %d), queued %d", s.Drops.ClosedChannel,
			before, s.Queued)
	}
	if n := process.Inboxes(a); n != 0 {
		t.Fatalf("%d inboxes left", n)
	}
	// A fresh channel above them all: staged then delivered, the cache having
	// held nil for it.
	in.push(a, badProducer, chFrame(20, 0))
	in.push(a, 0, chFrame(20, 1))
	recv(nil)
	c20, _ := process.Allocate(a, 20, process.Uint64{})
	in.push(a, 0, chFrame(20, 2))
	recv(nil)
	ms = pullAll(t, c20.Puller)
	if got := values(ms); !slices.Equal(got, []uint64{0, 1, 2}) {
		t.Fatalf("channel 20 delivered %v", got)
	}
	releaseAll(t, ms)
	// Shutdown with the cache pointing at 20, something queued.
	in.push(a, badProducer, chFrame(20, 3))
	recv(nil)
	a.Shutdown()
	if v := in.outstanding(); v != 0 {
		t.Fatalf("%d views live after Shutdown", v)
	}
	if err := a.Receive(); !errors.Is(err, process.ErrClosed) {
		t.Fatalf("Receive after Shutdown: %v", err)
	}
}

// FuzzSplitEntries cuts arbitrary bytes into up to eight ring entries from
// two producers (consecutive entries of one producer are joined by Receive)
// and compares everything Receive does with a model that parses each entry
// on its own: the messages each channel gets, in order; drops; per-peer
// counts; events; the first error's offset within its entry; references.
func FuzzSplitEntries(f *testing.F) {
	g := func(ch, v uint64) []byte { return chFrame(ch, v) }
	f.Add(cat(g(1, 0), g(1, 1), g(2, 2), g(1, 3)), uint64(0x38_70), uint8(0))
	f.Add(cat(g(1, 0), g(2, 1), g(2, 2), g(1, 3), g(0, 4), g(7, 5)), uint64(0x38_70_a8), uint8(2))
	f.Add(cat(g(1, 0), []byte{1, 2, 3}, g(1, 1)), uint64(0x3b), uint8(0))
	f.Add(g(1, 0), uint64(0), uint8(0))
	f.Add(cat(g(2, 0), g(2, 1)), uint64(0x38), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, cuts uint64, producers uint8) {
		if len(data) == 0 || len(data) > 3000 {
			return
		}
		// Entry boundaries: each byte of cuts, scaled, is a cut point.
		var ends []int
		for i := 0; i < 8 && cuts != 0; i++ {
			c := int(cuts&0xff) * len(data) / 255
			cuts >>= 8
			if c > 0 && c < len(data) && !slices.Contains(ends, c) {
				ends = append(ends, c)
			}
		}
		slices.Sort(ends)
		ends = append(ends, len(data))

		as := newGroup(t, badPeers, process.WithMaxPayload(badMaxPayload), process.WithRingSize(16))
		a := as[badReader]
		c1, _ := process.Allocate(a, 1, process.Bytes{})
		c2, _ := process.Allocate(a, 2, process.Bytes{})
		in := newInjector(t)

		// The model.
		want := map[uint64][][]byte{}
		var wantStaged, wantClosed, badFrames, badBytes, msgs, payload uint64
		perPeer := map[int][2]uint64{}
		var wantErr string
		start := 0
		for i, end := range ends {
			prod := 0
			if producers>>(i%8)&1 == 1 {
				prod = 2
			}
			entry := data[start:end]
			in.push(a, prod, entry)
			for off := 0; off < len(entry); {
				var h header.Header
				err := h.Read(entry[off:])
				n := 0
				if err == nil {
					n, err = h.Check(len(entry)-off, badMaxPayload, badReader, badPeers)
				}
				if err != nil {
					if wantErr == "" {
						wantErr = fmt.Sprintf("from worker %d at offset %d of %d:", prod, off, len(entry))
					}
					badFrames++
					badBytes += uint64(len(entry) - off)
					break
				}
				p := perPeer[prod]
				p[0]++
				p[1] += uint64(n - header.Size)
				perPeer[prod] = p
				msgs++
				payload += uint64(n - header.Size)
				switch {
				case h.Channel == 1 || h.Channel == 2:
					want[h.Channel] = append(want[h.Channel], entry[off+header.Size:off+n])
				case h.Channel < 2:
					wantClosed++
				default:
					wantStaged++
				}
				off += n
			}
			start = end
		}

		err := a.Receive()
		if (err != nil) != (wantErr != "") {
			t.Fatalf("Receive: %v; model expects error %q", err, wantErr)
		}
		if err != nil && (!errors.Is(err, process.ErrBadFrame) ||
			!bytes.Contains([]byte(err.Error()), []byte(wantErr))) {
			t.Fatalf("Receive: %v; want %q", err, wantErr)
		}
		s := a.Stats()
		if s.Drops.BadFrames != badFrames || s.Drops.BadFrameBytes != badBytes ||
			s.Drops.ClosedChannel != wantClosed || s.Drops.StagedLimit != 0 {
			t.Fatalf("drops %+v; want %d bad frames, %d bytes, %d closed", s.Drops, badFrames,
				badBytes, wantClosed)
		}
		for _, p := range []int{0, 2} {
			if got := s.Peers[p]; got.MessagesReceived != perPeer[p][0] ||
				got.BytesReceived != perPeer[p][1] {
				t.Fatalf("peer %d: %+v; want %v", p, got, perPeer[p])
			}
		}
		if ev := a.DrainEvents(nil); uint64(len(ev)) != msgs {
			t.Fatalf("%d events, %d messages", len(ev), msgs)
		}
		if uint64(s.Queued) != wantStaged+uint64(len(want[1])+len(want[2])) {
			t.Fatalf("queued %d", s.Queued)
		}
		for ch, p := range map[uint64]*process.Puller[[]byte]{1: c1.Puller, 2: c2.Puller} {
			ms := pullAll(t, p)
			if len(ms) != len(want[ch]) {
				t.Fatalf("channel %d: %d messages, want %d", ch, len(ms), len(want[ch]))
			}
			for i, m := range ms {
				if !bytes.Equal(m.Value, want[ch][i]) || m.Header().Channel != ch ||
					m.Header().Length != uint64(len(m.Value)) {
					t.Fatalf("channel %d message %d: %x (header %v), want %x", ch, i, m.Value,
						m.Header(), want[ch][i])
				}
			}
			if v := in.outstanding(); v < int64(len(ms)) {
				t.Fatalf("%d views live with %d messages held", v, len(ms))
			}
			releaseAll(t, ms)
		}
		if v := in.outstanding(); v != int64(wantStaged) {
			t.Fatalf("%d views live, %d staged", v, wantStaged)
		}
		a.Shutdown()
		if v := in.outstanding(); v != 0 {
			t.Fatalf("%d views live after Shutdown", v)
		}
	})
}
