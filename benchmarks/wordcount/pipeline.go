package wordcount

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zcomm-go/zcomm/process"
)

// Config describes one run of a pipeline.
type Config struct {
	// Files are the files to count; worker i reads files i, i+W, i+2W, ...
	Files []string
	// Workers is the number of workers, W.
	Workers int
	// BatchSize is the number of words per message.
	BatchSize int
	// Options configure the zcomm group (zcomm pipeline only).
	Options []process.Option
	// Progress, if not nil, is incremented once per file read.
	Progress *atomic.Int64
}

// Result is what one run of a pipeline produced.
type Result struct {
	Counts   Counts
	Bytes    int64         // bytes read
	Words    uint64        // words sent
	Messages uint64        // batches sent
	Elapsed  time.Duration // wall time of the run
}

func (c *Config) check() error {
	if c.Workers < 1 {
		return fmt.Errorf("wordcount: %d workers: want at least one", c.Workers)
	}
	if c.BatchSize < 1 {
		return fmt.Errorf("wordcount: batch size %d: want at least one word", c.BatchSize)
	}
	return nil
}

// share returns the files worker i reads.
func (c *Config) share(i int) []string {
	var out []string
	for k := i; k < len(c.Files); k += c.Workers {
		out = append(out, c.Files[k])
	}
	return out
}

// worker is the part of a worker's state both pipelines share.
type worker struct {
	counts   Counts
	batches  []Batch
	bytes    int64
	words    uint64
	messages uint64
}

func newWorker(peers int) *worker {
	return &worker{counts: Counts{}, batches: make([]Batch, peers)}
}

