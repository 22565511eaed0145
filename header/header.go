package header

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Size is the encoded size of a Header in bytes.
const Size = 48

// Errors returned by Decode and Check. Each is wrapped with the values that
// caused it; test for them with errors.Is.
var (
	// ErrTruncated means fewer than Size bytes were offered to Decode.
	ErrTruncated = errors.New("header: truncated")
	// ErrLength means a frame's declared length overflows, exceeds the
	// maximum frame size, or runs past the bytes that hold it.
	ErrLength = errors.New("header: bad length")
	// ErrTarget means a frame's target range is empty or excludes the reader.
	ErrTarget = errors.New("header: bad target range")
	// ErrSource means a frame's source is not a peer.
	ErrSource = errors.New("header: bad source")
)

// Header describes one frame. The field order is the wire order.
type Header struct {
	// Channel is the channel the frame belongs to.
	Channel uint64
	// Source is the index of the worker that wrote the frame.
	Source uint64
	// TargetLower is the first worker the frame is addressed to.
	TargetLower uint64
	// TargetUpper is one past the last worker the frame is addressed to.
	TargetUpper uint64
	// Length is the number of payload bytes that follow the header.
	Length uint64
	// Seqno counts the frames of one sender on one channel, from zero.
	Seqno uint64
}

// Put writes h's 48 bytes to the front of dst. It panics if dst is shorter
// than Size, which is a programming error.
func (h *Header) Put(dst []byte) {
	_ = dst[Size-1] // one bounds check for the six stores
	binary.BigEndian.PutUint64(dst[0:8], h.Channel)
	binary.BigEndian.PutUint64(dst[8:16], h.Source)
	binary.BigEndian.PutUint64(dst[16:24], h.TargetLower)
	binary.BigEndian.PutUint64(dst[24:32], h.TargetUpper)
	binary.BigEndian.PutUint64(dst[32:40], h.Length)
	binary.BigEndian.PutUint64(dst[40:48], h.Seqno)
}

// Append appends h's 48 bytes to dst and returns the extended slice.
func (h *Header) Append(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, h.Channel)
	dst = binary.BigEndian.AppendUint64(dst, h.Source)
	dst = binary.BigEndian.AppendUint64(dst, h.TargetLower)
	dst = binary.BigEndian.AppendUint64(dst, h.TargetUpper)
	dst = binary.BigEndian.AppendUint64(dst, h.Length)
	return binary.BigEndian.AppendUint64(dst, h.Seqno)
}

// Decode reads a header from the front of src. It fails, with an error
// wrapping ErrTruncated, only when src holds fewer than Size bytes. Loops
// that decode many headers should use Read, which does not copy the result.
func Decode(src []byte) (h Header, err error) {
	err = h.Read(src)
	return h, err
}

// Read decodes the header at the front of src into h, and fails like Decode.
// It is Decode for hot loops: it writes through h instead of returning a
// 48-byte value, which the compiler copies through the stack.
func (h *Header) Read(src []byte) error {
	if len(src) < Size {
		return truncated(len(src))
	}
	h.load(src)
	return nil
}

// load decodes the header at the front of src, which holds at least Size
// bytes.
func (h *Header) load(src []byte) {
	_ = src[Size-1]
	h.Channel = binary.BigEndian.Uint64(src[0:8])
	h.Source = binary.BigEndian.Uint64(src[8:16])
	h.TargetLower = binary.BigEndian.Uint64(src[16:24])
	h.TargetUpper = binary.BigEndian.Uint64(src[24:32])
	h.Length = binary.BigEndian.Uint64(src[32:40])
	h.Seqno = binary.BigEndian.Uint64(src[40:48])
}

// truncated is the error for a header cut short at n bytes.
func truncated(n int) error {
	return fmt.Errorf("%w: %d bytes, need %d", ErrTruncated, n, Size)
}

// ReadFrame reads the header at the front of src into h, as Read does, and
// checks it as Check does with avail = len(src): it returns the size of a
// frame that fits in src, or the error Read or Check would. It is for a
// reader walking a buffer frame by frame: one call per frame, with the
// common case decided before any error is formatted.
func (h *Header) ReadFrame(src []byte, maxLength, reader, peers uint64) (int, error) {
	if len(src) < Size {
		return 0, truncated(len(src))
	}
	h.load(src)
	// TargetLower <= reader < TargetUpper implies a non-empty range, and
	// Length <= len(src)-Size keeps the frame size from overflowing.
	if h.Length <= maxLength && h.Length <= uint64(len(src)-Size) &&
		h.TargetLower <= reader && reader < h.TargetUpper && h.Source < peers {
		return Size + int(h.Length), nil
	}
	return h.Check(len(src), maxLength, reader, peers)
}

// PeekLength returns the Length field of the header at the front of src
// without decoding the rest, and false if src holds fewer than Size bytes. It
// is for readers walking frames they have already checked.
func PeekLength(src []byte) (uint64, bool) {
	if len(src) < Size {
		return 0, false
	}
	return binary.BigEndian.Uint64(src[32:40]), true
}

// FrameSize returns Size+h.Length, the bytes the whole frame occupies, and
// false if that sum does not fit in an int.
func (h *Header) FrameSize() (int, bool) {
	const maxInt = int(^uint(0) >> 1)
	if h.Length > uint64(maxInt-Size) {
		return 0, false
	}
	return Size + int(h.Length), true
}

// Check reports whether h can be read as a frame by worker reader of peers
// workers, where avail bytes (header included) are available and payloads may
// be at most maxLength bytes. It returns the frame size on success, and
// otherwise an error wrapping ErrLength, ErrTarget or ErrSource that names the
// offending values. Check never allocates on success.
func (h *Header) Check(avail int, maxLength uint64, reader, peers uint64) (int, error) {
	if h.Length > maxLength {
		return 0, fmt.Errorf("%w: length %d exceeds the maximum %d", ErrLength, h.Length, maxLength)
	}
	n, ok := h.FrameSize()
	if !ok || n > avail {
		return 0, fmt.Errorf("%w: length %d runs past the %d bytes available",
			ErrLength, h.Length, max(avail-Size, 0))
	}
	if h.TargetLower >= h.TargetUpper || reader < h.TargetLower || reader >= h.TargetUpper {
		return 0, fmt.Errorf("%w: [%d, %d) does not include worker %d",
			ErrTarget, h.TargetLower, h.TargetUpper, reader)
	}
	if h.Source >= peers {
		return 0, fmt.Errorf("%w: %d is not one of %d peers", ErrSource, h.Source, peers)
	}
	return n, nil
}

// String formats h for error messages and debugging.
func (h Header) String() string {
	return fmt.Sprintf("channel=%d source=%d target=[%d,%d) length=%d seqno=%d",
		h.Channel, h.Source, h.TargetLower, h.TargetUpper, h.Length, h.Seqno)
}
