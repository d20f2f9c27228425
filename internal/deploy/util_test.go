package deploy

import (
	"strconv"

	"github.com/berthdev/berth/internal/build"
)

func itoa(n int) string { return strconv.Itoa(n) }

func ptr[T any](v T) *T { return &v }

type errString string

func (e errString) Error() string { return string(e) }

func buildErr(code int, tail ...string) error {
	return &build.BuildError{ExitCode: code, LogTail: tail}
}
