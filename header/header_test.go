package header_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/zcomm-go/zcomm/header"
)

// TestDecodeShort checks that every input shorter than a header is refused
// with an error wrapping ErrTruncated, and none makes Decode panic.
func TestDecodeShort(t *testing.T) {
	full := bytes.Repeat([]byte{0xff}, header.Size)
	for n := 0; n < header.Size; n++ {
		for _, src := range [][]byte{full[:n], make([]byte, n), full[:n:n]} {
			h, err := header.Decode(src)
			if !errors.Is(err, header.ErrTruncated) {
				t.Errorf("Decode(%d bytes): error %v, want ErrTruncated", n, err)
			}
			if h != (header.Header{}) {
				t.Errorf("Decode(%d bytes) returned %v with its error, want zero", n, h)
			}
		}
	}
	if _, err := header.Decode(nil); !errors.Is(err, header.ErrTruncated) {
		t.Errorf("Decode(nil): error %v, want ErrTruncated", err)
	}
}

// TestDecodeAny checks that inputs of 48 bytes or more always decode, that
// only the first 48 bytes count, and that Put gives those bytes back.
func TestDecodeAny(t *testing.T) {
	patterns := [][]byte{
		make([]byte, header.Size),
		bytes.Repeat([]byte{0xff}, header.Size),
		bytes.Repeat([]byte{0x80}, header.Size),
		bytes.Repeat([]byte{0x01, 0x00}, header.Size/2),
	}
	seq := make([]byte, header.Size)
	for i := range seq {
		seq[i] = byte(i + 1)
	}
	patterns = append(patterns, seq)
	for _, p := range patterns {
		for extra := 0; extra <= 3; extra++ {
			src := append(append([]byte(nil), p...), bytes.Repeat([]byte{0x5a}, extra)...)
			h, err := header.Decode(src)
			if err != nil {
				t.Errorf("Decode(%x): %v", src, err)
				continue
			}
			var out [header.Size]byte
			h.Put(out[:])
			if !bytes.Equal(out[:], p) {
				t.Errorf("Decode then Put of %x gives %x", src, out)
			}
		}
	}

	want := header.Header{
		Channel: 0x0102030405060708, Source: 0x090a0b0c0d0e0f10,
		TargetLower: 0x1112131415161718, TargetUpper: 0x191a1b1c1d1e1f20,
		Length: 0x2122232425262728, Seqno: 0x292a2b2c2d2e2f30,
	}
	if h, _ := header.Decode(seq); h != want {
		t.Errorf("Decode(%x) = %v, want %v", seq, h, want)
	}
}

// TestPutShortPanics checks that Put into fewer than 48 bytes panics, as
// documented, without writing anything first.
func TestPutShortPanics(t *testing.T) {
	h := header.Header{Channel: 1, Source: 2, TargetLower: 3, TargetUpper: 4, Length: 5, Seqno: 6}
	dst := make([]byte, header.Size-1)
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("Put into %d bytes did not panic", len(dst))
			}
		}()
		h.Put(dst)
	}()
	if !bytes.Equal(dst, make([]byte, len(dst))) {
		t.Errorf("Put into %d bytes wrote %x before panicking", len(dst), dst)
	}
}

// TestFrameSize checks the frame size and its overflow report.
func TestFrameSize(t *testing.T) {
	const maxInt = int(^uint(0) >> 1)
	tests := []struct {
		length uint64
		want   int
		ok     bool
	}{
		{0, header.Size, true},
		{1, header.Size + 1, true},
		{uint64(maxInt - header.Size), maxInt, true},
		{uint64(maxInt-header.Size) + 1, 0, false},
		{1 << 63, 0, false},
		{math.MaxUint64 - header.Size + 1, 0, false},
		{math.MaxUint64, 0, false},
	}
	for _, tt := range tests {
		h := header.Header{Length: tt.length}
		if got, ok := h.FrameSize(); got != tt.want || ok != tt.ok {
			t.Errorf("FrameSize(length %d) = %d, %t; want %d, %t",
				tt.length, got, ok, tt.want, tt.ok)
		}
	}
}

// checkCase is one call of Check and what it should answer.
type checkCase struct {
	name       string
	hdr        header.Header
	avail      int
	maxLength  uint64
	reader     uint64
	peers      uint64
	wantSize   int
	wantErr    error  // nil for success
	wantInText string // a value the error message must name
}

// valid is a header that worker 1 of 4 accepts with 100 bytes available.
var valid = header.Header{
	Channel: 9, Source: 2, TargetLower: 1, TargetUpper: 2, Length: 52, Seqno: 7,
}

