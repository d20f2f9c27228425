package source

import "errors"

// ErrTooLarge is returned by Pack when the archive would exceed MaxArchiveSize.
var ErrTooLarge = errors.New("source: archive too large")

// ErrUnsafeSymlink is returned by Pack for a symlink that points outside the
// app folder (or to an absolute path): unpacked elsewhere it would break, or
// reach files the app must not see.
var ErrUnsafeSymlink = errors.New("source: symlink points outside the app folder")

// ErrUnsupportedFile is returned by Pack for sockets, devices and pipes.
var ErrUnsupportedFile = errors.New("source: not a regular file, directory or symlink")

// ErrBadIgnore is returned by Pack when a .berthignore line cannot be used.
var ErrBadIgnore = errors.New("source: bad .berthignore line")
