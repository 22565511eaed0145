// Package original is timely-dataflow's zero-copy process allocator written
// in Go, kept beside zcomm as a comparison peer for the end-to-end
// benchmarks. It is not for production use.
//
// It shares everything with zcomm's process package except the two parts
// that zcomm redesigned, so that a benchmark of the two measures those parts
// and nothing else:
//
//   - The same slabs: a push writes the 48-byte header and one copy of the
//     payload into the sender's slab.Writer for that target, and the
//     receiver holds slab.View windows onto those bytes, released once each.
//   - The same headers and the same routing: Receive splits every view into
//     frames by header, checks each frame as process does (length, target
//     range, source), records one event per message, and queues it for its
//     channel; messages for a channel not yet allocated wait for its puller,
//     and messages for a channel at or below the allocated bound that is no
//     longer live are dropped.
//   - The same publishing modes: Eager hands every push to its receiver at
//     once, as timely does; Batched hands over at Release, or when the
//     sender's buffer fills.
//
// # What differs from zcomm
//
// Transport. Timely's MergeQueue: one mutex-guarded, unbounded FIFO of views
// per (sender, receiver) pair, P*P queues in all. A push locks the queue,
// merges the new view into the last one when it continues it in the same
// buffer (slab.View.Merge), or appends it, and unlocks. Receive locks each of
// its P inbound queues in turn and takes everything. zcomm has one bounded
// lock-free multi-producer ring per receiver, so a receiver drains one
// structure, a push is a few atomic operations, and a full ring leaves views
// in the sender's backlog.
//
// Wake-ups. Timely's Buzzer unparks the receiving thread every time a queue
// goes from empty to non-empty, whether or not the receiver sleeps. Here that
// is a non-blocking send on the receiver's channel of capacity one, on every
// such transition; there is no "is it asleep" check. A token left in the
// channel makes the next AwaitEvents return at once, as an unpark before a
// park does. zcomm's buzzer signals only a receiver that announced sleep, and
// costs a busy receiver's senders one atomic load.
//
// Memory. There is no budget and no backpressure: the queues are unbounded,
// as timely's are, so a sender that outruns its receiver grows its slabs
// without limit. zcomm bounds the bytes a sender has outstanding at each
// receiver and refuses pushes past it.
//
// Left out, because the benchmarks do not need them: poisoning, broadcast,
// hash exchange, typed codecs (a payload is a []byte, received without a
// copy as the process.Bytes codec does), a limit on staged bytes, and the
// unreleased-message accounting of process.Stats.
//
// # Rules
//
// An Allocator, and every Channel and Puller it made, belongs to one
// goroutine. Message.Release may be called on any goroutine.
package original
