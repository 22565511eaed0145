//go:build race

package process_test

// raceEnabled reports whether the race detector is on. It slows concurrent
// tests several times over and changes allocation counts.
const raceEnabled = true
