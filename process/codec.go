package process

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrDecode means a payload could not be decoded into its channel's type.
var ErrDecode = errors.New("process: cannot decode payload")

// Codec turns values of T into payload bytes and back.
//
// Size returns the exact number of bytes Encode writes for v. Encode writes
// them into dst, which has exactly that length and lies in a slab buffer: it
// must not keep dst, and must not store Go pointers in it. Decode reads a
// payload; it may return a value that aliases src (as Bytes does), in which
// case the value is valid until its Message is released.
type Codec[T any] interface {
	Size(v T) int
	Encode(dst []byte, v T)
	Decode(src []byte) (T, error)
}

// Bytes is the zero-copy codec for []byte: a push copies the slice into the
// sender's slab once, and a pull returns a slice of the slab itself, with no
// copy at all. The pulled slice is valid until its Message is released.
type Bytes struct{}

// Size returns len(v).
func (Bytes) Size(v []byte) int { return len(v) }

// Encode copies v into dst.
func (Bytes) Encode(dst, v []byte) { copy(dst, v) }

// Decode returns src itself.
func (Bytes) Decode(src []byte) ([]byte, error) { return src, nil }

// String is the codec for strings. Decode copies the payload, so the value
// outlives its Message.
type String struct{}

// Size returns len(v).
func (String) Size(v string) int { return len(v) }

// Encode copies v into dst.
func (String) Encode(dst []byte, v string) { copy(dst, v) }

// Decode returns a copy of src as a string.
func (String) Decode(src []byte) (string, error) { return string(src), nil }

// Uint64 is the codec for uint64 values, as 8 big-endian bytes.
type Uint64 struct{}

// Size returns 8.
func (Uint64) Size(uint64) int { return 8 }

// Encode writes v as 8 big-endian bytes.
func (Uint64) Encode(dst []byte, v uint64) { binary.BigEndian.PutUint64(dst, v) }

// Decode reads 8 big-endian bytes.
func (Uint64) Decode(src []byte) (uint64, error) {
	if len(src) != 8 {
		return 0, fixedSizeErr("uint64", 8, len(src))
	}
	return binary.BigEndian.Uint64(src), nil
}

// Int64 is the codec for int64 values, as 8 big-endian bytes.
type Int64 struct{}

// Size returns 8.
func (Int64) Size(int64) int { return 8 }

// Encode writes v as 8 big-endian bytes.
func (Int64) Encode(dst []byte, v int64) { binary.BigEndian.PutUint64(dst, uint64(v)) }

// Decode reads 8 big-endian bytes.
func (Int64) Decode(src []byte) (int64, error) {
	if len(src) != 8 {
		return 0, fixedSizeErr("int64", 8, len(src))
	}
	return int64(binary.BigEndian.Uint64(src)), nil
}

// Uint32 is the codec for uint32 values, as 4 big-endian bytes.
type Uint32 struct{}

// Size returns 4.
func (Uint32) Size(uint32) int { return 4 }

// Encode writes v as 4 big-endian bytes.
func (Uint32) Encode(dst []byte, v uint32) { binary.BigEndian.PutUint32(dst, v) }

// Decode reads 4 big-endian bytes.
func (Uint32) Decode(src []byte) (uint32, error) {
	if len(src) != 4 {
		return 0, fixedSizeErr("uint32", 4, len(src))
	}
	return binary.BigEndian.Uint32(src), nil
}

// Float64 is the codec for float64 values, as their IEEE 754 bits in 8
// big-endian bytes.
type Float64 struct{}

// Size returns 8.
func (Float64) Size(float64) int { return 8 }

// Encode writes v's bits as 8 big-endian bytes.
func (Float64) Encode(dst []byte, v float64) {
	binary.BigEndian.PutUint64(dst, math.Float64bits(v))
}

// Decode reads 8 big-endian bytes.
func (Float64) Decode(src []byte) (float64, error) {
	if len(src) != 8 {
		return 0, fixedSizeErr("float64", 8, len(src))
	}
	return math.Float64frombits(binary.BigEndian.Uint64(src)), nil
}

func fixedSizeErr(typ string, want, got int) error {
	return fmt.Errorf("%w: %s needs %d bytes, payload has %d", ErrDecode, typ, want, got)
}
