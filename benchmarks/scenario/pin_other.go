//go:build !linux

package scenario

// CanPin reports whether PingPong.Pin takes effect here: only on Linux.
func CanPin() bool { return false }

// pinThread does nothing: thread affinity is set only on Linux.
func pinThread(int) error { return nil }
