//go:build race

package original_test

// raceEnabled reports whether the race detector is on; it changes allocation
// counts, so allocation tests skip when it is.
const raceEnabled = true
