package header_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/zcomm-go/zcomm/header"
)

// vectorHeaders returns the header bytes of every frame in timely-frames.bin
// and every golden header, or nothing if the vectors are absent. Fuzz seeds
// use it, so a missing folder costs seeds, not the fuzz target.
func vectorHeaders() [][]byte {
	dir, _ := testdataDir()
	if dir == "" {
		return nil
	}
	var out [][]byte
	if bin, err := readFile(dir, framesBin); err == nil {
		for len(bin) >= header.Size {
			h, _ := header.Decode(bin)
			n, ok := h.FrameSize()
			if !ok || n > len(bin) {
				break
			}
			out = append(out, bin[:header.Size:header.Size])
			bin = bin[n:]
		}
	}
	if golden, err := readFile(dir, goldenHeader); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(golden)), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			if enc, err := hex.DecodeString(f[len(f)-1]); err == nil {
				out = append(out, enc)
			}
		}
	}
	return out
}

// FuzzDecode checks that Decode never panics, refuses exactly the inputs
// shorter than a header, and that Put and Append give back the 48 bytes it
// read.
func FuzzDecode(f *testing.F) {
	for _, h := range vectorHeaders() {
		f.Add(h)
	}
	for _, tc := range checkCases {
		f.Add(tc.hdr.Append(nil))
	}
	for n := 0; n <= header.Size+1; n++ {
		f.Add(bytes.Repeat([]byte{0xff}, n))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := header.Decode(data)
		length, ok := header.PeekLength(data)
		if len(data) < header.Size {
			if !errors.Is(err, header.ErrTruncated) {
				t.Fatalf("Decode(%d bytes): error %v, want ErrTruncated", len(data), err)
			}
			if ok || length != 0 {
				t.Fatalf("PeekLength(%d bytes) = %d, %t; want 0, false", len(data), length, ok)
			}
			return
		}
		if err != nil {
			t.Fatalf("Decode(%x): %v", data, err)
		}
		if !ok || length != h.Length {
			t.Fatalf("PeekLength(%x) = %d, %t; Decode read length %d", data, length, ok, h.Length)
		}
		var out [header.Size]byte
		h.Put(out[:])
		if !bytes.Equal(out[:], data[:header.Size]) {
			t.Fatalf("Decode then Put of %x gives %x", data[:header.Size], out)
		}
		if app := h.Append(nil); !bytes.Equal(app, out[:]) {
			t.Fatalf("Append gives %x, Put gives %x", app, out)
		}
	})
}

// FuzzCheck checks Check against a model: it succeeds exactly when every
// condition holds, returning the frame size, and otherwise wraps a sentinel
// whose condition really fails.
func FuzzCheck(f *testing.F) {
	for _, tc := range checkCases {
		h := tc.hdr
		f.Add(h.Channel, h.Source, h.TargetLower, h.TargetUpper, h.Length, h.Seqno,
			tc.avail, tc.maxLength, tc.reader, tc.peers)
	}
	for _, raw := range vectorHeaders() {
		h, _ := header.Decode(raw)
		n, _ := h.FrameSize()
		f.Add(h.Channel, h.Source, h.TargetLower, h.TargetUpper, h.Length, h.Seqno,
			n, h.Length, h.TargetLower, h.Source+1)
	}
	f.Fuzz(func(t *testing.T, channel, source, lower, upper, length, seqno uint64,
		avail int, maxLength, reader, peers uint64) {
		h := header.Header{Channel: channel, Source: source, TargetLower: lower,
			TargetUpper: upper, Length: length, Seqno: seqno}
		n, err := h.Check(avail, maxLength, reader, peers)

		// The model. Sizes are compared in uint64 arithmetic that cannot
		// wrap: a frame fits when Size <= avail and length <= avail-Size.
		lengthOK := length <= maxLength && avail >= header.Size &&
			length <= uint64(avail-header.Size) && length <= math.MaxInt-header.Size
		targetOK := lower < upper && lower <= reader && reader < upper
		sourceOK := source < peers

		if err == nil {
			if !lengthOK || !targetOK || !sourceOK {
				t.Fatalf("Check(%v, avail %d, max %d, reader %d, peers %d) accepted; "+
					"model: length %t target %t source %t",
					h, avail, maxLength, reader, peers, lengthOK, targetOK, sourceOK)
			}
			if uint64(n) != header.Size+length {
				t.Fatalf("Check(%v) = %d, want %d", h, n, header.Size+length)
			}
			return
		}
		if n != 0 {
			t.Fatalf("Check returned size %d with error %v", n, err)
		}
		var matched int
		for _, c := range []struct {
			sentinel error
			ok       bool
		}{
			{header.ErrLength, lengthOK},
			{header.ErrTarget, targetOK},
			{header.ErrSource, sourceOK},
		} {
			if errors.Is(err, c.sentinel) {
				matched++
				if c.ok {
					t.Fatalf("Check(%v, avail %d, max %d, reader %d, peers %d): %v, "+
						"but that condition holds", h, avail, maxLength, reader, peers, err)
				}
			}
		}
		if matched != 1 {
			t.Fatalf("Check error %v wraps %d sentinels, want 1", err, matched)
		}
	})
}

// FuzzReadFrame checks ReadFrame against Read followed by Check of all the
// bytes given: the same header, the same frame size, and an error wrapping
// the same sentinel.
func FuzzReadFrame(f *testing.F) {
	for _, tc := range checkCases {
		h := tc.hdr
		f.Add(h.Append(make([]byte, 0, header.Size+64)), tc.maxLength, tc.reader, tc.peers)
	}
	for _, raw := range vectorHeaders() {
		h, _ := header.Decode(raw)
		frame := append(append([]byte{}, raw...), make([]byte, min(h.Length, 256))...)
		f.Add(frame, h.Length, h.TargetLower, h.Source+1)
	}
	f.Add([]byte{}, uint64(0), uint64(0), uint64(1))
	f.Fuzz(func(t *testing.T, data []byte, maxLength, reader, peers uint64) {
		var got header.Header
		n, err := got.ReadFrame(data, maxLength, reader, peers)

		var want header.Header
		wantN, wantErr := 0, want.Read(data)
		if wantErr == nil {
			wantN, wantErr = want.Check(len(data), maxLength, reader, peers)
		}
		if n != wantN || (err == nil) != (wantErr == nil) {
			t.Fatalf("ReadFrame(%x, max %d, reader %d, peers %d) = %d, %v; "+
				"Read and Check give %d, %v", data, maxLength, reader, peers, n, err, wantN, wantErr)
		}
		if err == nil {
			if got != want {
				t.Fatalf("ReadFrame read %v, Read reads %v", got, want)
			}
			return
		}
		for _, sentinel := range []error{header.ErrTruncated, header.ErrLength,
			header.ErrTarget, header.ErrSource} {
			if errors.Is(err, sentinel) != errors.Is(wantErr, sentinel) {
				t.Fatalf("ReadFrame error %v, Read and Check give %v", err, wantErr)
			}
		}
	})
}
