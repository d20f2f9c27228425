package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/pkg/api"
)

// logs streams an app's output as text, flushing as it arrives, until the
// source ends or the caller goes.
func (s *server) logs(w http.ResponseWriter, r *http.Request) error {
	name, err := appParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	service := q.Get("service")
	opts := runtime.LogOptions{Instance: q.Get("instance")}
	if v := q.Get("follow"); v != "" {
		if opts.Follow, err = strconv.ParseBool(v); err != nil {
			return invalidField("follow", "%q is not true or false", v)
		}
	}
	if v := q.Get("tail"); v != "" {
		if opts.Tail, err = strconv.Atoi(v); err != nil || opts.Tail < 0 {
			return invalidField("tail", "%q is not a number of lines (0 for all)", v)
		}
	}
	a, err := s.loadApp(r.Context(), s.Store, name, rbac.AppsRead)
	if err != nil {
		return err
	}
	if service != "" {
		if err := s.checkService(r.Context(), name, a.TargetRelease, service); err != nil {
			return err
		}
	}
	if s.Logs == nil {
		return newError(http.StatusServiceUnavailable, api.CodeUnavailable, "this server does not serve logs")
	}
	rc, err := s.Logs.Logs(r.Context(), name, service, opts)
	if errors.Is(err, runtime.ErrNotFound) {
		return notFound("no logs for app %q%s: nothing has run yet", name, serviceSuffix(service))
	}
	if err != nil {
		return fmt.Errorf("logs of %s: %w", name, err)
	}
	defer rc.Close()
	// A source blocked in Read must notice that the caller left.
	stop := context.AfterFunc(r.Context(), func() { rc.Close() })
	defer stop()
	if opts.Follow {
		// ...or that the caller may no longer read it.
		stopGuard := s.guardStream(r.Context(), a.Team, rbac.AppsRead, func() { rc.Close() })
		defer stopGuard()
	}

	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-cache")
	rc2 := http.NewResponseController(w)
	_ = rc2.SetWriteDeadline(time.Time{}) // a followed stream outlives any server write timeout
	w.WriteHeader(http.StatusOK)
	_ = rc2.Flush()
	buf := make([]byte, 32<<10)
	for {
		n, err := rc.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil // the caller left
			}
			_ = rc2.Flush()
		}
		if errors.Is(err, io.EOF) || r.Context().Err() != nil {
			return nil
		}
		if err != nil {
			// The status is sent; all that is left is to log and end.
			s.loggerFrom(r.Context()).Warn("log stream ended", "app", name, "service", service, "err", err)
			return nil
		}
	}
}

// checkService answers 404 when the app's target release has no such
// service, rather than an empty stream that looks like a quiet service.
func (s *server) checkService(ctx context.Context, app string, release int, service string) error {
	if release == 0 {
		return notFound("app %q has no release yet", app)
	}
	rel, err := loadRelease(ctx, s.Store, app, release)
	if err != nil {
		return err
	}
	var sp struct {
		Services map[string]json.RawMessage `json:"services"`
	}
	if err := json.Unmarshal(rel.Spec, &sp); err != nil {
		return fmt.Errorf("decode spec of %s/%d: %w", app, release, err)
	}
	if _, ok := sp.Services[service]; !ok {
		return notFound("app %q has no service %q in release %d", app, service, release)
	}
	return nil
}

func serviceSuffix(service string) string {
	if service == "" {
		return ""
	}
	return fmt.Sprintf(" service %q", service)
}
