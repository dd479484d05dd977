package main

import (
	"context"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// metricsServer serves /metrics (Prometheus text format) and Go's pprof under /debug/pprof/
// on its own mux. (Importing net/http/pprof also registers its handlers on
// http.DefaultServeMux, which the daemon never serves.)
type metricsServer struct {
	server *http.Server
	done   chan struct{}
}

// serveMetrics starts serving on l; every scrape polls the node first (briefly), so that
// the gauges are current.
func serveMetrics(l net.Listener, m *metrics, o *observer) *metricsServer {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		o.poll(scrapePollTimeout)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = m.write(w)
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s := &metricsServer{
		server: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		done:   make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		_ = s.server.Serve(l) // returns http.ErrServerClosed on stop
	}()
	return s
}

// stop shuts the server down, cutting requests still running after grace (a CPU profile
// may run for 30 s).
func (s *metricsServer) stop(grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.server.Shutdown(ctx); err != nil {
		_ = s.server.Close()
	}
	<-s.done
}
