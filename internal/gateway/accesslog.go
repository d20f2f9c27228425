package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// logAccess writes one access record. Attributes are fixed so log
// pipelines can rely on them: see docs/gateway.md.
func (g *Gateway) logAccess(r *http.Request, rs *reqState, d time.Duration) {
	attrs := make([]slog.Attr, 0, 18)
	attrs = append(attrs,
		slog.String("request_id", rs.reqID),
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.URL.Path),
		slog.String("proto", r.Proto),
		slog.String("client", clientIP(r)),
		slog.Int("status", rs.status),
		slog.Int64("bytes", rs.bytes),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
	)
	if rs.rt != nil {
		attrs = append(attrs, slog.String("route", rs.rt.id), slog.String("app", rs.rt.cfg.App),
			slog.String("service", rs.rt.cfg.Service))
	}
	if rs.tr != nil {
		attrs = append(attrs, slog.String("track", rs.tr.name))
	}
	switch {
	case rs.ep != nil:
		attrs = append(attrs, slog.Int("release", rs.ep.release), slog.String("endpoint", rs.ep.addr))
		if rs.ep.instance != "" {
			attrs = append(attrs, slog.String("instance", rs.ep.instance))
		}
	case rs.tr != nil:
		attrs = append(attrs, slog.Int("release", rs.tr.release))
	}
	if rs.retries > 0 {
		attrs = append(attrs, slog.Int("retries", rs.retries))
	}
	if rs.errKind != "" {
		attrs = append(attrs, slog.String("error", rs.errKind))
	}
	g.opts.AccessLog.LogAttrs(context.Background(), slog.LevelInfo, "access", attrs...)
}
