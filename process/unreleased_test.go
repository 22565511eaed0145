package process_test

import (
	"testing"

	"github.com/zcomm-go/zcomm/process"
)

// TestUnreleasedStats checks that Stats counts pulled messages until they
// are released, names the age of the oldest, and forgets them once released,
// across several epochs and with releases out of order.
func TestUnreleasedStats(t *testing.T) {
	bs, err := process.NewBuilders(1, process.WithPublish(process.Batched))
	if err != nil {
		t.Fatal(err)
	}
	a, err := bs[0].Build()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown()
	ch, err := process.Allocate(a, 1, process.Uint64{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000 // spans several epochs of 1024 pulls
	for i := uint64(0); i < n; i++ {
		if err := ch.Push(0, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if err := a.Receive(); err != nil {
		t.Fatal(err)
	}
	var held []process.Message[uint64]
	for {
		m, ok, err := ch.Puller.Pull()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		held = append(held, m)
	}
	if len(held) != n {
		t.Fatalf("pulled %d messages, want %d", len(held), n)
	}
	s := a.Stats()
	if s.Unreleased != n || s.OldestUnreleased <= 0 {
		t.Fatalf("Unreleased %d, OldestUnreleased %v; want %d and a positive age",
			s.Unreleased, s.OldestUnreleased, n)
	}

	// Release everything but the very first message, newest first.
	for i := len(held) - 1; i >= 1; i-- {
		if err := held[i].Release(); err != nil {
			t.Fatal(err)
		}
	}
	if s := a.Stats(); s.Unreleased != 1 || s.OldestUnreleased <= 0 {
		t.Fatalf("after releasing all but one: Unreleased %d, OldestUnreleased %v",
			s.Unreleased, s.OldestUnreleased)
	}
	if err := held[0].Release(); err != nil {
		t.Fatal(err)
	}
	if s := a.Stats(); s.Unreleased != 0 || s.OldestUnreleased != 0 {
		t.Fatalf("after releasing all: Unreleased %d, OldestUnreleased %v; want 0 and 0",
			s.Unreleased, s.OldestUnreleased)
	}
}
