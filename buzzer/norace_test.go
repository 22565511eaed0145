//go:build !race

package buzzer_test

// raceEnabled reports whether the race detector is on; it slows every atomic
// operation down, so stress tests run fewer rounds when it is.
const raceEnabled = false
