package metrics

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"strongroom/internal/store"
)

// Set is the server's metrics: one per process.
type Set struct {
	Registry *Registry
	// Requests counts API requests by operation and outcome ("ok" or the
	// AWS error code answered).
	Requests *CounterVec
	// Latency is the time from the request's arrival to its response, by
	// operation.
	Latency *HistogramVec
	// StoreLatency is the duration of store transactions (view, update),
	// including the work done inside them.
	StoreLatency *HistogramVec
	// Throttled counts requests refused by a request quota, by quota group.
	Throttled *CounterVec

	inFlight atomic.Int64
	ops      opNames
}

// NewSet registers the server's metric families in a new registry.
func NewSet() *Set {
	r := NewRegistry()
	s := &Set{
		Registry:     r,
		Requests:     r.NewCounterVec("strongroom_requests_total", "API requests by operation and outcome (ok, or the error code answered).", "operation", "outcome"),
		Latency:      r.NewHistogramVec("strongroom_request_duration_seconds", "API request latency, from arrival to response, by operation.", LatencyBuckets, "operation"),
		StoreLatency: r.NewHistogramVec("strongroom_store_transaction_duration_seconds", "Store transaction duration (view or update), including the work inside it.", LatencyBuckets, "kind"),
		Throttled:    r.NewCounterVec("strongroom_throttled_requests_total", "Requests refused with ThrottlingException by a request quota, by quota group.", "group"),
	}
	r.NewGaugeFunc("strongroom_requests_in_flight", "API requests being served.", func() float64 { return float64(s.inFlight.Load()) })
	start := time.Now()
	r.NewGaugeFunc("strongroom_uptime_seconds", "Seconds since the process started serving.", func() float64 { return time.Since(start).Seconds() })
	return s
}

// Handler serves the registry (GET /metrics).
func (s *Set) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ContentType)
		s.Registry.WriteTo(w)
	})
}

// maxOps bounds the operation label's values: past it, new names are
// counted as "other" (client-supplied targets cannot grow the series).
const maxOps = 256

type opNames struct {
	mu sync.RWMutex
	m  map[string]bool
}

func (o *opNames) label(name string) string {
	o.mu.RLock()
	known := o.m[name]
	o.mu.RUnlock()
	if known {
		return name
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string]bool{}
	}
	if o.m[name] {
		return name
	}
	if len(o.m) >= maxOps {
		return "other"
	}
	o.m[name] = true
	return name
}

// operation names a request for the metrics: the KMS operation of its
// X-Amz-Target, or "iam" / "sts" for the query APIs (whose Action is in
// the body), or the path of anything else.
func operation(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		if op, ok := strings.CutPrefix(t, "TrentService."); ok && validName(op) {
			return op
		}
		return "unknown"
	}
	if r.URL.Path == "/" || r.URL.Path == "" {
		auth := r.Header.Get("Authorization")
		switch {
		case strings.Contains(auth, "/iam/aws4_request"):
			return "iam"
		case strings.Contains(auth, "/sts/aws4_request"):
			return "sts"
		}
		return "unknown"
	}
	return "unknown"
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Middleware counts and times every API request and logs it, at debug
// level (warn for a server error), with its request id, operation, outcome
// and duration — never a parameter, a header value or a body.
func (s *Set) Middleware(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.inFlight.Add(1)
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			s.inFlight.Add(-1)
			d := time.Since(start)
			op := operation(r)
			outcome := "ok"
			if rec.status != http.StatusOK {
				outcome = rec.code()
				if outcome == "UnknownOperationException" {
					op = "unknown"
				}
			}
			op = s.ops.label(op)
			s.Requests.Inc(op, outcome)
			s.Latency.ObserveDuration(d, op)
			level := slog.LevelDebug
			if rec.status >= 500 {
				level = slog.LevelWarn
			}
			if log != nil && log.Enabled(r.Context(), level) {
				log.LogAttrs(r.Context(), level, "request",
					slog.String("request_id", w.Header().Get("x-amzn-RequestId")),
					slog.String("operation", op),
					slog.String("outcome", outcome),
					slog.Int("status", rec.status),
					slog.Float64("duration_ms", float64(d.Microseconds())/1000),
					slog.String("remote", r.RemoteAddr))
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// recorder keeps the status and the start of an error body, to read the
// error code from.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	head   []byte
}

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	if r.status != http.StatusOK && len(r.head) < 256 {
		r.head = append(r.head, b[:min(len(b), 256-len(r.head))]...)
	}
	return r.ResponseWriter.Write(b)
}

// Flush passes on flushes (the console's streams).
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// code finds the error code in an AWS JSON ({"__type":"Code",…}) or query
// (<Code>Code</Code>) error body; "error" if there is none.
func (r *recorder) code() string {
	h := r.head
	if i := bytes.Index(h, []byte(`"__type":"`)); i >= 0 {
		rest := h[i+len(`"__type":"`):]
		if j := bytes.IndexByte(rest, '"'); j > 0 {
			c := string(rest[:j])
			if k := strings.LastIndexByte(c, '#'); k >= 0 {
				c = c[k+1:]
			}
			if validName(c) {
				return c
			}
		}
	}
	if i := bytes.Index(h, []byte("<Code>")); i >= 0 {
		rest := h[i+len("<Code>"):]
		if j := bytes.IndexByte(rest, '<'); j > 0 && validName(string(rest[:j])) {
			return string(rest[:j])
		}
	}
	return "error"
}

// InstrumentStore returns st with its transactions timed into s. The
// result's Unwrap returns st.
func InstrumentStore(st store.Store, s *Set) store.Store { return &timedStore{Store: st, m: s} }

type timedStore struct {
	store.Store
	m *Set
}

func (t *timedStore) View(ctx context.Context, fn func(store.Tx) error) error {
	start := time.Now()
	err := t.Store.View(ctx, fn)
	t.m.StoreLatency.ObserveDuration(time.Since(start), "view")
	return err
}

func (t *timedStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	start := time.Now()
	err := t.Store.Update(ctx, fn)
	t.m.StoreLatency.ObserveDuration(time.Since(start), "update")
	return err
}

// Unwrap returns the instrumented store.
func (t *timedStore) Unwrap() store.Store { return t.Store }
