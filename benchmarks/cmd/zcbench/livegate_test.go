package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var liveGate = flag.Bool("zcomm.livegate", false,
	"run the regression gate's live check: build zcbench with and without the zcommslow "+
		"tag, run the suite with each, and check that only the slowed build is flagged "+
		"(a few minutes; not for CI)")

// TestLiveGate checks the gate against real measurements rather than
// fixtures: two runs of one build must not be flagged, and a build whose
// every push spins for 200 ns more (the zcommslow tag) must be. It builds
// zcbench twice and runs the suite three times, so it is behind a flag:
//
//	go test -run TestLiveGate -v ./cmd/zcbench/ -zcomm.livegate
func TestLiveGate(t *testing.T) {
	if !*liveGate {
		t.Skip("pass -zcomm.livegate to run the gate against live measurements")
	}
	dir := t.TempDir()
	build := func(name string, tags ...string) string {
		bin := filepath.Join(dir, name)
		args := []string{"build", "-o", bin}
		if len(tags) > 0 {
			args = append(args, "-tags", tags[0])
		}
		cmd := exec.Command("go", append(args, ".")...)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("go build %v: %v", tags, err)
		}
		return bin
	}
	normal, slow := build("zcbench"), build("zcbench-slow", "zcommslow")
	suite := func(bin, out string) string {
		path := filepath.Join(dir, out)
		cmd := exec.Command(bin, "suite", "-runs", "6", "-json", path)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s suite: %v", filepath.Base(bin), err)
		}
		return path
	}
	a, b, s := suite(normal, "a.json"), suite(normal, "b.json"), suite(slow, "slow.json")

	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"compare", a, b}, &out, &errs); err != nil {
		t.Errorf("two runs of one build were flagged: %v\n%s", err, out.String())
	}
	t.Logf("same build:\n%s", out.String())
	out.Reset()
	if err := run(context.Background(), []string{"compare", a, s}, &out, &errs); err == nil {
		t.Errorf("a build 200 ns per push slower was not flagged:\n%s", out.String())
	}
	t.Logf("slowed build:\n%s", out.String())
}
