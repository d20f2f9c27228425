package spec

import "slices"

// How a service takes a config set change (ServiceConfig.Reload).
const (
	ReloadRestart = "restart"
	ReloadSignal  = "signal"
)

// DefaultReloadSignal is what a service that reloads live is sent.
const DefaultReloadSignal = "SIGHUP"

// ReloadSignals are the signals a service may ask for: those whose
// conventional meaning is "reread your configuration" or that have none.
// Signals that stop, pause or kill a process are not a reload.
var ReloadSignals = []string{"SIGHUP", "SIGUSR1", "SIGUSR2"}

// config checks a service's config reload declaration.
func (v *validator) config(p string, c *ServiceConfig) {
	if c == nil {
		return
	}
	p = join(p, "config")
	switch c.Reload {
	case "", ReloadRestart:
		if c.Signal != "" {
			v.add(join(p, "signal"), "is only used with reload: signal (reload is %s)", quoteShort(orDefault(c.Reload, ReloadRestart)))
		}
	case ReloadSignal:
		if c.Signal != "" && !slices.Contains(ReloadSignals, c.Signal) {
			v.add(join(p, "signal"), "expected one of SIGHUP, SIGUSR1, SIGUSR2, got %s", quoteShort(c.Signal))
		}
	default:
		v.add(join(p, "reload"), "expected restart or signal, got %s", quoteShort(c.Reload))
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
