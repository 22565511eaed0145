// Package e2e benchmarks zcomm's process allocator end to end, beside the
// designs it is meant to beat, in one run. The bodies live in package
// scenario, which zcbench runs too; this package holds only benchmarks:
//
//   - BenchmarkAllToAll/<size>/<peer>: two workers, each sending b.N messages
//     of <size> bytes, alternately to itself and to the other worker, and
//     receiving everything sent to it. A worker releases (publishes) and
//     receives every 64 pushes; received payloads are read and released.
//     One op is one message sent by each worker, so two messages cross the
//     allocator per op, and MB/s counts the payload bytes of one worker:
//     the pair moves twice that. The peers are zcomm in batched and eager
//     mode, the original design (package original, timely's mutex-guarded
//     queues in Go) in both modes, Go channels carrying one pooled copy of a
//     payload per send, and Go channels carrying the same batches zcomm
//     publishes.
//   - BenchmarkPingPong/64B/<peer>: one 64-byte message goes from worker 0
//     to worker 1 and back; ns/op is one round trip. zcomm-busy receives in
//     a loop, zcomm-park and original park between polls (AwaitEvents),
//     chan blocks on a channel receive, and atomic spins on two atomic
//     words, the hardware floor.
//   - BenchmarkMemmove/<size>: copy over a 1 MiB buffer in chunks of <size>
//     bytes on one goroutine, the floor for the one copy every peer makes.
//
// Every benchmark checks afterwards that each worker received as many
// messages as it should. Package scenario's tests run every body with a
// small count and check that each message was received exactly once, by
// the worker it was sent to, so the numbers measure code that works.
//
// Run them with:
//
//	cd benchmarks && go test -run '^$' -bench . -benchtime 200ms -count 3 ./e2e/
package e2e
