package spec

import "errors"

var (
	// ErrInvalid matches every *ValidationError (errors.Is(err, ErrInvalid)).
	ErrInvalid = errors.New("spec: invalid")
	// ErrNoSpec is returned by Load when a folder holds no berth.yaml.
	ErrNoSpec = errors.New("spec: no berth.yaml found")
	// ErrCycle is returned by Order when services depend on each other in a circle.
	ErrCycle = errors.New("spec: dependency cycle")
)
