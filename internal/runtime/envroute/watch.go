package envroute

import (
	"context"
	"sync"

	"github.com/berthdev/berth/internal/runtime"
)

// Watch merges the events of every runtime, including environments opened
// after the call, until ctx ends (or the Router is closed); then the
// channel is closed.
func (r *Router) Watch(ctx context.Context) (<-chan runtime.Event, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &subscription{ctx: ctx, out: make(chan runtime.Event, 256)}
	r.mu.Lock()
	if r.ctx.Err() != nil {
		r.mu.Unlock()
		cancel()
		close(s.out)
		return s.out, nil
	}
	r.subs[s] = struct{}{}
	runtimes := append([]runtime.Runtime{r.def}, values(r.envs)...)
	for _, rt := range runtimes {
		s.follow(rt)
	}
	r.mu.Unlock()
	stop := context.AfterFunc(r.ctx, cancel)
	go func() {
		<-ctx.Done()
		stop()
		r.mu.Lock()
		delete(r.subs, s)
		r.mu.Unlock()
		s.end()
	}()
	return s.out, nil
}

func values(m map[string]runtime.Runtime) []runtime.Runtime {
	out := make([]runtime.Runtime, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// subscription is one Watch call: a forwarder per runtime into out.
type subscription struct {
	ctx   context.Context
	out   chan runtime.Event
	mu    sync.Mutex
	ended bool
	wg    sync.WaitGroup
}

// follow forwards rt's events until the subscription ends.
func (s *subscription) follow(rt runtime.Runtime) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	in, err := rt.Watch(s.ctx)
	if err != nil {
		return
	}
	s.wg.Go(func() {
		for {
			select {
			case e, ok := <-in:
				if !ok {
					return
				}
				select {
				case s.out <- e:
				case <-s.ctx.Done():
					return
				}
			case <-s.ctx.Done():
				return
			}
		}
	})
}

// end waits for the forwarders and closes out.
func (s *subscription) end() {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.wg.Wait()
	close(s.out)
}
