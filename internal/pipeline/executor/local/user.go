package local

import (
	"fmt"
	"os/user"
	"strconv"
	"strings"
)

// ids is a user and group to run steps as.
type ids struct{ uid, gid int }

// nobody is the classic unprivileged user, used when /etc/passwd lacks it.
const nobody = 65534

// lookupUser reads "name", "uid:gid" or "" (nobody). CGO off, os/user
// reads /etc/passwd, which is what a server container has.
func lookupUser(spec string) (ids, error) {
	if spec == "" {
		u, err := user.Lookup("nobody")
		if err != nil {
			return ids{nobody, nobody}, nil
		}
		return parseIDs(u.Uid, u.Gid)
	}
	if u, g, ok := strings.Cut(spec, ":"); ok {
		return parseIDs(u, g)
	}
	u, err := user.Lookup(spec)
	if err != nil {
		return ids{}, fmt.Errorf("user %q: %w", spec, err)
	}
	return parseIDs(u.Uid, u.Gid)
}

func parseIDs(u, g string) (ids, error) {
	uid, err := strconv.Atoi(u)
	if err != nil || uid < 0 {
		return ids{}, fmt.Errorf("uid %q is not a number", u)
	}
	gid, err := strconv.Atoi(g)
	if err != nil || gid < 0 {
		return ids{}, fmt.Errorf("gid %q is not a number", g)
	}
	return ids{uid, gid}, nil
}
