package header_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/zcomm-go/zcomm/header"
)

// The vectors written by timely-dataflow live in the shared folder beside the
// repository: <root>/main is the module and <root>/shared/testdata the files.
const (
	testdataEnv  = "ZCOMM_TESTDATA"
	framesBin    = "timely-frames.bin"
	framesJSON   = "timely-frames.json"
	goldenHeader = "timely-headers-golden.txt"
)

// testdataDir returns the folder that holds timely's test vectors. It honours
// $ZCOMM_TESTDATA; otherwise it looks at ../../shared/testdata relative to the
// working directory (go test runs in the package folder) and then relative to
// this source file, so a test binary run from elsewhere still finds it. It
// returns "" if no candidate holds the vectors.
func testdataDir() (dir string, fromEnv bool) {
	if d := os.Getenv(testdataEnv); d != "" {
		return d, true
	}
	candidates := []string{filepath.Join("..", "..", "shared", "testdata")}
	if _, file, _, ok := runtime.Caller(0); ok {
		candidates = append(candidates,
			filepath.Join(filepath.Dir(file), "..", "..", "shared", "testdata"))
	}
	for _, d := range candidates {
		if _, err := os.Stat(filepath.Join(d, framesBin)); err == nil {
			return d, false
		}
	}
	return "", false
}

// readVector returns the contents of the named vector file. It skips the test
// if the vectors cannot be found, and fails it if $ZCOMM_TESTDATA names a
// folder that lacks the file, since that is a broken setup, not a missing one.
func readVector(tb testing.TB, name string) []byte {
	tb.Helper()
	dir, fromEnv := testdataDir()
	if dir == "" {
		tb.Skipf("timely test vectors not found at ../../shared/testdata; "+
			"set %s to the folder that holds %s", testdataEnv, name)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		if fromEnv {
			tb.Fatalf("%s=%s: %v", testdataEnv, dir, err)
		}
		tb.Skipf("timely test vectors unreadable (%v); set %s", err, testdataEnv)
	}
	return b
}

// maxSafeJSON is the largest integer the vectors write as a JSON number;
// larger ones are written as strings of decimal digits.
const maxSafeJSON = 1<<53 - 1

// jsonUint reads an unsigned integer that the vectors wrote either as a JSON
// number (decoded with UseNumber) or as a string, and checks that the form
// follows the vectors' rule: a string exactly when the value exceeds 2^53-1.
func jsonUint(v any) (uint64, error) {
	var s string
	var quoted bool
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s, quoted = v, true
	default:
		return 0, fmt.Errorf("%v (%T) is neither a number nor a string", v, v)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if quoted != (n > maxSafeJSON) {
		return 0, fmt.Errorf("%d written as quoted=%t, against the 2^53-1 rule", n, quoted)
	}
	return n, nil
}

// frameRecord is one element of timely-frames.json's frames array, with its
// integer fields parsed.
type frameRecord struct {
	index, offset  uint64
	hdr            header.Header
	payloadXXH64   string
	payloadFirst16 string
	via            string
}

// framesFile is timely-frames.json with its integer fields parsed.
type framesFile struct {
	frameCount, totalBytes uint64
	fileXXH64              string
	frames                 []frameRecord
}

// loadFramesJSON reads and parses timely-frames.json.
func loadFramesJSON(t *testing.T) framesFile {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(readVector(t, framesJSON)))
	dec.UseNumber()
	var raw struct {
		FrameCount json.Number      `json:"frame_count"`
		TotalBytes json.Number      `json:"total_bytes"`
		FileXXH64  string           `json:"file_xxh64"`
		Frames     []map[string]any `json:"frames"`
	}
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("%s: %v", framesJSON, err)
	}
	var f framesFile
	var err error
	if f.frameCount, err = jsonUint(raw.FrameCount); err != nil {
		t.Fatalf("frame_count: %v", err)
	}
	if f.totalBytes, err = jsonUint(raw.TotalBytes); err != nil {
		t.Fatalf("total_bytes: %v", err)
	}
	f.fileXXH64 = raw.FileXXH64
	for i, m := range raw.Frames {
		var r frameRecord
		fields := []struct {
			name string
			dst  *uint64
		}{
			{"index", &r.index},
			{"offset", &r.offset},
			{"channel", &r.hdr.Channel},
			{"source", &r.hdr.Source},
			{"target_lower", &r.hdr.TargetLower},
			{"target_upper", &r.hdr.TargetUpper},
			{"length", &r.hdr.Length},
			{"seqno", &r.hdr.Seqno},
		}
		for _, fd := range fields {
			v, ok := m[fd.name]
			if !ok {
				t.Fatalf("frame %d: no field %q", i, fd.name)
			}
			if *fd.dst, err = jsonUint(v); err != nil {
				t.Fatalf("frame %d: %s: %v", i, fd.name, err)
			}
		}
		for _, s := range []struct {
			name string
			dst  *string
		}{
			{"payload_xxh64", &r.payloadXXH64},
			{"payload_first16", &r.payloadFirst16},
			{"via", &r.via},
		} {
			v, ok := m[s.name].(string)
			if !ok {
				t.Fatalf("frame %d: %s is %T, want a string", i, s.name, m[s.name])
			}
			*s.dst = v
		}
		f.frames = append(f.frames, r)
	}
	return f
}

