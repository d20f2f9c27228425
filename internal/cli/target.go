package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/berthdev/berth/pkg/api"
	"github.com/berthdev/berth/pkg/client"
)

// loginHint is the next step whenever there is no server or token.
const loginHint = `run "berth login URL --token TOKEN" first (or set BERTH_URL and BERTH_TOKEN)`

// target is the server a command talks to, and with which token.
type target struct {
	URL   string
	Token string
}

// target resolves the server: --context, else the current context; then
// BERTH_URL and BERTH_TOKEN override what the context says.
func (r *runner) target() (target, error) {
	path, err := configPath(r.Getenv)
	if err != nil {
		return target{}, err
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return target{}, err
	}
	var t target
	switch name := r.contextName; {
	case name != "":
		c, ok := cfg.Get(name)
		if !ok {
			return target{}, badInput(fmt.Errorf("no context named %q; see \"berth context list\"", name), "")
		}
		t = target{URL: c.URL, Token: c.Token}
	case cfg.CurrentContext != "":
		if c, ok := cfg.Get(cfg.CurrentContext); ok {
			t = target{URL: c.URL, Token: c.Token}
		}
	}
	if u := normalizeURL(r.Getenv("BERTH_URL")); u != "" {
		if u != t.URL {
			// Never send a saved token to a server it was not saved for.
			t = target{URL: u}
		}
	}
	if tok := r.Getenv("BERTH_TOKEN"); tok != "" {
		t.Token = tok
	}
	if t.URL == "" {
		return target{}, failed(errors.New("no server configured: "+loginHint), "")
	}
	return t, nil
}

// client returns a client of the resolved target.
func (r *runner) client() (*client.Client, error) {
	t, err := r.target()
	if err != nil {
		return nil, err
	}
	return r.newClient(t.URL, t.Token), nil
}

func (r *runner) newClient(url, token string) *client.Client {
	return client.New(url, token, client.WithUserAgent("berth/"+r.Version))
}

func normalizeURL(u string) string { return strings.TrimRight(strings.TrimSpace(u), "/") }

// hinted is an error shown as msg that still unwraps to its cause, so
// tests and callers can use errors.Is/As.
type hinted struct {
	msg   string
	cause error
}

func (h *hinted) Error() string { return h.msg }
func (h *hinted) Unwrap() error { return h.cause }

func hint(err error, format string, args ...any) error {
	return &hinted{msg: fmt.Sprintf(format, args...), cause: err}
}

// classify turns any error from a command into an exitError with the right
// code and, where one helps, a next step.
func (r *runner) classify(err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee
	}
	var ae *client.APIError
	if errors.As(err, &ae) {
		msg := ae.Message
		if msg == "" {
			msg = err.Error()
		}
		var h *hinted
		if errors.As(err, &h) {
			msg = h.msg // the command said it better
		}
		if client.IsUnauthorized(err) {
			msg = "the server rejected the token: " + msg + "; " + strings.Replace(loginHint, "first", "again", 1)
		}
		code := ExitFailure
		switch ae.Status {
		case 400, 413, 422:
			code = ExitBadInput
		}
		// Details already said in the message are not repeated below it.
		var details []api.FieldError
		for _, d := range ae.Details {
			if !strings.Contains(msg, d.Message) {
				details = append(details, d)
			}
		}
		return &exitError{code: code, err: &hinted{msg: msg, cause: err}, detail: fieldErrors("", details)}
	}
	if errors.Is(err, context.Canceled) {
		return failed(hint(err, "interrupted"), "")
	}
	// Connection failures already name the server and suggest starting it
	// (pkg/client does that).
	return failed(err, "")
}

// notFound adds a next step to a not-found error about app.
func notFound(err error, app string) error {
	if client.IsNotFound(err) {
		return hint(err, "app %q not found; see \"berth apps\"", app)
	}
	return err
}

// withNext appends a next step to err's message ("...; see \"berth apps\"").
func withNext(err error, step string) error {
	return hint(err, "%s; %s", messageOf(err), step)
}

// messageOf is the server's message for API errors, else err's text.
func messageOf(err error) string {
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Message != "" {
		return ae.Message
	}
	return err.Error()
}
