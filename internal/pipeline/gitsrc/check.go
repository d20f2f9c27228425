package gitsrc

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

var commitPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)

// CheckURL refuses URLs that could make the fetch do something other than
// fetch over the network: options ("-..." is read as a flag by any git
// binary it reaches), local paths and file:// (which would copy the
// server's own files into a run), and transports other than http(s), ssh
// and git.
func CheckURL(u string) error {
	switch {
	case u == "":
		return fmt.Errorf("%w: empty repository URL", ErrBadSource)
	case strings.HasPrefix(u, "-"):
		return fmt.Errorf("%w: repository URL %q starts with '-'", ErrBadSource, u)
	case strings.ContainsFunc(u, func(r rune) bool { return r < 0x21 || r == 0x7f }):
		return fmt.Errorf("%w: repository URL %q holds spaces or control characters", ErrBadSource, u)
	case strings.Contains(u, "::"):
		return fmt.Errorf("%w: repository URL %q names a remote helper (::)", ErrBadSource, u)
	}
	ep, err := transport.NewEndpoint(u)
	if err != nil {
		return fmt.Errorf("%w: repository URL %q: %w", ErrBadSource, u, err)
	}
	switch ep.Protocol {
	case "https", "http", "ssh", "git":
	default:
		return fmt.Errorf("%w: repository URL %q: protocol %q; expected https, http, ssh or git", ErrBadSource, u, ep.Protocol)
	}
	if ep.Host == "" || strings.HasPrefix(ep.Host, "-") {
		return fmt.Errorf("%w: repository URL %q has no usable host", ErrBadSource, u)
	}
	return nil
}

// CheckRef applies git's rules for ref names (git check-ref-format) and
// refuses names starting with '-'. Short names ("main") are allowed.
func CheckRef(ref string) error {
	bad := func(why string) error { return fmt.Errorf("%w: ref %q %s", ErrBadSource, ref, why) }
	switch {
	case ref == "":
		return bad("is empty")
	case strings.HasPrefix(ref, "-"):
		return bad("starts with '-'")
	case strings.HasPrefix(ref, "/") || strings.HasSuffix(ref, "/") || strings.Contains(ref, "//"):
		return bad("has an empty path component")
	case strings.Contains(ref, ".."), strings.Contains(ref, "@{"), ref == "@":
		return bad(`holds "..", "@{" or is "@"`)
	case strings.HasSuffix(ref, ".") || strings.HasSuffix(ref, ".lock"):
		return bad(`ends with "." or ".lock"`)
	case strings.ContainsFunc(ref, func(r rune) bool { return r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) }):
		return bad("holds a space, a control character or one of ~^:?*[\\")
	}
	for part := range strings.SplitSeq(ref, "/") {
		if strings.HasPrefix(part, ".") {
			return bad("has a component starting with '.'")
		}
	}
	return nil
}

// CheckCommit requires a full lowercase SHA-1: a short or symbolic name
// could resolve to a different commit than the one the run was made for.
func CheckCommit(c string) error {
	if !commitPattern.MatchString(c) {
		return fmt.Errorf("%w: commit %q is not a full 40-digit hex SHA-1", ErrBadSource, c)
	}
	return nil
}
