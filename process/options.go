package process

import (
	"fmt"

	"github.com/zcomm-go/zcomm/buzzer"
	"github.com/zcomm-go/zcomm/ring"
	"github.com/zcomm-go/zcomm/slab"
)

// Publish selects when pushed messages become visible to their receiver.
type Publish uint8

const (
	// Eager makes every push visible at once, as timely's allocator does:
	// the lowest latency. Each push to a peer costs one store to a word the
	// pair shares and one wake check; the ring carries only where each
	// sender's stream starts and ends.
	Eager Publish = iota
	// Batched makes pushes visible at Release, or when a buffer fills: the
	// highest throughput, since one ring slot and one wake carry many
	// messages.
	Batched
)

// String returns the mode's name.
func (p Publish) String() string {
	switch p {
	case Eager:
		return "eager"
	case Batched:
		return "batched"
	}
	return fmt.Sprintf("Publish(%d)", uint8(p))
}

// Defaults for the options.
const (
	// DefaultRingSize is the number of slots in each worker's ring.
	DefaultRingSize = 1024
	// DefaultBudget bounds the bytes one sender has written to one receiver
	// that the receiver has not released: 32 MiB.
	DefaultBudget = 32 << 20
	// DefaultStagedLimit bounds the bytes a worker keeps for channels it has
	// not allocated yet: 64 MiB.
	DefaultStagedLimit = 64 << 20
	// DefaultMaxPayload bounds one message's payload: 64 MiB.
	DefaultMaxPayload = 64 << 20
	// MaxPayloadLimit is the largest maximum payload WithMaxPayload accepts:
	// 1 GiB, far above any message worth moving in one piece.
	MaxPayloadLimit = 1 << 30
	// MaxBufferSize is the largest slab buffer size WithSlab accepts: 2 GiB,
	// so that every offset within a buffer (the largest frame's included)
	// fits in the 32 bits an eager stream's cursor gives it.
	MaxBufferSize = 1 << 31
)

// config is the set of options, shared by every worker of a group.
type config struct {
	ringSize    int
	publish     Publish
	budget      int
	stagedLimit int
	maxPayload  int
	slab        slab.Config
	buzzer      buzzer.Config
}

func defaultConfig() config {
	return config{
		ringSize:    DefaultRingSize,
		publish:     Eager,
		budget:      DefaultBudget,
		stagedLimit: DefaultStagedLimit,
		maxPayload:  DefaultMaxPayload,
	}
}

// Option changes one setting of a group of workers.
type Option func(*config) error

// WithPublish selects eager or batched publishing. The default is Eager.
func WithPublish(p Publish) Option {
	return func(c *config) error {
		if p != Eager && p != Batched {
			return fmt.Errorf("process: unknown publish mode %d", p)
		}
		c.publish = p
		return nil
	}
}

// WithRingSize sets the number of slots in each worker's ring, a power of
// two of at least 2. A full ring never blocks a sender: it keeps the rest in
// a backlog and retries.
func WithRingSize(n int) Option {
	return func(c *config) error {
		if n < 2 || n > ring.MaxSlots || n&(n-1) != 0 {
			return fmt.Errorf("process: ring size %d: want a power of two in [2, %d]",
				n, ring.MaxSlots)
		}
		c.ringSize = n
		return nil
	}
}

// WithBudget bounds the bytes a sender has written to one receiver that the
// receiver has not yet released (DefaultBudget, 32 MiB, unless set). Past it,
// Push returns ErrBackpressure. A single message larger than the budget is
// still accepted when nothing else is outstanding, so that no message size
// is refused for good. Nothing wakes a refused sender when the receiver
// releases: its AwaitEvents looks again every 100 µs until a push succeeds,
// so a budget that the steady state reaches costs throughput; size it well
// above what a receiver holds at once.
func WithBudget(bytes int) Option {
	return func(c *config) error {
		if bytes <= 0 {
			return fmt.Errorf("process: budget %d: want a positive number of bytes", bytes)
		}
		c.budget = bytes
		return nil
	}
}

// WithStagedLimit bounds the bytes a worker keeps for channels it has not
// allocated yet. Past it, Receive drops such messages and reports
// ErrStagedLimit.
func WithStagedLimit(bytes int) Option {
	return func(c *config) error {
		if bytes < 0 {
			return fmt.Errorf("process: staged limit %d: want a non-negative size", bytes)
		}
		c.stagedLimit = bytes
		return nil
	}
}

// WithMaxPayload bounds one message's payload. A frame that declares more is
// a bad frame to its receiver, and a push of more is refused.
func WithMaxPayload(bytes int) Option {
	return func(c *config) error {
		if bytes < 0 || bytes > MaxPayloadLimit {
			return fmt.Errorf("process: max payload %d: want a size in [0, %d]", bytes,
				MaxPayloadLimit)
		}
		c.maxPayload = bytes
		return nil
	}
}

// WithSlab sets the configuration of every writer: buffer size, idle cap,
// maximum reservation and refill. The maximum reservation is raised, if
// needed, to hold the largest frame. A buffer size above MaxBufferSize is
// refused.
func WithSlab(s slab.Config) Option {
	return func(c *config) error {
		if int64(s.BufferSize) > MaxBufferSize {
			return fmt.Errorf("process: slab buffer size %d: at most %d bytes", s.BufferSize,
				int64(MaxBufferSize))
		}
		c.slab = s
		return nil
	}
}

// WithBuzzer sets how idle workers park. Sleepers is filled in with the
// worker count.
func WithBuzzer(b buzzer.Config) Option {
	return func(c *config) error {
		if b.Mode != buzzer.Auto && b.Mode != buzzer.Goroutine && b.Mode != buzzer.Futex {
			return fmt.Errorf("process: unknown buzzer mode %v", b.Mode)
		}
		c.buzzer = b
		return nil
	}
}
