// Package process moves serialized messages between the worker goroutines
// of one process, without copying them on the receiving side.
//
// A group of P workers is started by Run (or by NewBuilders and Build, for
// programs that manage their own goroutines). Each worker owns an Allocator.
// Allocate gives every worker its end of a numbered channel: a Pusher to
// every worker, itself included, and a Puller of what was pushed to it.
//
// # The worker loop
//
// Every worker runs a loop of this shape; Example (in example_test.go) shows
// it whole.
//
//	for more() {                    // while there is work to send
//		err := ch.Push(peer, v)     // write into this worker's slab for peer
//		if errors.Is(err, ErrBackpressure) {
//			// peer holds too much of ours: take in and release what we
//			// hold of the others', wait a little, push again
//		}
//		a.Release()                 // publish what was pushed (batched mode)
//		receive()                   // as below
//	}
//	a.Close(ctx)                    // done sending: publish everything
//	for !a.Finished() {             // until every worker closed and all is read
//		a.Receive()                 // take what peers published, by channel
//		var m Message[T]
//		for {
//			ok, err := ch.Puller.PullInto(&m) // or m, ok, err := Pull()
//			if !ok { break }
//			use(m.Value)
//			m.Release()             // give the sender its memory back
//		}
//		a.DrainEvents(nil)          // clear the events, or AwaitEvents will not park
//		a.AwaitEvents(timeout)      // park while there is nothing to do
//	}
//
// Finished becomes true only once every worker has closed and this one has
// pulled everything from every channel it allocated (or closed their
// pullers). AwaitEvents returns at once while the events list holds
// anything; drain it every time round.
//
// A push encodes the value once, behind timely's 48-byte header, into a
// buffer of the sender's (mmap'd memory by default). Publishing is eager
// (each push visible at once) or batched (at Release, or when a buffer
// fills); see WithPublish. A batched publication hands a view of the written
// bytes to the receiver's ring; the receiver splits it into messages and
// reads them where they lie. An eager sender keeps a stream open in its
// buffer instead: after each push it stores how far the stream's frames
// reach in a word it shares with the receiver and wakes it, and the
// receiver takes the frames from there. The ring then carries only the
// start and the end of each stream, so an eager message costs about what a
// batched one does.
//
// Messages may arrive for a channel before the receiver allocates it: they
// wait, up to a limit (WithStagedLimit), and the puller yields them when it
// is made. Messages for a channel whose puller was closed are dropped.
//
// # Ownership
//
// One rule covers every view of memory: a successful publication hands its
// reference to the receiver's ring (an eager stream's start hands over the
// stream's reference, and the receiver takes one for each frame it takes
// from the stream); a failed push leaves everything with the caller; close
// and poison release whatever is left in rings, streams and backlogs.
// A received Message holds a reference to the sender's buffer until Release.
// Values decoded by the Bytes codec alias that buffer and must not be used
// after Release.
//
// # Budget
//
// Each sender may have at most a budget of bytes (WithBudget) written to one
// receiver and not yet released by it. Past the budget, Push fails at once
// with ErrBackpressure: the caller receives, releases and pushes again. A
// push never blocks, so two workers that flood each other cannot deadlock,
// and memory stays bounded.
//
// # Errors
//
//   - ErrBackpressure: the budget towards a target is spent; retry later.
//   - ErrPoisoned: some worker failed, or the group's context ended; the
//     *PoisonError names the cause. Every call of every worker returns it.
//   - ErrClosed: the allocator's sending side, or a puller, was closed.
//   - ErrChannelOrder: channel ids must increase on each allocator.
//   - ErrBadFrame: a received buffer held a frame that does not parse; the
//     error names the sending worker and the offset. The rest of that buffer
//     is dropped and counted; reception goes on.
//   - ErrStagedLimit: messages for an unallocated channel were dropped.
//   - ErrPeerGone: the target worker has shut down.
//   - ErrTooLarge: a payload exceeds the maximum (WithMaxPayload).
//   - ErrDecode: a payload did not decode into the channel's type.
//
// Zero-length payloads are ordinary messages. (Timely's network layer reads
// a zero-length frame as the end of a stream; within a process there is no
// such meaning.)
package process
