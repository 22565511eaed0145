//go:build !race

package micro

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
