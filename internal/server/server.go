// Package server owns Strongroom's HTTP listener: timeouts, TLS (tls.go:
// modern configuration, certificate reload, optional client certificates),
// the probes (/healthz, /readyz), /metrics, panic recovery, and graceful
// shutdown. It mounts the AWS API handler and knows nothing of what the
// handler does.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"strongroom/internal/metrics"
	"strongroom/internal/uuid"
)

// Limits of the HTTP layer. Per-operation body limits live in awsapi.
const (
	// MaxHeaders is the most header fields a request may carry.
	MaxHeaders = 100
	// MaxConnections caps open connections; more wait in the kernel's
	// accept queue.
	MaxConnections = 2048
	// MaxInFlight caps requests being served at once; more are refused
	// with a 503 throttling error that the AWS SDKs retry.
	MaxInFlight = 1024
	// MaxHeaderBytes bounds a request's header block (net/http answers 431).
	MaxHeaderBytes = 64 << 10

	// ReadHeaderTimeout drops a client that has not sent its whole header
	// block in time (a slow-header client ties up a connection slot).
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout = 60 * time.Second
	// WriteTimeout bounds serving a request and writing its response.
	WriteTimeout = 60 * time.Second
	// IdleTimeout closes a keep-alive connection with no request.
	IdleTimeout = 120 * time.Second
)

// Server serves one listener.
type Server struct {
	http *http.Server
	ln   net.Listener
	log  *slog.Logger
}

// Option configures a Server.
type Option func(*options)

type options struct {
	tls     *tls.Config
	ready   func(context.Context) error
	metrics *metrics.Set
}

// WithTLS serves HTTPS with cfg (see TLSConfig). When cfg has client CAs,
// every request but the health probes must present a verified client
// certificate.
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// WithReadiness answers GET /readyz with 200 while ready returns nil and
// 503 otherwise (without ready, /readyz answers like /healthz).
func WithReadiness(ready func(context.Context) error) Option {
	return func(o *options) { o.ready = ready }
}

// WithMetrics counts, times and logs every API request into m and serves
// m on GET /metrics.
func WithMetrics(m *metrics.Set) Option { return func(o *options) { o.metrics = m } }

// New returns a Server on ln serving api, with /healthz (and /readyz,
// /metrics as the options say) answered directly.
func New(ln net.Listener, api http.Handler, log *slog.Logger, opts ...Option) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if o.ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := o.ready(ctx); err != nil {
				log.Warn("not ready", "err", err)
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte("not ready: the store does not answer\n"))
				return
			}
		}
		w.Write([]byte("ok\n"))
	})
	if o.metrics != nil {
		mux.Handle("GET /metrics", o.metrics.Handler())
		api = o.metrics.Middleware(api, log)
	}
	mux.Handle("/", api)
	ln = limitListener(ln, MaxConnections)
	var h http.Handler = mux
	if o.tls != nil {
		ln = tls.NewListener(ln, o.tls)
		if o.tls.ClientCAs != nil {
			h = requireClientCert(h)
		}
	} else {
		ln = framingListener{ln} // see framing.go
	}
	return &Server{
		ln:  ln,
		log: log,
		http: &http.Server{
			Handler:           recoverer(guard(h), log),
			ConnContext:       withConn,
			ReadHeaderTimeout: ReadHeaderTimeout,
			ReadTimeout:       ReadTimeout,
			WriteTimeout:      WriteTimeout,
			IdleTimeout:       IdleTimeout,
			MaxHeaderBytes:    MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
	}
}

// Serve serves until Shutdown; it returns nil after a clean shutdown.
func (s *Server) Serve() error {
	err := s.http.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and waits for in-flight requests.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }

// recoverer turns a panic in a handler into a generic 500 instead of a
// dropped connection, and logs it without the request body.
func recoverer(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic serving request", "path", r.URL.Path, "panic", v)
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				w.WriteHeader(http.StatusInternalServerError)
				w.Write([]byte(`{"__type":"KMSInternalException","message":"An internal error occurred."}`))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// guard refuses requests the API never needs before they reach it: too many
// header fields, chunked or otherwise ambiguous framing; and it caps the
// requests in flight.
func guard(next http.Handler) http.Handler {
	sem := make(chan struct{}, MaxInFlight)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Header) > MaxHeaders {
			reject(w, http.StatusBadRequest, "ValidationException", "Too many header fields.")
			return
		}
		if len(r.TransferEncoding) > 0 {
			reject(w, http.StatusBadRequest, "ValidationException", "Chunked transfer encoding is not accepted: send a Content-Length.")
			return
		}
		if len(r.Header.Values("Content-Length")) > 1 || duplicateContentLength(r.Context()) {
			reject(w, http.StatusBadRequest, "ValidationException", "Duplicate Content-Length.")
			return
		}
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
		default:
			w.Header().Set("Retry-After", "1")
			reject(w, http.StatusServiceUnavailable, "ThrottlingException", "The server is busy; retry the request.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func reject(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("x-amzn-RequestId", uuid.New())
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)
	w.Write([]byte(`{"__type":"` + code + `","message":"` + msg + `"}`))
}

// limitListener accepts at most n connections at once.
func limitListener(ln net.Listener, n int) net.Listener {
	return &limitedListener{Listener: ln, sem: make(chan struct{}, n)}
}

type limitedListener struct {
	net.Listener
	sem chan struct{}
}

func (l *limitedListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
