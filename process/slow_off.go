//go:build !zcommslow

package process

// slowdown does nothing: it exists so that a build with the zcommslow tag can
// slow every push, which the benchmark gate's live check must detect.
func slowdown() {}