// with returns a copy of valid changed by f.
func with(f func(h *header.Header)) header.Header {
	h := valid
	f(&h)
	return h
}

var checkCases = []checkCase{
	{name: "valid", hdr: valid, avail: 100, maxLength: 1 << 20, reader: 1, peers: 4,
		wantSize: 100},
	{name: "valid with room to spare", hdr: valid, avail: 1 << 20, maxLength: 52,
		reader: 1, peers: 3, wantSize: 100},
	{name: "zero length", hdr: with(func(h *header.Header) { h.Length = 0 }),
		avail: header.Size, maxLength: 0, reader: 1, peers: 3, wantSize: header.Size},
	{name: "broadcast", hdr: with(func(h *header.Header) { h.TargetLower, h.TargetUpper = 0, 4 }),
		avail: 100, maxLength: 100, reader: 3, peers: 4, wantSize: 100},
	{name: "extreme target range",
		hdr: with(func(h *header.Header) {
			h.TargetLower, h.TargetUpper = math.MaxUint64-1, math.MaxUint64
			h.Source = math.MaxUint64 - 1
		}),
		avail: 100, maxLength: math.MaxUint64, reader: math.MaxUint64 - 1,
		peers: math.MaxUint64, wantSize: 100},

	{name: "length 2^63", hdr: with(func(h *header.Header) { h.Length = 1 << 63 }),
		avail: math.MaxInt, maxLength: math.MaxUint64, reader: 1, peers: 4,
		wantErr: header.ErrLength, wantInText: "9223372036854775808"},
	{name: "length 2^64-1", hdr: with(func(h *header.Header) { h.Length = math.MaxUint64 }),
		avail: math.MaxInt, maxLength: math.MaxUint64, reader: 1, peers: 4,
		wantErr: header.ErrLength, wantInText: "18446744073709551615"},
	{name: "length 2^64-48 (size wraps to 0)",
		hdr:   with(func(h *header.Header) { h.Length = math.MaxUint64 - header.Size + 1 }),
		avail: math.MaxInt, maxLength: math.MaxUint64, reader: 1, peers: 4,
		wantErr: header.ErrLength, wantInText: "18446744073709551568"},
	{name: "length 2^64-1 under a small maximum",
		hdr:   with(func(h *header.Header) { h.Length = math.MaxUint64 }),
		avail: 100, maxLength: 1 << 20, reader: 1, peers: 4,
		wantErr: header.ErrLength, wantInText: "18446744073709551615"},
	{name: "length one past avail", hdr: valid, avail: 99, maxLength: 1 << 20,
		reader: 1, peers: 4, wantErr: header.ErrLength, wantInText: "52"},
	{name: "avail shorter than a header", hdr: with(func(h *header.Header) { h.Length = 0 }),
		avail: header.Size - 1, maxLength: 1 << 20, reader: 1, peers: 4,
		wantErr: header.ErrLength},
	{name: "avail zero", hdr: valid, avail: 0, maxLength: 1 << 20, reader: 1, peers: 4,
		wantErr: header.ErrLength},
	{name: "avail negative", hdr: valid, avail: -1, maxLength: 1 << 20, reader: 1, peers: 4,
		wantErr: header.ErrLength},
	{name: "length one above max", hdr: valid, avail: 1000, maxLength: 51,
		reader: 1, peers: 4, wantErr: header.ErrLength, wantInText: "51"},
	{name: "max zero", hdr: valid, avail: 1000, maxLength: 0,
		reader: 1, peers: 4, wantErr: header.ErrLength, wantInText: "52"},

	{name: "empty target range", hdr: with(func(h *header.Header) { h.TargetUpper = 1 }),
		avail: 100, maxLength: 100, reader: 1, peers: 4, wantErr: header.ErrTarget},
	{name: "empty target range at zero",
		hdr:   with(func(h *header.Header) { h.TargetLower, h.TargetUpper = 0, 0 }),
		avail: 100, maxLength: 100, reader: 0, peers: 4, wantErr: header.ErrTarget},
	{name: "inverted target range",
		hdr:   with(func(h *header.Header) { h.TargetLower, h.TargetUpper = 3, 1 }),
		avail: 100, maxLength: 100, reader: 2, peers: 4, wantErr: header.ErrTarget,
		wantInText: "[3, 1)"},
	{name: "reader at upper bound", hdr: valid, avail: 100, maxLength: 100,
		reader: 2, peers: 4, wantErr: header.ErrTarget, wantInText: "2"},
	{name: "reader below lower bound", hdr: valid, avail: 100, maxLength: 100,
		reader: 0, peers: 4, wantErr: header.ErrTarget},
	{name: "reader far above",
		hdr:   with(func(h *header.Header) { h.TargetLower, h.TargetUpper = 0, 4 }),
		avail: 100, maxLength: 100, reader: math.MaxUint64, peers: 4,
		wantErr: header.ErrTarget, wantInText: "18446744073709551615"},

	{name: "source equals peers", hdr: valid, avail: 100, maxLength: 100,
		reader: 1, peers: 2, wantErr: header.ErrSource, wantInText: "2"},
	{name: "source above peers",
		hdr:   with(func(h *header.Header) { h.Source = math.MaxUint64 }),
		avail: 100, maxLength: 100, reader: 1, peers: 4,
		wantErr: header.ErrSource, wantInText: "18446744073709551615"},
	{name: "no peers", hdr: with(func(h *header.Header) { h.Source = 0 }),
		avail: 100, maxLength: 100, reader: 1, peers: 0, wantErr: header.ErrSource},
}