// read tokenizes the worker's files, calling send with the owner of each
// batch to send, and flush after each file. Words alias a read buffer that
// the next file reuses, so every batch is sent before the next file is read.
func (w *worker) read(c *Config, i int, send func(t int) error, flush func() error) error {
	peers := len(w.batches)
	var buf []byte
	for _, f := range c.share(i) {
		text, err := readFile(f, buf[:0])
		if err != nil {
			return err
		}
		buf = text
		w.bytes += int64(len(text))
		var serr error
		Words(text, func(word []byte) {
			if serr != nil {
				return
			}
			t := process.Owner(word, peers)
			b := &w.batches[t]
			b.Add(word)
			if b.Len() == c.BatchSize {
				serr = send(t)
			}
		})
		for t := range w.batches {
			if serr == nil && w.batches[t].Len() > 0 {
				serr = send(t)
			}
		}
		if serr != nil {
			return serr
		}
		if c.Progress != nil {
			c.Progress.Add(1)
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return nil
}

// readFile appends the contents of the named file to buf.
func readFile(name string, buf []byte) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && int64(cap(buf)) < st.Size()+512 {
		buf = make([]byte, 0, st.Size()+512)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// merge combines the workers' results. Each word has one owner, so the
// counts are disjoint.
func merge(ws []*worker, elapsed time.Duration) Result {
	r := Result{Counts: Counts{}, Elapsed: elapsed}
	for _, w := range ws {
		r.Counts.Add(w.counts)
		r.Bytes += w.bytes
		r.Words += w.words
		r.Messages += w.messages
	}
	return r
}

// RunZcomm counts the words of c.Files with c.Workers workers exchanging
// batches through zcomm.
func RunZcomm(ctx context.Context, c Config) (Result, error) {
	if err := c.check(); err != nil {
		return Result{}, err
	}
	ws := make([]*worker, c.Workers)
	start := time.Now()
	err := process.Run(ctx, c.Workers, func(a *process.Allocator) error {
		w := newWorker(a.Peers())
		ws[a.Index()] = w
		ch, err := process.Allocate(a, 0, BatchCodec{})
		if err != nil {
			return err
		}
		receive := func() error {
			if err := a.Receive(); err != nil {
				return err
			}
			for {
				m, ok, err := ch.Puller.Pull()
				if err != nil || !ok {
					a.DrainEvents(nil)
					return err
				}
				_, cerr := CountEncoded(m.Value.Raw(), w.counts)
				if err := m.Release(); err != nil {
					return err
				}
				if cerr != nil {
					return cerr
				}
			}
		}
		send := func(t int) error {
			b := &w.batches[t]
			for {
				err := ch.Push(t, *b)
				if err == nil {
					w.words += uint64(b.Len())
					w.messages++
					b.Reset()
					return nil
				}
				if !errors.Is(err, process.ErrBackpressure) {
					return err
				}
				// The budget towards t is spent: publish, take in what
				// peers sent (releasing their memory), and let t catch up.
				if err := a.Release(); err != nil {
					return err
				}
				if err := receive(); err != nil {
					return err
				}
				runtime.Gosched()
			}
		}
		flush := func() error {
			if err := a.Release(); err != nil {
				return err
			}
			return receive()
		}
		if err := w.read(&c, a.Index(), send, flush); err != nil {
			return err
		}
		if err := a.Close(ctx); err != nil {
			return err
		}
		for {
			if err := receive(); err != nil {
				return err
			}
			if a.Finished() {
				return nil
			}
			if err := a.AwaitEvents(-1); err != nil {
				return err
			}
		}
	}, c.Options...)
	if err != nil {
		return Result{}, err
	}
	return merge(ws, time.Since(start)), nil
}

// RunChannels counts the words of c.Files with c.Workers workers exchanging
// the same batches through buffered Go channels, one per worker. A batch is
// encoded into a pooled buffer (the one copy zcomm makes into its slab), and
// its receiver returns the buffer to the pool once counted.
func RunChannels(ctx context.Context, c Config) (Result, error) {
	if err := c.check(); err != nil {
		return Result{}, err
	}
	const depth = 1024 // as many batches in flight per receiver as a zcomm ring holds
	inbox := make([]chan *[]byte, c.Workers)
	for i := range inbox {
		inbox[i] = make(chan *[]byte, depth)
	}
	pool := sync.Pool{New: func() any { return new([]byte) }}
	ws := make([]*worker, c.Workers)
	errs := make([]error, c.Workers)
	var senders, all sync.WaitGroup
	start := time.Now()
	for i := range ws {
		ws[i] = newWorker(c.Workers)
		senders.Add(1)
		all.Add(1)
		go func() {
			defer all.Done()
			w := ws[i]
			count := func(buf *[]byte) error {
				_, err := CountEncoded(*buf, w.counts)
				pool.Put(buf)
				return err
			}
			send := func(t int) error {
				b := &w.batches[t]
				buf := pool.Get().(*[]byte)
				*buf = b.AppendTo((*buf)[:0])
				w.words += uint64(b.Len())
				w.messages++
				b.Reset()
				for {
					// Receive while waiting to send, or two workers whose
					// inboxes are full would wait for each other forever.
					select {
					case inbox[t] <- buf:
						return nil
					case m := <-inbox[i]:
						if err := count(m); err != nil {
							return err
						}
					case <-ctx.Done():
						return ctx.Err()
					}
				}
			}
			// After each file, take in what has arrived, as the zcomm
			// pipeline does with Release and Receive.
			flush := func() error {
				for {
					select {
					case m := <-inbox[i]:
						if err := count(m); err != nil {
							return err
						}
					default:
						return ctx.Err()
					}
				}
			}
			err := w.read(&c, i, send, flush)
			senders.Done()
			for m := range inbox[i] {
				if cerr := count(m); cerr != nil && err == nil {
					err = cerr
				}
			}
			errs[i] = err
		}()
	}
	senders.Wait()
	for _, ch := range inbox {
		close(ch)
	}
	all.Wait()
	if err := errors.Join(errs...); err != nil {
		return Result{}, err
	}
	return merge(ws, time.Since(start)), nil
}
