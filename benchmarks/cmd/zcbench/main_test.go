package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunOnATree(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"a.go":     "package a\nfunc F() int { return 1 }\n",
		"b/b.go":   "package b // the the the\n",
		"b/c.txt":  "ignored ignored",
		"d.go/x.y": "a directory named like a Go file",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errs bytes.Buffer
	err := run(context.Background(), []string{"-dir", dir, "-workers", "3", "-runs", "2"},
		&out, &errs)
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, errs.String())
	}
	for _, want := range []string{
		"verdict: OK",
		"files 2,",
		"words 12, distinct words 9",
		"the  3",
		"zcomm speed / channel speed",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errs.String(), "run 2/2: channels") {
		t.Errorf("no progress on stderr:\n%s", errs.String())
	}
}

func TestRunErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-workers", "0"}, "at least 1"},
		{[]string{"-publish", "sometimes"}, "want batched or eager"},
		{[]string{"-dir", "/nonexistent/zcbench"}, "/nonexistent/zcbench"},
		{[]string{"-dir", os.TempDir(), "extra"}, "unexpected argument"},
		{[]string{"-nosuchflag"}, "not defined"},
	}
	for _, c := range cases {
		var out, errs bytes.Buffer
		err := run(context.Background(), c.args, &out, &errs)
		if err == nil {
			t.Errorf("run(%q) succeeded", c.args)
			continue
		}
		if !strings.Contains(err.Error()+errs.String(), c.want) {
			t.Errorf("run(%q) = %v (stderr %q), want mention of %q", c.args, err, errs.String(),
				c.want)
		}
	}
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &out, &errs); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("run(-h) = %v, want flag.ErrHelp", err)
	}
}

func TestRunEmptyTree(t *testing.T) {
	var out, errs bytes.Buffer
	err := run(context.Background(), []string{"-dir", t.TempDir()}, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "no .go files") {
		t.Fatalf("run on an empty tree = %v, want a no-files error", err)
	}
}

func TestCompare(t *testing.T) {
	fixture := func(name string) string {
		return filepath.Join("..", "..", "report", "testdata", name)
	}
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"compare", fixture("base.json"),
		fixture("slow.json")}, &out, &errs); err != nil {
		t.Fatalf("compare with a slower machine failed: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"compare",
		fixture("base.json") + "," + fixture("noise.json"), fixture("slow.json")},
		&out, &errs); err != nil {
		t.Fatalf("compare of pooled reports failed: %v\n%s", err, out.String())
	}
	out.Reset()
	err := run(context.Background(), []string{"compare", fixture("base.json"),
		fixture("regression.json")}, &out, &errs)
	if err == nil || !strings.Contains(out.String(), "REGRESSION") {
		t.Fatalf("compare with a regression = %v, want failure\n%s", err, out.String())
	}
	for _, args := range [][]string{
		{"compare"},
		{"compare", fixture("base.json")},
		{"compare", fixture("base.json"), fixture("missing.json")},
		{"compare", "-alpha", "2", fixture("base.json"), fixture("base.json")},
	} {
		if err := run(context.Background(), args, &out, &errs); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
