package runner

import "context"

// Wake is told that another server changed runs: a run was queued, a
// cancel requested, an approval decided. It wakes the dispatcher and the
// approval steps waiting, and cancels the active runs whose cancel was
// requested in the store (a cancel asked on another replica reaches the
// driver only through the store).
func (r *Runner) Wake(ctx context.Context) {
	r.poke()
	r.mu.Lock()
	active := make(map[string]*activeRun, len(r.active))
	for id, a := range r.active {
		active[id] = a
	}
	r.mu.Unlock()
	for id, a := range active {
		select {
		case a.decided <- struct{}{}:
		default:
		}
		run, err := r.st.GetRun(ctx, id)
		if err == nil && run.CancelRequested {
			a.cancel(errCancelled)
		}
	}
}
