package main

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zcomm-go/zcomm/benchmarks/report"
	"github.com/zcomm-go/zcomm/benchmarks/scenario"
	"github.com/zcomm-go/zcomm/process"
)

// Bounds of a calibrated message count: the first probe sends calMin
// messages per worker, and no run sends more than calMax (tags number a
// worker's messages with 32 bits).
const (
	calMin = 256
	calMax = 1 << 30
)

// series is one figure under construction: a value per run, and the value
// of its baseline measured beside it in the same run.
type series struct {
	report.Figure
	// allocs is the heap allocations per message, for the all-to-all
	// figures of zcomm; nil elsewhere.
	allocs *float64
	// note, if not nil, adds a remark on the median to the table.
	note func(median float64) string
	// noBaseline marks a figure whose baseline values are all 1, standing
	// for no baseline.
	noBaseline bool
}

// add records one run.
func (s *series) add(value, baseline float64) {
	s.Values = append(s.Values, value)
	s.BaselineValues = append(s.BaselineValues, baseline)
}

// figure returns the finished figure. Its AllocsPerOp is the allocations
// per message rounded to a whole number: the gate compares it exactly, so it
// must not move with noise. A run's allocations that do not grow with its
// messages cancel out of the measure, but some that grow with them do not
// come at a steady rate (a writer mapping a new buffer when its old ones
// are still in flight, at a rate that depends on the timing), and show as a
// fraction that differs from run to run; an allocation in every message's
// path shows as a whole one.
func (s *series) figure() report.Figure {
	f := s.Figure
	if s.allocs != nil {
		a := math.Round(*s.allocs)
		f.AllocsPerOp = &a
	}
	return f
}

// median returns the median of xs, which must not be empty.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// curve is one line of a chart: the median of each point's runs.
type curve struct {
	name   string
	xs, ys []float64
}

// latencyCurve is one line of the latency chart: every round trip of every
// run of one transport.
type latencyCurve struct {
	name string
	h    *hdrhistogram.Histogram
}

// session runs the measurements of one subcommand, reports their progress
// and collects their figures, in the order measured, and what the chart
// shows.
type session struct {
	ctx  context.Context
	runs int
	prog *progress

	series []*series
	// tput holds the throughput lines, by payload size (bySize) or by
	// worker count.
	tput   []*curve
	bySize bool
	lat    []*latencyCurve
}

// newSeries starts a figure.
func (s *session) newSeries(name, unit string, better report.Better, baseline string) *series {
	ser := &series{Figure: report.Figure{Name: name, Unit: unit, Better: better,
		Baseline: baseline}}
	s.series = append(s.series, ser)
	return ser
}

// point adds a throughput point to the line named name.
func (s *session) point(name string, x, y float64) {
	for _, c := range s.tput {
		if c.name == name {
			c.xs, c.ys = append(c.xs, x), append(c.ys, y)
			return
		}
	}
	s.tput = append(s.tput, &curve{name: name, xs: []float64{x}, ys: []float64{y}})
}

// latency merges h into the latency line named name.
func (s *session) latency(name string, h *hdrhistogram.Histogram) {
	for _, c := range s.lat {
		if c.name == name {
			c.h.Merge(h)
			return
		}
	}
	m := scenario.NewLatencyHistogram()
	m.Merge(h)
	s.lat = append(s.lat, &latencyCurve{name: name, h: m})
}

// report returns the session's figures as a report.
func (s *session) report(label string) *report.Report {
	r := report.New(label)
	for _, ser := range s.series {
		r.Figures = append(r.Figures, ser.figure())
	}
	return r
}

// measurement is one transport of a figure or its baseline: how to run it
// once, and what its last run gave.
type measurement struct {
	name string
	// run measures once with the calibrated count n.
	run func(n int) (scenario.Result, error)
	n   int
	res scenario.Result
}

