package buzzer

// Nudge disturbs b's parked sleeper without waking it: on the goroutine path
// it leaves a stray token in the channel, on the futex path it makes a futex
// wake while the state word still holds asleep. Either way the sleeper must
// treat the return from its park as spurious and park again.
func (b *Buzzer) Nudge() {
	if b.mode == Futex {
		futexWake(&b.state)
		return
	}
	select {
	case b.ch <- struct{}{}:
	default:
	}
}
