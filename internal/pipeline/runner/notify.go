package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/pipeline/sched"
)

// ErrPrivateAddress is returned when a notify URL leads to an address a
// pipeline must not reach.
var ErrPrivateAddress = errors.New("notify: the address is loopback, link-local, private or otherwise internal")

// NotifyPayload is what a notify step posts.
type NotifyPayload struct {
	App     string `json:"app"`
	Run     string `json:"run"`
	Number  int    `json:"number"`
	Outcome string `json:"outcome"` // success | failure
	Trigger string `json:"trigger"`
	Ref     string `json:"ref"`
	Commit  string `json:"commit"`
}

func (r *Runner) notifyStep(ctx context.Context, env *runEnv, step *pipeline.Step, outcome string) sched.Outcome {
	ctx, cancel := context.WithTimeout(ctx, step.Timeout.D())
	defer cancel()
	body, err := json.Marshal(NotifyPayload{
		App: env.run.App, Run: env.run.ID, Number: env.run.Number, Outcome: outcome,
		Trigger: env.run.Trigger, Ref: env.run.Ref, Commit: env.run.Commit,
	})
	if err != nil {
		return stepFailed(ctx, "%v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, step.Notify.URL, bytes.NewReader(body))
	if err != nil {
		return stepFailed(ctx, "notify: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "berth-pipeline")
	resp, err := r.notifyClient().Do(req)
	if err != nil {
		env.log.note("step %s: %v", step.Name, err)
		return stepFailed(ctx, "posting to the webhook: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return sched.Outcome{ExitCode: 1, Reason: fmt.Sprintf("the webhook answered %s", resp.Status)}
	}
	env.log.note("step %s: posted outcome %s, answered %s", step.Name, outcome, resp.Status)
	return sched.Outcome{}
}

// notifyClient checks every address it connects to, after DNS and on each
// redirect, so a name that resolves to 127.0.0.1 or a redirect to the
// metadata service is refused too.
func (r *Runner) notifyClient() *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if !r.opts.AllowPrivateNotify {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrPrivateAddress, address)
			}
			if internalAddr(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrPrivateAddress, ap.Addr())
			}
			return nil
		}
	}
	tr := &http.Transport{DialContext: d.DialContext, Proxy: nil, MaxIdleConns: 1, IdleConnTimeout: time.Second}
	return &http.Client{Transport: tr, CheckRedirect: func(_ *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("notify: too many redirects")
		}
		return nil
	}}
}

// internalAddr reports addresses a user-supplied URL must not reach.
func internalAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsUnspecified() || a.IsMulticast() || a.IsInterfaceLocalMulticast() ||
		cgnat.Contains(a) || !a.IsGlobalUnicast()
}

// cgnat is 100.64.0.0/10, shared address space that IsPrivate misses.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")
