package audit

import (
	"errors"
	"fmt"
)

var (
	// ErrBroken means the chain does not verify; the error is a *BreakError
	// saying where and why.
	ErrBroken = errors.New("audit chain broken")
	// ErrInvalid means a record handed to Append lacks a required field.
	ErrInvalid = errors.New("invalid audit record")
)

// BreakError is the first broken link Verify found.
type BreakError struct {
	Index  int   // position in the slice given to Verify
	Seq    int64 // the record's Seq as stored
	Reason string
}

func (e *BreakError) Error() string {
	return fmt.Sprintf("%v at record %d (seq %d): %s", ErrBroken, e.Index, e.Seq, e.Reason)
}

// Unwrap makes errors.Is(err, ErrBroken) hold.
func (e *BreakError) Unwrap() error { return ErrBroken }
