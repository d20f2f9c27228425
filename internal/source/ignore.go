package source

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
)

// IgnoreFile is the file, at the top of the app folder, that lists paths to
// leave out of the source archive.
const IgnoreFile = ".berthignore"

// ignoreRule is one .berthignore line. The syntax is a small, predictable
// subset of .gitignore: a pattern without a slash matches a name at any
// depth; a pattern with a slash matches the path from the app folder; a
// trailing slash matches directories only. Patterns use path.Match syntax.
type ignoreRule struct {
	pattern  string
	anchored bool // contains a slash: matched against the whole path
	dirOnly  bool
}

type ignoreRules []ignoreRule

// loadIgnore reads .berthignore at the top of root; a missing file means
// no rules. A symlink or anything but a regular file is refused, so the
// server never parses (and quotes lines of) a file outside the folder.
func loadIgnore(root *os.Root) (ignoreRules, error) {
	f, err := root.OpenFile(IgnoreFile, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("source: %s: %w (a symlink is not followed)", IgnoreFile, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("source: %s is not a regular file", IgnoreFile)
	}
	var rules ignoreRules
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r, err := parseIgnoreLine(line)
		if err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %q: %w", ErrBadIgnore, IgnoreFile, n, line, err)
		}
		rules = append(rules, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("source: read %s: %w", IgnoreFile, err)
	}
	return rules, nil
}

func parseIgnoreLine(line string) (ignoreRule, error) {
	if strings.HasPrefix(line, "!") {
		// Silently ignoring a negation would pack files the user meant to
		// keep out, or the reverse; say so instead.
		return ignoreRule{}, errors.New("negation (!) is not supported")
	}
	var r ignoreRule
	if strings.HasSuffix(line, "/") {
		r.dirOnly = true
		line = strings.TrimRight(line, "/")
	}
	if strings.Contains(line, "/") {
		r.anchored = true
		line = strings.TrimPrefix(line, "/")
	}
	if line == "" {
		return ignoreRule{}, errors.New("empty pattern")
	}
	if _, err := path.Match(line, ""); err != nil {
		return ignoreRule{}, fmt.Errorf("bad pattern: %w", err)
	}
	r.pattern = line
	return r, nil
}

// match reports whether rel (slash-separated, relative to the app folder)
// is ignored.
func (rs ignoreRules) match(rel string, isDir bool) bool {
	for _, r := range rs {
		if r.dirOnly && !isDir {
			continue
		}
		name := rel
		if !r.anchored {
			name = path.Base(rel)
		}
		if ok, _ := path.Match(r.pattern, name); ok {
			return true
		}
	}
	return false
}
