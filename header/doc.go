// Package header encodes and decodes zcomm's 48-byte frame header.
//
// Every message that crosses a zcomm ring is a frame: a header followed by
// Length payload bytes. The header is six unsigned 64-bit big-endian integers,
// in this order:
//
//	channel, source, target_lower, target_upper, length, seqno
//
// This is byte for byte the wire format of timely-dataflow's MessageHeader, so
// frames written by timely and frames written by zcomm read the same.
//
// Decode rejects only input too short to hold a header: every 48-byte pattern
// is a header. Whether a header makes sense in context (its length fits the
// buffer, its target range names the reader, its source is a peer) is the
// reader's judgement; [Header.Check] performs the checks that need no more
// than the header and the caller's bounds.
package header