// patternByte is byte k of the payload of frame m in timely-frames.bin.
func patternByte(m, k uint64) byte { return byte((m*31 + k*7) % 251) }

// TestTimelyFrames reads timely-frames.bin frame by frame with Decode and
// compares every frame with its record in timely-frames.json.
func TestTimelyFrames(t *testing.T) {
	bin := readVector(t, framesBin)
	want := loadFramesJSON(t)

	if got := uint64(len(bin)); got != want.totalBytes {
		t.Errorf("%s is %d bytes, JSON total_bytes says %d", framesBin, got, want.totalBytes)
	}
	if got := fmt.Sprintf("%016x", xxhash.Sum64(bin)); got != want.fileXXH64 {
		t.Errorf("file xxh64 = %s, want %s", got, want.fileXXH64)
	}
	if uint64(len(want.frames)) != want.frameCount {
		t.Fatalf("JSON lists %d frames, frame_count says %d", len(want.frames), want.frameCount)
	}

	type pusherKey struct{ channel, source, lower, upper uint64 }
	nextSeqno := make(map[pusherKey]uint64)
	rest := bin
	var off, n uint64
	for len(rest) > 0 {
		h, err := header.Decode(rest)
		if err != nil {
			t.Fatalf("frame %d at offset %d: %v", n, off, err)
		}
		size, err := h.Check(len(rest), 1<<62, h.TargetLower, h.Source+1)
		if err != nil {
			t.Fatalf("frame %d at offset %d (%v): %v", n, off, h, err)
		}
		if n >= uint64(len(want.frames)) {
			t.Fatalf("frame %d at offset %d is beyond the %d frames the JSON lists",
				n, off, len(want.frames))
		}
		w := want.frames[n]
		if w.index != n {
			t.Errorf("frame %d: JSON index %d", n, w.index)
		}
		if w.offset != off {
			t.Errorf("frame %d: offset %d, JSON says %d", n, off, w.offset)
		}
		if h != w.hdr {
			t.Errorf("frame %d: decoded %v, JSON says %v", n, h, w.hdr)
		}
		var re [header.Size]byte
		h.Put(re[:])
		if !bytes.Equal(re[:], rest[:header.Size]) {
			t.Errorf("frame %d: re-encoded header %x, file holds %x",
				n, re, rest[:header.Size])
		}
		if h.Length == 0 {
			t.Errorf("frame %d: zero length; the vectors promise every length > 0", n)
		}

		payload := rest[header.Size:size]
		if got := fmt.Sprintf("%016x", xxhash.Sum64(payload)); got != w.payloadXXH64 {
			t.Errorf("frame %d: payload xxh64 %s, want %s", n, got, w.payloadXXH64)
		}
		if got := hex.EncodeToString(payload[:min(16, len(payload))]); got != w.payloadFirst16 {
			t.Errorf("frame %d: first 16 payload bytes %s, want %s", n, got, w.payloadFirst16)
		}
		for k, b := range payload {
			if want := patternByte(n, uint64(k)); b != want {
				t.Errorf("frame %d: payload byte %d is %#x, pattern says %#x", n, k, b, want)
				break
			}
		}

		if w.via == "Pusher" {
			key := pusherKey{h.Channel, h.Source, h.TargetLower, h.TargetUpper}
			if h.Seqno != nextSeqno[key] {
				t.Errorf("frame %d: pusher %+v seqno %d, want %d",
					n, key, h.Seqno, nextSeqno[key])
			}
			nextSeqno[key] = h.Seqno + 1
		}

		rest = rest[size:]
		off += uint64(size)
		n++
	}
	if n != want.frameCount {
		t.Errorf("parsed %d frames, frame_count says %d", n, want.frameCount)
	}
	if off != uint64(len(bin)) {
		t.Errorf("%d trailing bytes after the last frame", uint64(len(bin))-off)
	}
	if len(nextSeqno) != 6 {
		t.Errorf("found %d pushers, the vectors have 6", len(nextSeqno))
	}
}

