package report

import (
	"fmt"
	"io"
	"math"
	"sort"
	"text/tabwriter"

	"golang.org/x/perf/benchmath"
)

// Gate configures a comparison.
type Gate struct {
	// Threshold is the relative change of a figure's baseline ratio, in the
	// worse direction, past which a significant change is a regression:
	// 0.10 means 10%.
	Threshold float64
	// Alpha is the significance level of the Mann-Whitney U test that
	// decides whether a change is more than noise.
	Alpha float64
}

// DefaultGate flags changes worse than 10% at the 5% significance level.
var DefaultGate = Gate{Threshold: 0.10, Alpha: 0.05}

// Verdict is the judgement of one figure.
type Verdict struct {
	Name string
	// Old and New summarize the figure's ratios to its baseline: the median
	// and its confidence interval.
	Old, New benchmath.Summary
	// Delta is New.Center/Old.Center - 1, signed so that a positive value is
	// an improvement.
	Delta float64
	// P is the Mann-Whitney U p-value of the two samples of ratios.
	P float64
	// Significant reports P < Alpha.
	Significant bool
	// Regression reports a significant change worse than the threshold, or
	// more allocations per operation, or a figure missing from the new run.
	Regression bool
	// Note explains anything unusual: allocations, a missing figure,
	// warnings from the statistics.
	Note string
}

// Compare judges every figure of old that new also has, and reports figures
// that new lacks as regressions. Figures only in new are not judged.
func (g Gate) Compare(old, new *Report) []Verdict {
	thr := &benchmath.Thresholds{CompareAlpha: g.Alpha}
	byName := map[string]*Figure{}
	for i := range new.Figures {
		byName[new.Figures[i].Name] = &new.Figures[i]
	}
	var out []Verdict
	for i := range old.Figures {
		of := &old.Figures[i]
		nf := byName[of.Name]
		if nf == nil {
			out = append(out, Verdict{Name: of.Name, Regression: true,
				Note: "missing from the new report"})
			continue
		}
		v := Verdict{Name: of.Name}
		os, ns := benchmath.NewSample(of.Ratios(), thr), benchmath.NewSample(nf.Ratios(), thr)
		v.Old = benchmath.AssumeNothing.Summary(os, 0.95)
		v.New = benchmath.AssumeNothing.Summary(ns, 0.95)
		c := benchmath.AssumeNothing.Compare(os, ns)
		v.P = c.P
		v.Significant = c.P < g.Alpha
		if v.Old.Center != 0 {
			v.Delta = v.New.Center/v.Old.Center - 1
			if of.Better == Lower {
				v.Delta = -v.Delta
			}
		}
		v.Regression = v.Significant && v.Delta < -g.Threshold
		if len(c.Warnings) > 0 {
			v.Note = c.Warnings[0].Error()
		}
		if of.AllocsPerOp != nil && nf.AllocsPerOp != nil && *nf.AllocsPerOp > *of.AllocsPerOp {
			v.Regression = true
			v.Note = fmt.Sprintf("allocations per op %g -> %g", *of.AllocsPerOp, *nf.AllocsPerOp)
		}
		out = append(out, v)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Regression && !out[j].Regression })
	return out
}

// Regressions returns how many verdicts are regressions.
func Regressions(vs []Verdict) int {
	n := 0
	for _, v := range vs {
		if v.Regression {
			n++
		}
	}
	return n
}

// Print writes a table of verdicts: each figure's baseline ratio before and
// after with its 95% confidence interval, the change and its p-value.
func Print(w io.Writer, vs []Verdict, g Gate) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "figure\told ratio\tnew ratio\tchange\tp\tverdict\n")
	for _, v := range vs {
		verdict := "ok"
		switch {
		case v.Regression:
			verdict = "REGRESSION"
		case v.Significant && v.Delta > g.Threshold:
			verdict = "improved"
		case !v.Significant:
			verdict = "~ (noise)"
		}
		if v.Note != "" {
			verdict += "; " + v.Note
		}
		if v.Old.Center == 0 && v.New.Center == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t%s\n", v.Name, verdict)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%+.1f%%\t%.3f\t%s\n", v.Name, summary(v.Old),
			summary(v.New), 100*v.Delta, v.P, verdict)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nratios are each figure over its baseline from the same run; change is signed "+
		"so that + is better;\na regression is a change worse than %.0f%% with p < %.2f, or more "+
		"allocations per op.\n", 100*g.Threshold, g.Alpha)
}

func summary(s benchmath.Summary) string {
	if math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) || math.IsNaN(s.Lo) {
		return fmt.Sprintf("%.4g", s.Center)
	}
	return fmt.Sprintf("%.4g [%.4g, %.4g]", s.Center, s.Lo, s.Hi)
}
