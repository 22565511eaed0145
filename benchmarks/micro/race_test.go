//go:build race

package micro

// raceEnabled reports whether the race detector is on. The diodes transport
// reuses records with no happens-before edge from the reader back to the
// writer (the diode drops instead of pushing back), which the detector rightly
// reports, so the diodes runs skip under it.
const raceEnabled = true
