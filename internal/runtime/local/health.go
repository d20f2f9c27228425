package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
)

// checker runs one instance's health check.
type checker struct {
	h    spec.Health
	port int
	dir  string
	env  []string
	// mask hides the instance's secrets in an exec check's output, which
	// runs with them and becomes the instance's message; it must act
	// before the output is cut short, or a cut secret slips past it.
	mask   *secrets.Masker
	client *http.Client
}

func newChecker(h spec.Health, port int, dir string, env []string) *checker {
	if h.Interval <= 0 {
		h.Interval = spec.DefaultHealthInterval
	}
	if h.Timeout <= 0 {
		h.Timeout = spec.DefaultHealthTimeout
	}
	if h.FailureThreshold <= 0 {
		h.FailureThreshold = spec.DefaultFailureThreshold
	}
	if h.SuccessThreshold <= 0 {
		h.SuccessThreshold = spec.DefaultSuccessThreshold
	}
	c := &checker{h: h, port: port, dir: dir, env: env}
	if h.HTTP != nil {
		c.client = &http.Client{
			Timeout: h.Timeout.D(),
			// A fresh connection per check: nothing idle is left behind,
			// and a check sees what a new client would.
			Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
			// 3xx passes: answer it instead of following it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return c
}

func (c *checker) checkPort(p int) int {
	if p > 0 {
		return p
	}
	return c.port
}

// describe names the check in messages: "GET /healthz", "tcp :8080".
func (c *checker) describe() string {
	switch {
	case c.h.HTTP != nil:
		path := c.h.HTTP.Path
		if path == "" {
			path = spec.DefaultHealthPath
		}
		if c.h.HTTP.Port > 0 {
			return fmt.Sprintf("GET :%d%s", c.h.HTTP.Port, path)
		}
		return "GET " + path
	case c.h.TCP != nil:
		return "tcp :" + strconv.Itoa(c.checkPort(c.h.TCP.Port))
	default:
		return "exec " + strings.Join(c.h.Exec.Command, " ")
	}
}

// check runs the check once; nil means it passed.
func (c *checker) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.h.Timeout.D())
	defer cancel()
	switch {
	case c.h.HTTP != nil:
		path := c.h.HTTP.Path
		if path == "" {
			path = spec.DefaultHealthPath
		}
		url := fmt.Sprintf("http://127.0.0.1:%d%s", c.checkPort(c.h.HTTP.Port), path)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "berth-health-check")
		resp, err := c.client.Do(req)
		if err != nil {
			return shortNetErr(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("%d", resp.StatusCode)
		}
		return nil
	case c.h.TCP != nil:
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.checkPort(c.h.TCP.Port))))
		if err != nil {
			return shortNetErr(err)
		}
		return conn.Close()
	default:
		cmd := exec.CommandContext(ctx, c.h.Exec.Command[0], c.h.Exec.Command[1:]...)
		cmd.Dir, cmd.Env = c.dir, c.env
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		// On timeout, kill what the check started too, not just its leader.
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = time.Second
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			return fmt.Errorf("timed out after %s", c.h.Timeout.D())
		}
		if err != nil {
			if s := lastLine([]byte(c.mask.Mask(string(out)))); s != "" {
				return fmt.Errorf("%w: %s", err, s)
			}
			return err
		}
		return nil
	}
}

// shortNetErr turns "Get \"http://...\": dial tcp ...: connect: connection
// refused" into "connection refused": the message already names the check.
func shortNetErr(err error) error {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("connection refused")
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout"):
		return errors.New("timed out")
	}
	return err
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// watchHealth decides whether the process started as run gen is ready, until
// ctx ends. Without a health check a process is ready once it has stayed up
// ReadyAfter.
func (s *supervisor) watchHealth(ctx context.Context, gen int) {
	set := func(state runtime.InstanceState, ready bool, msg string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		// A stop may have begun, or the process ended, since the check ran.
		if gen != s.gen || ctx.Err() != nil {
			return
		}
		s.updateLocked(func(st *instanceState) { st.State, st.Ready, st.Message = state, ready, msg })
	}
	if s.spec.Health == nil {
		if sleep(ctx, s.spec.Tuning.ReadyAfter.D()) {
			set(runtime.StateRunning, true, "")
		}
		return
	}
	c := newChecker(*s.spec.Health, s.spec.Port, s.spec.Dir, s.env)
	c.mask = s.mask
	if !sleep(ctx, c.h.InitialDelay.D()) {
		return
	}
	ready, successes, failures := false, 0, 0
	for {
		err := c.check(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			successes, failures = successes+1, 0
			if !ready && successes >= c.h.SuccessThreshold {
				ready = true
				set(runtime.StateRunning, true, "")
			}
		} else {
			successes, failures = 0, failures+1
			msg := "health check " + c.describe() + ": " + err.Error()
			switch {
			case failures >= c.h.FailureThreshold:
				ready = false
				set(runtime.StateUnhealthy, false, msg)
			case !ready:
				set(runtime.StateStarting, false, msg)
			}
		}
		if !sleep(ctx, c.h.Interval.D()) {
			return
		}
	}
}

// sleep waits d or until ctx ends, and reports whether the full d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
