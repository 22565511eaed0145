package buzzer_test

// Adversarial review tests: each TestReview* that fails demonstrates a
// problem described in its comment.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/zcomm-go/zcomm/buzzer"
)

// TestReviewUnknownMode: New accepts a Mode outside Auto, Goroutine and
// Futex (ParseMode refuses such names, New does not check values). The
// buzzer then has no channel and no timer: a timed Sleep dereferences the
// nil timer, and an untimed Sleep blocks on the nil channel, where no Wake
// can reach it.
func TestReviewUnknownMode(t *testing.T) {
	defer func() {
		v := recover()
		if v == nil || !strings.Contains(fmt.Sprint(v), "unknown mode") {
			t.Fatalf("New(Mode 3) recovered %v, want a panic naming the unknown mode", v)
		}
	}()
	buzzer.New(buzzer.Config{Mode: 3, Spin: -1})
}
