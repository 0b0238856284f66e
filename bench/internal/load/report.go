package load

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// ReadResults reads results written one JSON object a line.
func ReadResults(r io.Reader) ([]Result, error) {
	var out []Result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var res Result
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			return nil, fmt.Errorf("load: reading results: %w", err)
		}
		out = append(out, res)
	}
	return out, sc.Err()
}

// Report writes, for every operation and concurrency, the ratio of
// subject's figures to base's. Runs are paired in the order they were
// made (A B A B …): the i-th run of subject with the i-th run of base, so
// that each ratio compares two runs made next to each other, under the
// same load from the rest of the machine. It prints the geometric mean
// of the pairs' ratios and their range.
func Report(w io.Writer, results []Result, subject, base string) {
	type group struct {
		op      string
		workers int
	}
	var order []group
	runs := map[group]map[string][]Result{}
	for _, r := range results {
		g := group{r.Op, r.Workers}
		if runs[g] == nil {
			runs[g] = map[string][]Result{}
			order = append(order, g)
		}
		runs[g][r.Label] = append(runs[g][r.Label], r)
	}
	fmt.Fprintf(w, "%s ÷ %s, paired runs (geometric mean, [min–max] over pairs)\n", subject, base)
	fmt.Fprintf(w, "%-10s %4s %6s  %-22s %-22s %-22s  %s\n", "op", "c", "pairs", "server CPU/op", "throughput", "p99 latency", "errors")
	for _, g := range order {
		a, b := runs[g][subject], runs[g][base]
		n := min(len(a), len(b))
		if n == 0 {
			continue
		}
		var cpu, tput, p99 []float64
		var errs int64
		for i := range n {
			if a[i].CPUus > 0 && b[i].CPUus > 0 {
				cpu = append(cpu, a[i].CPUus/b[i].CPUus)
			}
			if b[i].OpsPerSec > 0 {
				tput = append(tput, a[i].OpsPerSec/b[i].OpsPerSec)
			}
			if b[i].P99us > 0 {
				p99 = append(p99, a[i].P99us/b[i].P99us)
			}
			errs += a[i].Errors + b[i].Errors
		}
		fmt.Fprintf(w, "%-10s %4d %6d  %-22s %-22s %-22s  %d\n", g.op, g.workers, n, summary(cpu), summary(tput), summary(p99), errs)
	}
	fmt.Fprintf(w, "\nabsolute figures (means; they depend on the machine and what else runs on it):\n")
	for _, g := range order {
		for _, label := range []string{subject, base} {
			rs := runs[g][label]
			if len(rs) == 0 {
				continue
			}
			var ops, cpu, p50, p99 float64
			for _, r := range rs {
				ops += r.OpsPerSec
				cpu += r.CPUus
				p50 += r.P50us
				p99 += r.P99us
			}
			k := float64(len(rs))
			fmt.Fprintf(w, "  %-10s %-10s c=%-3d %8.0f ops/s  CPU %6.1fµs/op  p50 %7.0fµs  p99 %7.0fµs\n", g.op, label, g.workers, ops/k, cpu/k, p50/k, p99/k)
		}
	}
}

func summary(xs []float64) string {
	if len(xs) == 0 {
		return "-"
	}
	s := 0.0
	for _, x := range xs {
		s += math.Log(x)
	}
	gm := math.Exp(s / float64(len(xs)))
	if len(xs) == 1 {
		return fmt.Sprintf("%.2f×", gm)
	}
	return fmt.Sprintf("%.2f× [%.2f–%.2f]", gm, slices.Min(xs), slices.Max(xs))
}