// TestTimelyFramesCut checks that a frame missing its last byte, and a header
// cut short, are refused, as timely's try_read refuses them.
func TestTimelyFramesCut(t *testing.T) {
	bin := readVector(t, framesBin)
	h, err := header.Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	size, ok := h.FrameSize()
	if !ok {
		t.Fatalf("first frame %v: size overflows", h)
	}
	_, err = h.Check(size-1, 1<<62, h.TargetLower, h.Source+1)
	if !errors.Is(err, header.ErrLength) {
		t.Errorf("frame missing its last byte: Check error %v, want ErrLength", err)
	}
	if _, err := header.Decode(bin[:header.Size-1]); !errors.Is(err, header.ErrTruncated) {
		t.Errorf("header cut short: Decode error %v, want ErrTruncated", err)
	}
}

// goldenLine is one line of timely-headers-golden.txt.
type goldenLine struct {
	hdr header.Header
	enc []byte
}

// loadGolden reads and parses timely-headers-golden.txt.
func loadGolden(tb testing.TB) []goldenLine {
	tb.Helper()
	var lines []goldenLine
	sc := bufio.NewScanner(bytes.NewReader(readVector(tb, goldenHeader)))
	for ln := 1; sc.Scan(); ln++ {
		f := strings.Split(sc.Text(), " ")
		if len(f) != 7 {
			tb.Fatalf("%s:%d: %d fields, want 7", goldenHeader, ln, len(f))
		}
		var v [6]uint64
		for i := range v {
			var err error
			if v[i], err = strconv.ParseUint(f[i], 10, 64); err != nil {
				tb.Fatalf("%s:%d: field %d: %v", goldenHeader, ln, i+1, err)
			}
		}
		enc, err := hex.DecodeString(f[6])
		if err != nil || len(enc) != header.Size {
			tb.Fatalf("%s:%d: hex48 %q: %d bytes, err %v", goldenHeader, ln, f[6], len(enc), err)
		}
		lines = append(lines, goldenLine{header.Header{
			Channel: v[0], Source: v[1], TargetLower: v[2], TargetUpper: v[3],
			Length: v[4], Seqno: v[5],
		}, enc})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return lines
}

// TestGoldenHeaders checks that every golden header encodes, with Put and
// with Append, to timely's bytes and decodes back to its values.
func TestGoldenHeaders(t *testing.T) {
	lines := loadGolden(t)
	if len(lines) != 5 {
		t.Errorf("%s has %d lines, want 5", goldenHeader, len(lines))
	}
	for i, g := range lines {
		// Put writes the first 48 bytes and nothing after them.
		buf := bytes.Repeat([]byte{0xa5}, header.Size+8)
		g.hdr.Put(buf)
		if !bytes.Equal(buf[:header.Size], g.enc) {
			t.Errorf("line %d: Put gives %x, want %x", i+1, buf[:header.Size], g.enc)
		}
		if !bytes.Equal(buf[header.Size:], bytes.Repeat([]byte{0xa5}, 8)) {
			t.Errorf("line %d: Put wrote past byte %d: %x", i+1, header.Size, buf)
		}

		// Append keeps what dst already holds.
		prefix := []byte("prefix")
		got := g.hdr.Append(prefix)
		if !bytes.Equal(got[:len(prefix)], []byte("prefix")) ||
			!bytes.Equal(got[len(prefix):], g.enc) {
			t.Errorf("line %d: Append gives %x, want %x after the prefix", i+1, got, g.enc)
		}
		if got := g.hdr.Append(nil); !bytes.Equal(got, g.enc) {
			t.Errorf("line %d: Append(nil) gives %x, want %x", i+1, got, g.enc)
		}

		h, err := header.Decode(g.enc)
		if err != nil {
			t.Errorf("line %d: Decode: %v", i+1, err)
		} else if h != g.hdr {
			t.Errorf("line %d: Decode gives %v, want %v", i+1, h, g.hdr)
		}

		// The wire order is the field order, each field big-endian.
		fields := []uint64{g.hdr.Channel, g.hdr.Source, g.hdr.TargetLower,
			g.hdr.TargetUpper, g.hdr.Length, g.hdr.Seqno}
		for j, v := range fields {
			if got := binary.BigEndian.Uint64(g.enc[8*j:]); got != v {
				t.Errorf("line %d: field %d on the wire is %d, want %d", i+1, j, got, v)
			}
		}
	}
}

// readFile reads a vector file outside a test, for fuzz seeds.
func readFile(dir, name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(dir, name))
}