// calibrate sets m.n so that a run takes about dur.
func (m *measurement) calibrate(dur time.Duration) error {
	n, err := scenario.Calibrate(dur, calMin, calMax, func(n int) (time.Duration, error) {
		res, err := m.run(n)
		return res.Elapsed, err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", m.name, err)
	}
	m.n = n
	return nil
}

// measureRuns measures each of ms once per run, calling after at the end
// of each run. Figures and baselines alternate: the order of ms is kept in
// even runs and reversed in odd ones, so that neither always runs on a
// machine warmed (or tired) by the other. Each measurement starts with a
// garbage collection, so that none pays for another's garbage.
func (s *session) measureRuns(label string, ms []*measurement, after func()) error {
	for r := range s.runs {
		s.prog.phase(fmt.Sprintf("run %d/%d: %s", r+1, s.runs, label))
		order := slices.Clone(ms)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, m := range order {
			if err := s.ctx.Err(); err != nil {
				return err
			}
			runtime.GC()
			res, err := m.run(m.n)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", label, m.name, err)
			}
			m.res = res
			s.prog.step()
		}
		after()
	}
	return nil
}

// allToAllSteps is the number of progress steps of allToAll.
func allToAllSteps(modes, runs int) int { return (modes+1)*runs + modes }

// allToAll measures zcomm's all-to-all throughput among workers workers at
// one payload size, in each publishing mode of modes, beside the same
// exchange over chan-per-msg, and adds one figure per mode, in messages per
// second received by all workers together.
func (s *session) allToAll(workers, size int, modes []process.Publish, dur time.Duration) error {
	label := fmt.Sprintf("alltoall %dw %s", workers, sizeName(size))
	run := func(f scenario.AllToAllFunc) func(n int) (scenario.Result, error) {
		return func(n int) (scenario.Result, error) {
			return f(scenario.AllToAll{Workers: workers, Size: size, Messages: n})
		}
	}
	base := &measurement{name: "chan-per-msg", run: run(scenario.ChanPerMsgAllToAll)}
	ms := []*measurement{base}
	var sers []*series
	var fs []scenario.AllToAllFunc
	for _, mode := range modes {
		f := scenario.ZcommAllToAll(mode)
		fs = append(fs, f)
		ms = append(ms, &measurement{name: "zcomm-" + mode.String(), run: run(f)})
		ser := s.newSeries(fmt.Sprintf("alltoall/%dw/%s/%s", workers, sizeName(size), mode),
			"msgs/s", report.Higher, "chan-per-msg")
		ser.note = func(v float64) string { return formatValue(v*float64(size)/1e6, "MB/s") }
		sers = append(sers, ser)
	}

	s.prog.phase("calibrating " + label)
	for _, m := range ms {
		if err := m.calibrate(dur); err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
	}
	err := s.measureRuns(label, ms, func() {
		b := base.res.MessagesPerSecond()
		for i, ser := range sers {
			ser.add(ms[i+1].res.MessagesPerSecond(), b)
		}
	})
	if err != nil {
		return err
	}
	s.prog.phase("counting allocations of " + label)
	for i, ser := range sers {
		a, err := allocsPerMessage(fs[i], workers, size, ms[i+1].n)
		if err != nil {
			return fmt.Errorf("%s, %s: %w", label, ms[i+1].name, err)
		}
		ser.allocs = &a
		s.prog.step()
	}

	x := float64(workers)
	if s.bySize {
		x = float64(size)
	}
	for i, ser := range sers {
		s.point(ms[i+1].name, x, median(ser.Values))
	}
	s.point(base.name, x, median(sers[0].BaselineValues))
	return nil
}

// allocsPerMessage returns the heap allocations per message of f's
// exchange among workers workers at one payload size, at the margin: the
// allocations of a run of 2n messages per worker less those of a run of n,
// over the n*workers messages the longer run adds. What a run allocates
// whatever its length (allocators, goroutines, and the buffers it grows to
// its high-water mark) cancels out; what grows with the messages remains.
func allocsPerMessage(f scenario.AllToAllFunc, workers, size, n int) (float64, error) {
	var mallocs [2]uint64
	for i, msgs := range []int{n, 2 * n} {
		runtime.GC()
		res, err := f(scenario.AllToAll{Workers: workers, Size: size, Messages: msgs,
			CountMallocs: true})
		if err != nil {
			return 0, err
		}
		mallocs[i] = res.Mallocs
	}
	return max(0, float64(mallocs[1])-float64(mallocs[0])) / float64(workers*n), nil
}

