// Package wordcount is zcbench's main job: a word count over a tree of
// source files, split among workers that send each word to the worker that
// owns it, through zcomm or, for comparison, through Go channels.
package wordcount

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ListGoFiles returns every regular file under root whose name ends in .go,
// sorted. Anything that is not a regular file is skipped: Go's own source
// tree holds a directory named like a Go file.
func ListGoFiles(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".go") {
			files = append(files, path)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// Subset returns about n files spread evenly over files (every k-th), for a
// quick run that still samples the whole tree.
func Subset(files []string, n int) []string {
	if n <= 0 || len(files) <= n {
		return files
	}
	step := len(files) / n
	out := make([]string, 0, n)
	for i := 0; i < len(files) && len(out) < n; i += step {
		out = append(out, files[i])
	}
	return out
}

// isWordByte reports whether an ASCII byte belongs to a word.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// isWordRune reports whether a rune belongs to a word: a Unicode letter or
// digit, or the underscore.
func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// Words calls fn with each word of text, in order: a maximal run of Unicode
// letters, digits and underscores. The slices alias text. Invalid UTF-8
// separates words.
func Words(text []byte, fn func(word []byte)) {
	start := -1
	for i := 0; i < len(text); {
		c := text[i]
		size := 1
		in := false
		if c < utf8.RuneSelf {
			in = isWordByte(c)
		} else {
			var r rune
			r, size = utf8.DecodeRune(text[i:])
			in = r != utf8.RuneError && isWordRune(r)
		}
		if in {
			if start < 0 {
				start = i
			}
		} else if start >= 0 {
			fn(text[start:i])
			start = -1
		}
		i += size
	}
	if start >= 0 {
		fn(text[start:])
	}
}

// Counts maps each word to its number of occurrences.
type Counts map[string]uint64

// Add merges o into c.
func (c Counts) Add(o Counts) {
	for w, n := range o {
		c[w] += n
	}
}

// Total returns the number of words counted.
func (c Counts) Total() uint64 {
	var t uint64
	for _, n := range c {
		t += n
	}
	return t
}

// WordCount is one word and its count.
type WordCount struct {
	Word  string
	Count uint64
}

// Top returns the n most frequent words, ties broken alphabetically.
func (c Counts) Top(n int) []WordCount {
	all := make([]WordCount, 0, len(c))
	for w, k := range c {
		all = append(all, WordCount{w, k})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Count != all[j].Count {
			return all[i].Count > all[j].Count
		}
		return all[i].Word < all[j].Word
	})
	return all[:min(n, len(all))]
}

// Diff describes how two counts differ, in at most max lines; it returns
// nil when they are equal.
func Diff(want, got Counts, max int) []string {
	var out []string
	report := func(w string, a, b uint64) {
		if len(out) < max {
			out = append(out, "word "+quote(w)+": want "+itoa(a)+", got "+itoa(b))
		}
	}
	for w, n := range want {
		if got[w] != n {
			report(w, n, got[w])
		}
	}
	for w, n := range got {
		if _, ok := want[w]; !ok {
			report(w, 0, n)
		}
	}
	if len(out) == 0 && len(want) != len(got) {
		out = append(out, "distinct words differ: want "+itoa(uint64(len(want)))+
			", got "+itoa(uint64(len(got))))
	}
	return out
}

// Reference counts the words of files on one goroutine: the answer the
// pipelines must match. It returns the counts and the bytes read.
func Reference(files []string) (Counts, int64, error) {
	c := Counts{}
	var bytes int64
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			return nil, 0, err
		}
		bytes += int64(len(text))
		Words(text, func(w []byte) { c[string(w)]++ })
	}
	return c, bytes, nil
}
