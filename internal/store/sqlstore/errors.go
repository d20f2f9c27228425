package sqlstore

import (
	"fmt"

	"github.com/berthdev/berth/internal/store"
)

// mapErr turns a constraint violation into the store's sentinel errors:
// a taken key is ErrExists, a missing parent row (foreign key) is
// ErrNotFound. what names the object and parent the row it refers to, for
// the message.
func (o ops) mapErr(err error, op, what, parent string) error {
	switch o.d.Constraint(err) {
	case Unique:
		return fmt.Errorf("%s: %w", what, store.ErrExists)
	case ForeignKey:
		return fmt.Errorf("%s: %s: %w", what, parent, store.ErrNotFound)
	}
	return fmt.Errorf("store: %s %s: %w", op, what, err)
}
