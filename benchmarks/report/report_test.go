package report

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the JSON fixtures in testdata")

// fixture builds a report whose figures are base values times scale (the
// machine's speed), with multiplicative noise of up to ±noise per value,
// and the zcomm figure named worse made worse by the factor worsen.
func fixture(seed uint64, scale, noise float64, worse string, worsen float64) *Report {
	rng := rand.New(rand.NewPCG(seed, 7))
	jitter := func(v float64) float64 { return v * (1 + noise*(2*rng.Float64()-1)) }
	r := &Report{
		Schema:  Schema,
		Label:   "fixture",
		Started: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		Machine: Machine{GOOS: "linux", GOARCH: "amd64", CPU: "fixture", CPUs: 2,
			GOMAXPROCS: 2, Go: "go1.26"},
	}
	zero := 0.0
	add := func(name, unit string, better Better, value, base float64, allocs *float64) {
		f := Figure{Name: name, Unit: unit, Better: better, Baseline: "baseline of " + name,
			AllocsPerOp: allocs}
		for i := 0; i < 8; i++ {
			v := value
			if name == worse {
				if better == Lower {
					v *= worsen
				} else {
					v /= worsen
				}
			}
			// A slower machine makes both the figure and its baseline slower.
			if better == Lower {
				f.Values = append(f.Values, jitter(v*scale))
				f.BaselineValues = append(f.BaselineValues, jitter(base*scale))
			} else {
				f.Values = append(f.Values, jitter(v/scale))
				f.BaselineValues = append(f.BaselineValues, jitter(base/scale))
			}
		}
		r.Figures = append(r.Figures, f)
	}
	add("alltoall/2w/64B/batched", "msgs/s", Higher, 30e6, 8e6, &zero)
	add("alltoall/2w/64B/eager", "msgs/s", Higher, 12e6, 8e6, &zero)
	add("pingpong/busy/p50", "ns", Lower, 180, 90, nil)
	add("alltoall/2w/1KiB/batched", "MB/s", Higher, 6000, 9000, &zero)
	return r
}

func fixtures() map[string]*Report {
	return map[string]*Report{
		"base.json":       fixture(1, 1, 0.03, "", 1),
		"noise.json":      fixture(2, 1, 0.03, "", 1),
		"slow.json":       fixture(3, 2, 0.03, "", 1),
		"regression.json": fixture(4, 1, 0.03, "alltoall/2w/64B/batched", 1.25),
		"latency.json":    fixture(5, 1.5, 0.03, "pingpong/busy/p50", 1.4),
		"allocs.json": func() *Report {
			r := fixture(6, 1, 0.03, "", 1)
			one := 1.0
			r.Figures[1].AllocsPerOp = &one
			return r
		}(),
	}
}

func load(t *testing.T, name string) *Report {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := fixtures()[name].Write(path); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestGate(t *testing.T) {
	base := load(t, "base.json")
	cases := []struct {
		file string
		want []string // the figures that must be flagged, and no others
	}{
		{"noise.json", nil},
		{"slow.json", nil}, // twice as slow as a whole: ratios unchanged
		{"regression.json", []string{"alltoall/2w/64B/batched"}},
		{"latency.json", []string{"pingpong/busy/p50"}}, // on a machine 1.5x slower, too
		{"allocs.json", []string{"alltoall/2w/64B/eager"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			vs := DefaultGate.Compare(base, load(t, c.file))
			var got []string
			for _, v := range vs {
				if v.Regression {
					got = append(got, v.Name)
				}
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				var buf bytes.Buffer
				Print(&buf, vs, DefaultGate)
				t.Fatalf("regressions %q, want %q\n%s", got, c.want, buf.String())
			}
			if Regressions(vs) != len(c.want) {
				t.Fatalf("Regressions = %d, want %d", Regressions(vs), len(c.want))
			}
		})
	}
}

func TestGateSelf(t *testing.T) {
	base := load(t, "base.json")
	for _, v := range DefaultGate.Compare(base, base) {
		if v.Regression || v.Significant {
			t.Errorf("%s: a report compared with itself gave %+v", v.Name, v)
		}
	}
}

func TestGateMissingFigure(t *testing.T) {
	base := load(t, "base.json")
	cut := *load(t, "noise.json")
	cut.Figures = cut.Figures[1:]
	vs := DefaultGate.Compare(base, &cut)
	if Regressions(vs) != 1 || vs[0].Name != base.Figures[0].Name {
		t.Fatalf("a figure missing from the new report was not flagged: %+v", vs)
	}
}

func TestPrint(t *testing.T) {
	var buf bytes.Buffer
	Print(&buf, DefaultGate.Compare(load(t, "base.json"), load(t, "regression.json")), DefaultGate)
	out := buf.String()
	for _, want := range []string{"REGRESSION", "alltoall/2w/64B/batched", "~ (noise)", "p < 0.05"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestValidate(t *testing.T) {
	good := fixture(1, 1, 0, "", 1)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []func(r *Report){
		func(r *Report) { r.Schema = 99 },
		func(r *Report) { r.Figures[0].Name = "" },
		func(r *Report) { r.Figures[1].Name = r.Figures[0].Name },
		func(r *Report) { r.Figures[0].Better = "sideways" },
		func(r *Report) { r.Figures[0].BaselineValues = r.Figures[0].BaselineValues[1:] },
		func(r *Report) { r.Figures[0].Values = nil; r.Figures[0].BaselineValues = nil },
	}
	for i, mutate := range bad {
		r := fixture(1, 1, 0, "", 1)
		mutate(r)
		if err := r.Validate(); err == nil {
			t.Errorf("mutation %d validated", i)
		}
	}
	if _, err := Read(filepath.Join("testdata", "missing.json")); err == nil {
		t.Error("Read of a missing file succeeded")
	}
}

func TestNew(t *testing.T) {
	r := New("abc123")
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.Label != "abc123" || r.Machine.CPUs < 1 || r.Machine.Go == "" || r.Started.IsZero() {
		t.Errorf("New gave %+v", r)
	}
}

func TestMerge(t *testing.T) {
	a, b := load(t, "base.json"), load(t, "noise.json")
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Figures) != len(a.Figures) {
		t.Fatalf("merged %d figures, want %d", len(m.Figures), len(a.Figures))
	}
	for i, f := range m.Figures {
		want := len(a.Figures[i].Values) + len(b.Figures[i].Values)
		if len(f.Values) != want || len(f.BaselineValues) != want {
			t.Errorf("%s: %d values and %d baseline values, want %d", f.Name, len(f.Values),
				len(f.BaselineValues), want)
		}
	}
	if len(a.Figures[0].Values) != 8 {
		t.Fatal("Merge changed its input")
	}
	bad := load(t, "noise.json")
	bad.Figures[0].Unit = "furlongs"
	if _, err := Merge(a, bad); err == nil {
		t.Error("Merge accepted a figure measured in two units")
	}
	if _, err := Merge(); err == nil {
		t.Error("Merge of nothing succeeded")
	}
}
