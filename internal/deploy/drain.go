package deploy

import (
	"time"
)

// Instances leave the service proxy's rotation before they are stopped
// (setProxy runs before execute), but a connection the proxy opened to
// one just before may still wait in its accept queue: stopping the
// instance then resets it, and a request fails in the middle of a rollout
// that was meant to drop none. So a step that stops ready instances runs
// DrainDelay after the pass that first planned it (and took them out of
// the rotation); until then the pass holds it back and is requeued.
// Instances that are not ready take no traffic and stop at once.
//
// When each held step was first planned is kept in memory only: after a
// restart a held step waits one DrainDelay more, which is harmless.

// drain returns the plan with the steps that must wait left out.
func (p *pass) drain(pl plan, obs observed) plan {
	d := p.r.opts.DrainDelay
	if d <= 0 {
		return pl
	}
	var prev map[string]time.Time
	if v, ok := p.r.drains.Load(p.app.Name); ok {
		prev = v.(map[string]time.Time)
	}
	held := map[string]time.Time{}
	out := plan{blocked: pl.blocked}
	for _, s := range pl.steps {
		if !stopsReady(s, obs) {
			out.steps = append(out.steps, s)
			continue
		}
		since, ok := prev[s.String()]
		if !ok {
			since = p.now
		}
		if p.now.Sub(since) >= d {
			out.steps = append(out.steps, s)
			continue
		}
		held[s.String()] = since
	}
	if len(held) == 0 {
		p.r.drains.Delete(p.app.Name)
	} else {
		p.r.drains.Store(p.app.Name, held)
	}
	return out
}

// stopsReady reports whether step s stops an instance that is ready.
func stopsReady(s step, obs observed) bool {
	for _, w := range obs.all {
		if w.ID != s.id {
			continue
		}
		for _, in := range w.Instances {
			if in.Ready && (s.del || in.Index >= s.replicas) {
				return true
			}
		}
	}
	return false
}
