package gateway

import (
	"log/slog"
	"net/http"
	"time"
)

// NewServer returns an http.Server for the gateway with its limits set.
// It speaks HTTP/1.1 and HTTP/2: over TLS (set TLSConfig from TLSConfig
// and call ServeTLS(ln, "", "")) HTTP/2 is chosen by ALPN; on a plain
// listener clients with prior knowledge get h2c.
func (g *Gateway) NewServer() *http.Server {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           g,
		Protocols:         p,
		MaxHeaderBytes:    g.opts.MaxHeaderBytes,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
}
