// Package metrics keeps Strongroom's operational counters and serves them
// in the Prometheus text exposition format (version 0.0.4), written by hand:
// counters, gauges and histograms with labels, nothing more, and no
// dependency.
//
// What it never holds: request parameters, key material, plaintexts,
// credentials. Label values are operation names, outcome codes and other
// small closed sets chosen by the server, never client-controlled strings
// (an unknown operation is counted as "unknown"), so the number of series
// stays bounded.
package metrics

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Registry is a set of metric families. It is safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	families []family
}

type family interface {
	name() string
	write(w *strings.Builder)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

func (r *Registry) add(f family) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.families {
		if g.name() == f.name() {
			panic("metrics: " + f.name() + " registered twice")
		}
	}
	r.families = append(r.families, f)
}

// WriteTo writes every family in the text format, sorted by name.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	fams := slices.Clone(r.families)
	r.mu.Unlock()
	slices.SortFunc(fams, func(a, b family) int { return strings.Compare(a.name(), b.name()) })
	var b strings.Builder
	for _, f := range fams {
		f.write(&b)
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// ContentType is the media type of WriteTo's output.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

type meta struct {
	fname, help, typ string
	labels           []string
}

func (m *meta) name() string { return m.fname }

func (m *meta) header(b *strings.Builder) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", m.fname, escapeHelp(m.help), m.fname, m.typ)
}

// labelString renders {a="x",b="y"} (empty without labels); extra is
// appended as is (a histogram's le).
func (m *meta) labelString(values []string, extra string) string {
	if len(m.labels) == 0 && extra == "" {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range m.labels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(values[i]))
		b.WriteByte('"')
	}
	if extra != "" {
		if len(m.labels) > 0 {
			b.WriteByte(',')
		}
		b.WriteString(extra)
	}
	b.WriteByte('}')
	return b.String()
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}

func key(values []string) string { return strings.Join(values, "\xff") }

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// CounterVec is a family of counters by label values.
type CounterVec struct {
	meta
	mu sync.RWMutex
	m  map[string]*counter
}

type counter struct {
	values []string
	n      atomic.Uint64
}

// NewCounterVec registers a counter family.
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{meta: meta{fname: name, help: help, typ: "counter", labels: labels}, m: map[string]*counter{}}
	r.add(c)
	return c
}

// Add adds n to the counter of values (one per label).
func (c *CounterVec) Add(n uint64, values ...string) {
	if len(values) != len(c.labels) {
		panic("metrics: wrong number of label values for " + c.fname)
	}
	k := key(values)
	c.mu.RLock()
	e := c.m[k]
	c.mu.RUnlock()
	if e == nil {
		c.mu.Lock()
		if e = c.m[k]; e == nil {
			e = &counter{values: slices.Clone(values)}
			c.m[k] = e
		}
		c.mu.Unlock()
	}
	e.n.Add(n)
}

// Inc adds one.
func (c *CounterVec) Inc(values ...string) { c.Add(1, values...) }

// Value returns the counter of values (for tests).
func (c *CounterVec) Value(values ...string) uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if e := c.m[key(values)]; e != nil {
		return e.n.Load()
	}
	return 0
}

func (c *CounterVec) write(b *strings.Builder) {
	c.header(b)
	c.mu.RLock()
	es := make([]*counter, 0, len(c.m))
	for _, e := range c.m {
		es = append(es, e)
	}
	c.mu.RUnlock()
	slices.SortFunc(es, func(x, y *counter) int { return strings.Compare(key(x.values), key(y.values)) })
	for _, e := range es {
		fmt.Fprintf(b, "%s%s %d\n", c.fname, c.labelString(e.values, ""), e.n.Load())
	}
}

// GaugeFunc is a gauge read when the metrics are written.
type GaugeFunc struct {
	meta
	fn func() float64
}

// NewGaugeFunc registers a gauge whose value fn supplies.
func (r *Registry) NewGaugeFunc(name, help string, fn func() float64) {
	r.add(&GaugeFunc{meta: meta{fname: name, help: help, typ: "gauge"}, fn: fn})
}

func (g *GaugeFunc) write(b *strings.Builder) {
	g.header(b)
	fmt.Fprintf(b, "%s %s\n", g.fname, formatFloat(g.fn()))
}

// CounterFunc is a counter read when the metrics are written (for counts
// kept elsewhere, such as a cache's hits).
type CounterFunc struct {
	meta
	fn func() float64
}

// NewCounterFunc registers a counter whose value fn supplies.
func (r *Registry) NewCounterFunc(name, help string, fn func() float64) {
	r.add(&CounterFunc{meta: meta{fname: name, help: help, typ: "counter"}, fn: fn})
}

func (g *CounterFunc) write(b *strings.Builder) {
	g.header(b)
	fmt.Fprintf(b, "%s %s\n", g.fname, formatFloat(g.fn()))
}

