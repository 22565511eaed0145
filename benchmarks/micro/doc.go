// Package micro holds zcomm's microbenchmarks: the ring against a buffered Go
// channel and go-diodes' ManyToOne as a many-to-one transport of 64-byte
// records, a pinned busy-polling ping-pong against a raw atomic hand-off and
// channels, the buzzer's wake latency against a raw futex pair, and the CPU
// that parked sleepers cost an idle process.
//
// Everything lives in test files; run it with go test -bench (see README.md).
// The package exports nothing.
package micro
