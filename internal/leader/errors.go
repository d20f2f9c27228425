package leader

import "errors"

var (
	// ErrNotLeader: this server does not (surely) hold the lease any more,
	// so leader-only work must not act.
	ErrNotLeader = errors.New("leader: this server no longer holds the leader lease")
	// ErrFenced: a write made by leader-only work was rejected because
	// the lease's epoch moved on (another server leads now) or the lease
	// expired. Nothing of the write landed.
	ErrFenced = errors.New("leader: write rejected: the leader lease's epoch moved on (fenced)")
)