// CounterFuncVec is a counter family with one label whose series are read
// when the metrics are written (for counts kept elsewhere, such as the
// hits of several caches).
type CounterFuncVec struct {
	meta
	fn func(add func(value string, v float64))
}

// NewCounterFuncVec registers a counter family with one label; fn calls add
// once per series, with the label's value and the count.
func (r *Registry) NewCounterFuncVec(name, help, label string, fn func(add func(value string, v float64))) {
	r.add(&CounterFuncVec{meta: meta{fname: name, help: help, typ: "counter", labels: []string{label}}, fn: fn})
}

func (c *CounterFuncVec) write(b *strings.Builder) {
	c.header(b)
	type series struct {
		value string
		v     float64
	}
	var all []series
	c.fn(func(value string, v float64) { all = append(all, series{value, v}) })
	slices.SortFunc(all, func(x, y series) int { return strings.Compare(x.value, y.value) })
	for _, s := range all {
		fmt.Fprintf(b, "%s%s %s\n", c.fname, c.labelString([]string{s.value}, ""), formatFloat(s.v))
	}
}

// GaugeFuncVec is a gauge family with one label whose series are read
// when the metrics are written.
type GaugeFuncVec struct{ CounterFuncVec }

// NewGaugeFuncVec registers a gauge family with one label; fn calls add
// once per series, with the label's value and the gauge's value.
func (r *Registry) NewGaugeFuncVec(name, help, label string, fn func(add func(value string, v float64))) {
	r.add(&GaugeFuncVec{CounterFuncVec{meta: meta{fname: name, help: help, typ: "gauge", labels: []string{label}}, fn: fn}})
}

// HistogramVec is a family of histograms by label values, with fixed
// upper bounds.
type HistogramVec struct {
	meta
	bounds []float64
	mu     sync.RWMutex
	m      map[string]*histogram
}

type histogram struct {
	values []string
	counts []atomic.Uint64 // one per bound, then +Inf; not cumulative
	sum    atomic.Uint64   // float64 bits
	n      atomic.Uint64
}

// LatencyBuckets are upper bounds in seconds, from half a millisecond to
// ten seconds.
var LatencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// NewHistogramVec registers a histogram family with the given ascending
// upper bounds.
func (r *Registry) NewHistogramVec(name, help string, bounds []float64, labels ...string) *HistogramVec {
	if !slices.IsSorted(bounds) {
		panic("metrics: histogram bounds must ascend")
	}
	h := &HistogramVec{meta: meta{fname: name, help: help, typ: "histogram", labels: labels}, bounds: bounds, m: map[string]*histogram{}}
	r.add(h)
	return h
}

// Observe records v for values.
func (h *HistogramVec) Observe(v float64, values ...string) {
	if len(values) != len(h.labels) {
		panic("metrics: wrong number of label values for " + h.fname)
	}
	k := key(values)
	h.mu.RLock()
	e := h.m[k]
	h.mu.RUnlock()
	if e == nil {
		h.mu.Lock()
		if e = h.m[k]; e == nil {
			e = &histogram{values: slices.Clone(values), counts: make([]atomic.Uint64, len(h.bounds)+1)}
			h.m[k] = e
		}
		h.mu.Unlock()
	}
	i, _ := slices.BinarySearch(h.bounds, v)
	e.counts[i].Add(1)
	for {
		old := e.sum.Load()
		if e.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
	e.n.Add(1)
}

// ObserveDuration records d in seconds.
func (h *HistogramVec) ObserveDuration(d time.Duration, values ...string) {
	h.Observe(d.Seconds(), values...)
}

// Count returns how many values were observed for values (for tests).
func (h *HistogramVec) Count(values ...string) uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if e := h.m[key(values)]; e != nil {
		return e.n.Load()
	}
	return 0
}

func (h *HistogramVec) write(b *strings.Builder) {
	h.header(b)
	h.mu.RLock()
	es := make([]*histogram, 0, len(h.m))
	for _, e := range h.m {
		es = append(es, e)
	}
	h.mu.RUnlock()
	slices.SortFunc(es, func(x, y *histogram) int { return strings.Compare(key(x.values), key(y.values)) })
	for _, e := range es {
		// Read the buckets first and derive the count from them, so that
		// the +Inf bucket and _count agree even while observations land.
		var cum uint64
		for i, bound := range h.bounds {
			cum += e.counts[i].Load()
			fmt.Fprintf(b, "%s_bucket%s %d\n", h.fname, h.labelString(e.values, `le="`+formatFloat(bound)+`"`), cum)
		}
		cum += e.counts[len(h.bounds)].Load()
		fmt.Fprintf(b, "%s_bucket%s %d\n", h.fname, h.labelString(e.values, `le="+Inf"`), cum)
		fmt.Fprintf(b, "%s_sum%s %s\n", h.fname, h.labelString(e.values, ""), formatFloat(math.Float64frombits(e.sum.Load())))
		fmt.Fprintf(b, "%s_count%s %d\n", h.fname, h.labelString(e.values, ""), cum)
	}
}
