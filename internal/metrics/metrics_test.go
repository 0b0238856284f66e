package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestExposition(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("t_requests_total", "Requests.\nSecond line.", "operation", "outcome")
	c.Inc("Encrypt", "ok")
	c.Add(2, "Encrypt", "ok")
	c.Inc("Decrypt", `bad"code`)
	h := r.NewHistogramVec("t_latency_seconds", "Latency.", []float64{0.1, 1}, "operation")
	h.Observe(0.05, "Encrypt")
	h.Observe(0.1, "Encrypt")
	h.Observe(5, "Encrypt")
	r.NewGaugeFunc("t_up", "Up.", func() float64 { return 1 })
	r.NewCounterFuncVec("t_hits_total", "Hits.", "cache", func(add func(string, float64)) {
		add("policy", 2)
		add("key", 7)
	})
	r.NewGaugeFuncVec("t_queue", "Queue.", "stage", func(add func(string, float64)) {
		add("b", 0)
		add("a", 3)
	})
	var b strings.Builder
	r.WriteTo(&b)
	want := `# HELP t_hits_total Hits.
# TYPE t_hits_total counter
t_hits_total{cache="key"} 7
t_hits_total{cache="policy"} 2
# HELP t_latency_seconds Latency.
# TYPE t_latency_seconds histogram
t_latency_seconds_bucket{operation="Encrypt",le="0.1"} 2
t_latency_seconds_bucket{operation="Encrypt",le="1"} 2
t_latency_seconds_bucket{operation="Encrypt",le="+Inf"} 3
t_latency_seconds_sum{operation="Encrypt"} 5.15
t_latency_seconds_count{operation="Encrypt"} 3
# HELP t_queue Queue.
# TYPE t_queue gauge
t_queue{stage="a"} 3
t_queue{stage="b"} 0
# HELP t_requests_total Requests.\nSecond line.
# TYPE t_requests_total counter
t_requests_total{operation="Decrypt",outcome="bad\"code"} 1
t_requests_total{operation="Encrypt",outcome="ok"} 3
# HELP t_up Up.
# TYPE t_up gauge
t_up 1
`
	if b.String() != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestMiddlewareOutcomes(t *testing.T) {
	s := NewSet()
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Amz-Target") {
		case "TrentService.Encrypt":
			w.Write([]byte(`{}`))
		case "TrentService.DescribeKey":
			w.WriteHeader(400)
			w.Write([]byte(`{"__type":"NotFoundException","message":"x"}`))
		default:
			w.WriteHeader(400)
			w.Write([]byte(`{"__type":"UnknownOperationException","message":"x"}`))
		}
	})
	h := s.Middleware(api, nil)
	for _, target := range []string{"TrentService.Encrypt", "TrentService.DescribeKey", "TrentService.Made-Up\"Op", "TrentService.NoSuchOp"} {
		req := httptest.NewRequest("POST", "/", nil)
		req.Header.Set("X-Amz-Target", target)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	if s.Requests.Value("Encrypt", "ok") != 1 || s.Requests.Value("DescribeKey", "NotFoundException") != 1 {
		t.Error("outcomes not counted")
	}
	// Client-chosen names never become label values.
	if s.Requests.Value("unknown", "UnknownOperationException") != 2 {
		t.Errorf("unknown operations: %d", s.Requests.Value("unknown", "UnknownOperationException"))
	}
	if s.Latency.Count("Encrypt") != 1 {
		t.Error("latency not observed")
	}
}