// bandwidthSteps is the number of progress steps of bandwidth.
func bandwidthSteps(runs int) int { return 2*runs + 1 }

// bandwidth measures the payload bandwidth of zcomm's batched all-to-all
// among workers workers at one payload size, per worker, beside memmove
// over a 1 MiB buffer in chunks of that size on one goroutine: each worker
// copies every payload it sends once, as memmove copies each chunk once.
func (s *session) bandwidth(workers, size int, dur time.Duration) error {
	label := fmt.Sprintf("bandwidth %dw %s", workers, sizeName(size))
	f := scenario.ZcommAllToAll(process.Batched)
	z := &measurement{name: "zcomm-batched", run: func(n int) (scenario.Result, error) {
		return f(scenario.AllToAll{Workers: workers, Size: size, Messages: n})
	}}
	mm := &measurement{name: "memmove", run: func(n int) (scenario.Result, error) {
		return scenario.Memmove(size, n, nil)
	}}
	ser := s.newSeries(fmt.Sprintf("bandwidth/%dw/%s/batched", workers, sizeName(size)),
		"MB/s/worker", report.Higher,
		fmt.Sprintf("memmove %s chunks, 1 goroutine", sizeName(size)))

	s.prog.phase("calibrating " + label)
	for _, m := range []*measurement{z, mm} {
		if err := m.calibrate(dur); err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
	}
	err := s.measureRuns(label, []*measurement{z, mm}, func() {
		ser.add(z.res.BytesPerSecond()/float64(workers)/1e6, mm.res.BytesPerSecond()/1e6)
	})
	if err != nil {
		return err
	}
	s.prog.phase("counting allocations of " + label)
	a, err := allocsPerMessage(f, workers, size, z.n)
	if err != nil {
		return fmt.Errorf("%s, %s: %w", label, z.name, err)
	}
	ser.allocs = &a
	s.prog.step()
	return nil
}

// quantileName names a percentile: 50 is "p50", 99.9 is "p99.9".
func quantileName(q float64) string { return "p" + strconv.FormatFloat(q, 'f', -1, 64) }

// pingPongSteps is the number of progress steps of pingPong.
func pingPongSteps(runs int) int { return 2*runs + 1 }

// pingPong measures the round trip of zcomm's ping-pong, busy or parked,
// count round trips a run, beside the atomic ping-pong, and adds a figure
// for each of quantiles (percentiles), in nanoseconds.
func (s *session) pingPong(park bool, count int, quantiles []float64) error {
	mode := "busy"
	if park {
		mode = "park"
	}
	label := "pingpong " + mode
	var hz, hb *hdrhistogram.Histogram
	// The spinning peers run pinned; see scenario.PingPongPeer.Spins.
	pp := func(f scenario.PingPongFunc, h **hdrhistogram.Histogram, pin bool) func(int) (
		scenario.Result, error) {
		return func(n int) (scenario.Result, error) {
			*h = scenario.NewLatencyHistogram()
			return f(scenario.PingPong{RoundTrips: n, Latency: *h, Pin: pin})
		}
	}
	z := &measurement{name: "zcomm-" + mode, run: pp(scenario.ZcommPingPong(park), &hz, !park),
		n: count}
	b := &measurement{name: baselineLine, run: pp(scenario.AtomicPingPong, &hb, true), n: count}
	var sers []*series
	for _, q := range quantiles {
		sers = append(sers, s.newSeries("pingpong/"+mode+"/"+quantileName(q), "ns", report.Lower,
			"atomic ping-pong "+quantileName(q)))
	}

	s.prog.phase("warming up " + label)
	for _, m := range []*measurement{z, b} {
		if _, err := m.run(min(count, 1000)); err != nil {
			return fmt.Errorf("%s, %s: %w", label, m.name, err)
		}
	}
	s.prog.step()
	return s.measureRuns(label, []*measurement{z, b}, func() {
		for i, q := range quantiles {
			sers[i].add(float64(hz.ValueAtQuantile(q)), float64(hb.ValueAtQuantile(q)))
		}
		s.latency(z.name, hz)
		s.latency(b.name, hb)
	})
}

// sizeName names a payload size: 8B, 1KiB, 64KiB, 1MiB, 1500B.
func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
