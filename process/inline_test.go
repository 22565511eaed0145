package process_test

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// hotInlined lists, per package, the functions on the per-message path that
// must stay small enough for the compiler to inline: each is called once or
// more for every message, where a call costs as much as the work it does. A
// generic function is named by its shape instantiation, with the type
// arguments written as [shape].
var hotInlined = map[string][]string{
	"header": {
		"(*Header).Put",
		"(*Header).FrameSize",
		"Decode",
		"PeekLength",
	},
	"slab": {
		"View.Bytes",
		"View.Len",
		"View.Slice",
		"View.Cut",
		"View.Join",
		"View.Acquire",
		"View.Release",
		"View.Offset",
		"View.Span",
		"(*Writer).Available",
		"(*Writer).Pending",
		"(*Writer).Outstanding",
		"(*Writer).Commit",
		"(*Writer).TryReserve",
		"(*Writer).Extract",
		"(*Writer).Point",
		"(*Writer).Advance",
	},
	"buzzer": {
		"(*Buzzer).Wake",
		"(*Buzzer).Prepare",
		"(*Buzzer).Cancel",
	},
	"process": {
		"(*Allocator).usable",
		"frameSize",
		"Owner",
		"(*epochs).pulled",
		"(*queue[shape]).len",
		"(*queue[shape]).front",
		"(*queue[shape]).pop",
		"(*queue[shape]).skip",
		"(*Allocator).Finished",
		"(*Allocator).HasEvents",
		"at",
	},
	"ring": { // instantiated by process, for views
		"ring.(*Ring[shape]).Ready",
		"ring.(*Ring[shape]).Len",
		"ring.(*Ring[shape]).Refusing",
	},
}

var (
	canInline  = regexp.MustCompile(`^github\.com/zcomm-go/zcomm/(\w+)/\w+\.go:\d+:\d+: can inline (.+?)(?: with cost \d+)?(?: as: .*)?$`)
	shapeTypes = regexp.MustCompile(`\[go\.shape\.[^\[\]]*\]`)
)

// TestHotPathInlines reads the compiler's inlining decisions for the
// packages on the message path, as `go build -gcflags=-m` prints them, and
// fails if a function of hotInlined is no longer inlinable: a change that
// pushes one over the inlining budget shows up here, not as a slowdown
// someone has to find in a benchmark.
func TestHotPathInlines(t *testing.T) {
	if strconv.IntSize != 64 {
		t.Skip("the hot path is tuned for 64-bit targets; on 32-bit ones 64-bit atomics " +
			"are calls, and what inlines differs")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	// -trimpath names each file by its import path, whichever directory the
	// build, or the earlier one whose output the build cache replays, ran in.
	args := []string{"build", "-trimpath", "-gcflags=-m"}
	for pkg := range hotInlined {
		args = append(args, "github.com/zcomm-go/zcomm/"+pkg)
	}
	out, err := exec.Command(goTool, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	inlinable := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if m := canInline.FindStringSubmatch(line); m != nil {
			inlinable[m[1]+": "+shapeTypes.ReplaceAllString(m[2], "[shape]")] = true
		}
	}
	if len(inlinable) == 0 {
		t.Fatalf("no inlining decisions in the compiler's output:\n%s", out)
	}
	for pkg, names := range hotInlined {
		for _, name := range names {
			if !inlinable[pkg+": "+name] {
				t.Errorf("%s.%s is no longer inlinable; see go build -gcflags=-m=2 for its cost",
					pkg, name)
			}
		}
	}
}
