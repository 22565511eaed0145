// Package report defines zcbench's machine-readable results and the
// regression gate that compares two of them.
//
// Every figure is stored with a baseline measured in the same run, in the
// same process, alternating with it: a Go channel for throughput, a raw
// atomic ping-pong for latency, memmove for bandwidth. The gate judges each
// figure by its ratio to its baseline, so a machine that is slower or busier
// as a whole does not read as a regression, and only a change in zcomm
// relative to the hardware it runs on does.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Schema is the version of the report format.
const Schema = 1

// Better says which direction of a figure is an improvement.
type Better string

// The two directions.
const (
	Lower  Better = "lower"  // times, latencies, CPU used
	Higher Better = "higher" // throughput
)

// Report is the result of one zcbench run: the suite, or the figures of one
// scenario.
type Report struct {
	Schema  int       `json:"schema"`
	Label   string    `json:"label,omitempty"` // e.g. a commit id
	Started time.Time `json:"started"`
	Machine Machine   `json:"machine"`
	Figures []Figure  `json:"figures"`
}

// New returns a report of the current schema with no figures yet, labelled
// label, started now, on this machine.
func New(label string) *Report {
	return &Report{Schema: Schema, Label: label, Started: time.Now().UTC().Round(time.Second),
		Machine: CurrentMachine()}
}

// Machine describes where a report was measured.
type Machine struct {
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	CPU        string `json:"cpu"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Go         string `json:"go"`
}

// Figure is one measured quantity, one value per run, with the baseline
// measured beside it in each run.
type Figure struct {
	// Name identifies the figure across reports, e.g.
	// "alltoall/2w/64B/batched".
	Name string `json:"name"`
	// Unit of Values and BaselineValues, e.g. "msgs/s" or "ns".
	Unit string `json:"unit"`
	// Better says whether lower or higher values are improvements.
	Better Better `json:"better"`
	// Values holds one measurement per run.
	Values []float64 `json:"values"`
	// Baseline names what BaselineValues measured.
	Baseline string `json:"baseline"`
	// BaselineValues holds the baseline's measurement in each run, paired
	// with Values by index.
	BaselineValues []float64 `json:"baseline_values"`
	// AllocsPerOp is the heap allocations per operation, when measured.
	// The gate compares it exactly.
	AllocsPerOp *float64 `json:"allocs_per_op,omitempty"`
}

// Ratios returns Values[i]/BaselineValues[i] for each run, skipping runs
// whose baseline is zero.
func (f *Figure) Ratios() []float64 {
	out := make([]float64, 0, len(f.Values))
	for i, v := range f.Values {
		if i < len(f.BaselineValues) && f.BaselineValues[i] != 0 {
			out = append(out, v/f.BaselineValues[i])
		}
	}
	return out
}

// Validate reports the first inconsistency in r.
func (r *Report) Validate() error {
	if r.Schema != Schema {
		return fmt.Errorf("report schema %d, want %d", r.Schema, Schema)
	}
	seen := map[string]bool{}
	for i := range r.Figures {
		f := &r.Figures[i]
		switch {
		case f.Name == "":
			return fmt.Errorf("figure %d has no name", i)
		case seen[f.Name]:
			return fmt.Errorf("figure %q appears twice", f.Name)
		case f.Better != Lower && f.Better != Higher:
			return fmt.Errorf("figure %q: better is %q, want lower or higher", f.Name, f.Better)
		case len(f.Values) == 0 || len(f.Values) != len(f.BaselineValues):
			return fmt.Errorf("figure %q: %d values and %d baseline values, want as many",
				f.Name, len(f.Values), len(f.BaselineValues))
		}
		seen[f.Name] = true
	}
	return nil
}

// CurrentMachine describes the machine this process runs on.
func CurrentMachine() Machine {
	return Machine{
		GOOS:       runtime.GOOS,
		GOARCH:     runtime.GOARCH,
		CPU:        CPUModel(),
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Go:         runtime.Version(),
	}
}

// CPUModel returns the processor's name where the system tells it.
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// Read loads and validates a report from a JSON file.
func Read(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// Write stores r as indented JSON.
func (r *Report) Write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Merge combines reports of the same build measured at different times (for
// example, rounds interleaved with another build's) into one: each figure's
// values, and its baseline's, are concatenated in the order given. A figure
// must have the same unit, direction and baseline in every report that has
// it. The machine and label are taken from the first report.
func Merge(rs ...*Report) (*Report, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("no reports to merge")
	}
	out := &Report{Schema: Schema, Label: rs[0].Label, Started: rs[0].Started,
		Machine: rs[0].Machine}
	index := map[string]int{}
	for _, r := range rs {
		for _, f := range r.Figures {
			i, ok := index[f.Name]
			if !ok {
				index[f.Name] = len(out.Figures)
				f.Values = append([]float64(nil), f.Values...)
				f.BaselineValues = append([]float64(nil), f.BaselineValues...)
				out.Figures = append(out.Figures, f)
				continue
			}
			g := &out.Figures[i]
			if g.Unit != f.Unit || g.Better != f.Better || g.Baseline != f.Baseline {
				return nil, fmt.Errorf("figure %q is measured differently in the reports "+
					"(%s, %s, against %q; %s, %s, against %q)", f.Name, g.Unit, g.Better,
					g.Baseline, f.Unit, f.Better, f.Baseline)
			}
			g.Values = append(g.Values, f.Values...)
			g.BaselineValues = append(g.BaselineValues, f.BaselineValues...)
			if f.AllocsPerOp != nil && (g.AllocsPerOp == nil || *f.AllocsPerOp > *g.AllocsPerOp) {
				g.AllocsPerOp = f.AllocsPerOp // the worst seen
			}
		}
	}
	return out, out.Validate()
}
