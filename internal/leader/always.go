package leader

import "context"

// Always is the elector of a server alone on its store (SQLite): it leads
// from start to shutdown, in one term of epoch 1.
type Always struct{}

// Run calls lead once and returns when ctx ends and lead has returned.
func (Always) Run(ctx context.Context, lead func(ctx context.Context, t Term)) error {
	lead(ctx, alwaysTerm{})
	<-ctx.Done()
	return nil
}

type alwaysTerm struct{}

func (alwaysTerm) Epoch() int64 { return 1 }
func (alwaysTerm) Check() error { return nil }
