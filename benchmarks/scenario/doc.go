// Package scenario holds the bodies of zcomm's end-to-end measurements, so
// that the benchmarks of package e2e and the zcbench command run the same
// code:
//
//   - All-to-all: W workers each send n messages of one size, message i of
//     worker w to worker i%W (itself included), and receive everything sent
//     to them; a worker publishes and receives every BatchLen pushes. The
//     peers are zcomm in batched and eager mode, the original design (package
//     original) in both modes, Go channels carrying one pooled copy of a
//     payload per send (chan-per-msg, the throughput baseline) and Go
//     channels carrying the batches zcomm publishes (chan-batch).
//   - Ping-pong: one PingSize-byte message goes from worker 0 to worker 1 and
//     back, n times, and worker 0 can record every round trip's time in an
//     HDR histogram. The peers are zcomm polling (busy) and parking between
//     polls (park), the original design, Go channels, and two goroutines
//     spinning on atomic counters (the hardware floor, the latency
//     baseline).
//   - Memmove: copies over a SlabSize buffer in chunks of one size on one
//     goroutine, the floor for the one copy every transport makes (the
//     bandwidth baseline).
//   - Idle: W zcomm workers parked in AwaitEvents with no timeout, and the
//     CPU the process uses meanwhile.
//
// Every all-to-all and ping-pong body returns a Result with the wall time of
// the exchange and one Tally per worker. A run made with Check set records
// every message it receives, and VerifyAllToAll and VerifyPingPong then tell
// whether each message arrived exactly once, at the worker it was sent to,
// so that the numbers measure code that works.
//
// A body calls its config's Ready hook, if set, once its setup is done and
// just before its workers start, so that a benchmark can reset its timer
// there; Result.Elapsed starts at the same point.
package scenario
