package wordcount

import (
	"encoding/binary"
	"fmt"
)

// Batch is a run of words bound for one worker. On the wire it is each word
// as a uvarint length followed by its bytes; both pipelines use this
// encoding, so both copy each word exactly once on its way to its owner.
type Batch struct {
	words [][]byte // words to send; they alias the file text
	size  int      // encoded size of words
	raw   []byte   // an encoded batch, when received
}

// Add appends w to the batch.
func (b *Batch) Add(w []byte) {
	b.words = append(b.words, w)
	b.size += uvarintLen(uint64(len(w))) + len(w)
}

// Len returns the number of words added since the last Reset.
func (b *Batch) Len() int { return len(b.words) }

// Reset empties the batch, keeping its capacity.
func (b *Batch) Reset() {
	clear(b.words)
	b.words, b.size = b.words[:0], 0
}

// AppendTo appends the encoded batch to dst.
func (b Batch) AppendTo(dst []byte) []byte {
	for _, w := range b.words {
		dst = binary.AppendUvarint(dst, uint64(len(w)))
		dst = append(dst, w...)
	}
	return dst
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// CountEncoded adds the words of an encoded batch to c and returns how many
// there were.
func CountEncoded(raw []byte, c Counts) (int, error) {
	n := 0
	for len(raw) > 0 {
		l, k := binary.Uvarint(raw)
		if k <= 0 || l > uint64(len(raw)-k) {
			return n, fmt.Errorf("wordcount: corrupt batch at word %d", n)
		}
		c[string(raw[k:k+int(l)])]++ // a lookup by converted key does not allocate
		raw = raw[k+int(l):]
		n++
	}
	return n, nil
}

// BatchCodec is the zcomm codec for batches: Encode writes the words straight
// into the sender's slab, and Decode returns a batch whose raw bytes alias the
// received message.
type BatchCodec struct{}

// Size returns the encoded size of b.
func (BatchCodec) Size(b Batch) int { return b.size }

// Encode writes b's words into dst.
func (BatchCodec) Encode(dst []byte, b Batch) { b.AppendTo(dst[:0]) }

// Decode wraps src as a received batch, without copying it.
func (BatchCodec) Decode(src []byte) (Batch, error) { return Batch{raw: src}, nil }

// Raw returns a received batch's encoded bytes.
func (b Batch) Raw() []byte { return b.raw }
