// Package server owns Strongroom's HTTP listener: timeouts, the health
// endpoint, panic recovery, and graceful shutdown. It mounts the AWS API
// handler and knows nothing of what the handler does.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server serves one listener.
type Server struct {
	http *http.Server
	ln   net.Listener
	log  *slog.Logger
}

// New returns a Server on ln serving api, with /healthz answered directly.
func New(ln net.Listener, api http.Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok\n"))
	})
	mux.Handle("/", api)
	return &Server{
		ln:  ln,
		log: log,
		http: &http.Server{
			Handler:           recoverer(mux, log),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
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
