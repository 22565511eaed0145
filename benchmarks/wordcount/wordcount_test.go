package wordcount

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zcomm-go/zcomm/process"
)

func words(s string) []string {
	var out []string
	Words([]byte(s), func(w []byte) { out = append(out, string(w)) })
	return out
}

func TestWords(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   \n\t", nil},
		{"a", []string{"a"}},
		{"func main() {}", []string{"func", "main"}},
		{"x_1 := y2+_z", []string{"x_1", "y2", "_z"}},
		{"héllo wörld", []string{"héllo", "wörld"}},
		{"日本語 テキスト", []string{"日本語", "テキスト"}},
		{"٣٤ digits", []string{"٣٤", "digits"}}, // Arabic-Indic digits are digits
		{"a\xffb", []string{"a", "b"}},          // invalid UTF-8 separates
		{"end_", []string{"end_"}},
		{"α—β", []string{"α", "β"}}, // an em dash is punctuation
	}
	for _, c := range cases {
		if got := words(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Words(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestListGoFilesSkipsNonRegular(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.go"), "package a")
	write(t, filepath.Join(dir, "sub", "b.go"), "package b")
	write(t, filepath.Join(dir, "notes.txt"), "not go")
	// Go's own tree holds a directory named like a Go file.
	if err := os.MkdirAll(filepath.Join(dir, "dir.go", "inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "a.go"), filepath.Join(dir, "link.go")); err != nil {
		t.Logf("no symbolic link on this system (%v); testing without one", err)
	}
	got, err := ListGoFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a.go"), filepath.Join(dir, "sub", "b.go")}
	if !slices.Equal(got, want) {
		t.Fatalf("ListGoFiles = %q, want %q", got, want)
	}
	if _, err := ListGoFiles(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("ListGoFiles of a missing directory succeeded")
	}
}

func TestSubset(t *testing.T) {
	files := make([]string, 1000)
	for i := range files {
		files[i] = fmt.Sprint(i)
	}
	if got := Subset(files, 300); len(got) != 300 || got[0] != "0" || got[299] == "299" {
		t.Fatalf("Subset gave %d files, first %q, last %q: want 300 spread over all",
			len(got), got[0], got[len(got)-1])
	}
	if got := Subset(files[:10], 300); len(got) != 10 {
		t.Fatalf("Subset of fewer files than asked gave %d, want all 10", len(got))
	}
}

func TestBatchRoundTrip(t *testing.T) {
	var b Batch
	in := []string{"", "a", strings.Repeat("x", 200), "日本"}
	for _, w := range in {
		b.Add([]byte(w))
	}
	raw := b.AppendTo(nil)
	if len(raw) != (BatchCodec{}).Size(b) {
		t.Fatalf("encoded %d bytes, Size says %d", len(raw), (BatchCodec{}).Size(b))
	}
	c := Counts{}
	n, err := CountEncoded(raw, c)
	if err != nil || n != len(in) {
		t.Fatalf("CountEncoded = %d, %v; want %d words", n, err, len(in))
	}
	for _, w := range in {
		if c[w] != 1 {
			t.Errorf("count of %q = %d, want 1", w, c[w])
		}
	}
	if _, err := CountEncoded([]byte{5, 'a'}, Counts{}); err == nil {
		t.Error("CountEncoded accepted a word running past the batch")
	}
	if _, err := CountEncoded([]byte{0x80}, Counts{}); err == nil {
		t.Error("CountEncoded accepted a truncated length")
	}
}

func FuzzCountEncoded(f *testing.F) {
	var b Batch
	b.Add([]byte("hello"))
	b.Add([]byte("world"))
	f.Add(b.AppendTo(nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, raw []byte) {
		c := Counts{}
		n, err := CountEncoded(raw, c)
		if err == nil && c.Total() != uint64(n) {
			t.Fatalf("counted %d words, returned %d", c.Total(), n)
		}
	})
}

func TestDiff(t *testing.T) {
	want := Counts{"a": 1, "b": 2}
	if d := Diff(want, Counts{"a": 1, "b": 2}, 5); d != nil {
		t.Fatalf("Diff of equal counts = %q", d)
	}
	if d := Diff(want, Counts{"a": 1, "b": 3, "c": 1}, 5); len(d) != 2 {
		t.Fatalf("Diff = %q, want two lines", d)
	}
}

// tree writes a random tree of Go files and returns their paths.
func tree(t *testing.T, files int) []string {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	vocab := []string{"func", "return", "if", "x", "ÿ_1", "日本", "go", "zcomm", "a1", "_"}
	var paths []string
	for i := 0; i < files; i++ {
		var sb strings.Builder
		for j := rng.IntN(3000); j > 0; j-- {
			sb.WriteString(vocab[rng.IntN(len(vocab))])
			sb.WriteString([]string{" ", "\n", "(", ".", "\t"}[rng.IntN(5)])
		}
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%7), fmt.Sprintf("f%d.go", i))
		write(t, p, sb.String())
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPipelinesMatchReference runs both pipelines over a generated tree
// with several worker counts, batch sizes and publishing modes, and checks
// every count against the single-goroutine count.
func TestPipelinesMatchReference(t *testing.T) {
	files := tree(t, 60)
	want, size, err := Reference(files)
	if err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{1, 2, 3, 5} {
		for _, batch := range []int{1, 7, 512} {
			for _, pub := range []process.Publish{process.Eager, process.Batched} {
				name := fmt.Sprintf("w%d/b%d/%v", workers, batch, pub)
				cfg := Config{Files: files, Workers: workers, BatchSize: batch,
					Options: []process.Option{process.WithPublish(pub)}}
				z, err := RunZcomm(context.Background(), cfg)
				if err != nil {
					t.Fatalf("%s: zcomm: %v", name, err)
				}
				checkResult(t, name+"/zcomm", want, size, z)
				if pub == process.Eager {
					c, err := RunChannels(context.Background(), cfg)
					if err != nil {
						t.Fatalf("%s: channels: %v", name, err)
					}
					checkResult(t, name+"/channels", want, size, c)
				}
			}
		}
	}
}

// TestZcommUnderBackpressure forces a tiny budget so that pushes keep
// failing with ErrBackpressure, and checks that the pipeline still counts
// every word.
func TestZcommUnderBackpressure(t *testing.T) {
	files := tree(t, 30)
	want, size, err := Reference(files)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Files: files, Workers: 3, BatchSize: 64, Options: []process.Option{
		process.WithPublish(process.Batched), process.WithBudget(4 << 10), process.WithRingSize(2),
	}}
	z, err := RunZcomm(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, "backpressure", want, size, z)
}

func checkResult(t *testing.T, name string, want Counts, size int64, r Result) {
	t.Helper()
	if d := Diff(want, r.Counts, 5); d != nil {
		t.Errorf("%s: counts differ: %q", name, d)
	}
	if r.Bytes != size || r.Words != want.Total() {
		t.Errorf("%s: read %d bytes and sent %d words, want %d and %d",
			name, r.Bytes, r.Words, size, want.Total())
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{{Workers: 0, BatchSize: 1}, {Workers: 1, BatchSize: 0}} {
		if _, err := RunZcomm(context.Background(), c); err == nil {
			t.Errorf("RunZcomm(%+v) succeeded", c)
		}
		if _, err := RunChannels(context.Background(), c); err == nil {
			t.Errorf("RunChannels(%+v) succeeded", c)
		}
	}
	_, err := RunZcomm(context.Background(), Config{Files: []string{"/nonexistent.go"},
		Workers: 2, BatchSize: 1})
	if err == nil || !strings.Contains(err.Error(), "nonexistent.go") {
		t.Errorf("RunZcomm of a missing file: %v, want an error naming it", err)
	}
}
