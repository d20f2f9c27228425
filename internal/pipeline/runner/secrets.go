package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// SecretResolver gives a step the values of the secrets it names. It is
// asked only for the names one step lists, in the app's team.
type SecretResolver interface {
	Resolve(ctx context.Context, team, app string, names []string) (map[string]string, error)
}

// ErrNoSecrets is returned by NoSecrets.
var ErrNoSecrets = errors.New("this server has no secret store yet")

// NoSecrets is the resolver of a server without a secret store: a step
// that names a secret fails with a clear error instead of running
// without it.
type NoSecrets struct{}

// Resolve implements SecretResolver.
func (NoSecrets) Resolve(_ context.Context, _, app string, names []string) (map[string]string, error) {
	if len(names) == 0 {
		return map[string]string{}, nil
	}
	return nil, fmt.Errorf("%w: the step asks for %s of app %s, which cannot be given", ErrNoSecrets, strings.Join(names, ", "), app)
}
