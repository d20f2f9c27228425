package leader

import "context"

type termKey struct{}

// WithTerm marks ctx as leader-only work of term t. The store fences the
// writes made under such a context by t's epoch, and CheckContext checks
// t's lease before acting on the outside world. Contexts of API requests
// carry no term: what a user asks for is written on any replica.
func WithTerm(ctx context.Context, t Term) context.Context {
	return context.WithValue(ctx, termKey{}, t)
}

// TermFrom returns the term ctx was marked with, or nil.
func TermFrom(ctx context.Context) Term {
	t, _ := ctx.Value(termKey{}).(Term)
	return t
}

// CheckContext returns the term's Check for leader-only work, and nil for
// a context without a term.
func CheckContext(ctx context.Context) error {
	if t := TermFrom(ctx); t != nil {
		return t.Check()
	}
	return nil
}
