package cli

import (
	"errors"
	"fmt"
)

// Exit codes, the same for every command.
const (
	ExitOK       = 0
	ExitFailure  = 1 // the server failed, something was not found, a rollout failed
	ExitBadInput = 2 // invalid flags or arguments, an invalid spec, a 422 from the server
)

// exitError is how a command ends with a given exit code and message. Any
// error a command returns is turned into one (see failure); an error that
// reaches Execute untyped came from cobra itself (an unknown flag, a wrong
// number of arguments) and is a usage error.
type exitError struct {
	code int
	err  error
	// detail is printed after the message: a list of problems, log lines.
	detail string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is bad input found by a command itself (e.g. "APP/SERVICE"
// malformed); it prints the command's usage hint like a cobra flag error.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: ExitBadInput, err: &usageError{fmt.Errorf(format, args...)}}
}

// usageError marks errors that should be followed by the usage hint.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// badInput ends with exit code 2 and detail lines (e.g. spec problems).
func badInput(err error, detail string) error {
	return &exitError{code: ExitBadInput, err: err, detail: detail}
}

// failed ends with exit code 1.
func failed(err error, detail string) error {
	return &exitError{code: ExitFailure, err: err, detail: detail}
}

// BadInput marks an error of a command added through Options.Commands
// (cmd/berth's server) as bad input: exit code 2 and the usage hint.
func BadInput(err error) error {
	return &exitError{code: ExitBadInput, err: &usageError{err}}
}

// errQuiet is the error of a quiet exit: the command already said what
// it had to, so Execute prints nothing.
var errQuiet = errors.New("quiet exit")

// quietExit ends with code and no message.
func quietExit(code int) error {
	return &exitError{code: code, err: errQuiet}
}