// TestCheck runs the table of Check cases: sizes on success, the sentinel an
// error wraps on failure (and only that one), and the values it names.
func TestCheck(t *testing.T) {
	sentinels := []error{header.ErrTruncated, header.ErrLength, header.ErrTarget,
		header.ErrSource}
	for _, tc := range checkCases {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.hdr
			n, err := h.Check(tc.avail, tc.maxLength, tc.reader, tc.peers)
			if h != tc.hdr {
				t.Errorf("Check changed the header to %v", h)
			}
			if tc.wantErr == nil {
				if err != nil || n != tc.wantSize {
					t.Errorf("Check = %d, %v; want %d, nil", n, err, tc.wantSize)
				}
				return
			}
			if n != 0 {
				t.Errorf("Check returned size %d with its error", n)
			}
			for _, s := range sentinels {
				if got, want := errors.Is(err, s), s == tc.wantErr; got != want {
					t.Errorf("Check error %v: errors.Is(err, %v) = %t, want %t",
						err, s, got, want)
				}
			}
			if err != nil && !strings.Contains(err.Error(), tc.wantInText) {
				t.Errorf("Check error %q does not name %s", err, tc.wantInText)
			}
		})
	}
}

// TestString checks that String names every field.
func TestString(t *testing.T) {
	h := header.Header{Channel: 11, Source: 22, TargetLower: 33, TargetUpper: 44,
		Length: 55, Seqno: math.MaxUint64}
	s := h.String()
	for _, v := range []uint64{11, 22, 33, 44, 55, math.MaxUint64} {
		if !strings.Contains(s, strconv.FormatUint(v, 10)) {
			t.Errorf("String() = %q lacks %d", s, v)
		}
	}
	if got := fmt.Sprint(h); got != s {
		t.Errorf("fmt.Sprint = %q, String() = %q", got, s)
	}
}

// TestZeroAllocs checks that the hot path (Put, Decode and a successful
// Check) allocates nothing.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	var buf [100]byte
	h := valid
	var r header.Header
	allocs := testing.AllocsPerRun(1000, func() {
		h.Put(buf[:])
		d, err := header.Decode(buf[:])
		if err != nil {
			panic(err)
		}
		if _, err := d.Check(100, 1<<20, 1, 4); err != nil {
			panic(err)
		}
		if _, err := r.ReadFrame(buf[:], 1<<20, 1, 4); err != nil {
			panic(err)
		}
		h.Seqno++
	})
	if allocs != 0 {
		t.Errorf("Put+Decode+Check+ReadFrame allocates %v times per run, want 0", allocs)
	}
}

// Sinks keep the compiler from discarding benchmarked work.
var (
	sinkHeader header.Header
	sinkBytes  [header.Size]byte
)

// BenchmarkPut measures encoding one header.
func BenchmarkPut(b *testing.B) {
	h := valid
	b.SetBytes(header.Size)
	b.ReportAllocs()
	for b.Loop() {
		h.Put(sinkBytes[:])
		h.Seqno++
	}
}

// BenchmarkDecode measures decoding one header.
func BenchmarkDecode(b *testing.B) {
	var src [header.Size]byte
	valid.Put(src[:])
	b.SetBytes(header.Size)
	b.ReportAllocs()
	for b.Loop() {
		h, err := header.Decode(src[:])
		if err != nil {
			b.Fatal(err)
		}
		sinkHeader = h
	}
}

func BenchmarkRead(b *testing.B) {
	var src [header.Size]byte
	valid.Put(src[:])
	var h header.Header
	b.SetBytes(header.Size)
	b.ReportAllocs()
	for b.Loop() {
		if err := h.Read(src[:]); err != nil {
			b.Fatal(err)
		}
	}
	sinkHeader = h
}
