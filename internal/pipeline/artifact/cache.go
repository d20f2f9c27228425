package artifact

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
)

// A cache archive spans two folders: the checkout, as "src/...", and the
// step's home, as "home/..." (cache paths "~/..."), the way the local
// executor lays out <caches>/<key>/{src,home}. It is packed like an
// artifact archive (sorted, fixed times, regular files only), so the same
// files make the same blob.
const (
	CacheSrc  = "src"
	CacheHome = "home"
)

// DefaultMaxCacheBytes caps the content of one cache, as the local
// executor caps what it copies.
const DefaultMaxCacheBytes = 2 << 30

// CacheRoots are the folders a cache is collected from and restored into.
type CacheRoots struct {
	Src, Home *os.Root
}

func (c CacheRoots) of(part string) *os.Root {
	switch part {
	case CacheSrc:
		return c.Src
	case CacheHome:
		return c.Home
	}
	return nil
}

// split splits "src/a/b" into the checkout's root and "a/b".
func (c CacheRoots) split(name string) (*os.Root, string, error) {
	part, rel, err := cachePart(name)
	if err != nil {
		return nil, "", err
	}
	return c.of(part), rel, nil
}

// cachePart splits a cache archive's name into its part (src, home) and
// the name within it.
func cachePart(name string) (string, string, error) {
	if err := CheckName(name); err != nil {
		return "", "", err
	}
	part, rel, ok := strings.Cut(name, "/")
	if !ok || (part != CacheSrc && part != CacheHome) {
		return "", "", fmt.Errorf("%w: %q is neither under %s/ nor under %s/", ErrBadArchive, name, CacheSrc, CacheHome)
	}
	return part, rel, nil
}

// CheckCacheName refuses a name a cache archive may not hold: one that is
// not clean and relative, or not under src/ or home/.
func CheckCacheName(name string) error {
	_, _, err := cachePart(name)
	return err
}

// CollectCache lists the regular files the cache paths name (a file, or a
// folder and all under it; "~/..." in the home), as archive names, walked
// through the rooted views like Collect: no ".." or symlink leads out,
// symlinks and devices are skipped.
func CollectCache(ctx context.Context, roots CacheRoots, paths []string, log io.Writer) ([]string, error) {
	var src, home []string
	for _, p := range paths {
		if h, ok := strings.CutPrefix(p, "~/"); ok {
			home = append(home, h)
		} else {
			src = append(src, p)
		}
	}
	var out []string
	for _, part := range []struct {
		name  string
		paths []string
	}{{CacheSrc, src}, {CacheHome, home}} {
		if len(part.paths) == 0 {
			continue
		}
		files, err := collect(ctx, roots.of(part.name), part.paths, log, "cache")
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			out = append(out, part.name+"/"+f)
		}
	}
	return out, nil
}

// PackCache packs the files CollectCache named, like Pack.
func PackCache(ctx context.Context, roots CacheRoots, files []string, w io.Writer, max int64) (Packed, error) {
	return pack(ctx, roots.split, files, w, max)
}

// ExtractCache unpacks the cache archive r into the rooted views: src/
// into the checkout, home/ into the home; no name, however made, writes
// outside them. A name under neither is ErrBadArchive; what was written
// before it stays (a cache restored halfway is still a cache of the key:
// the step runs with what it has).
func ExtractCache(r io.Reader, roots CacheRoots, max int64) ([]string, error) {
	return Walk(r, max, func(name string, mode int64, content io.Reader) error {
		root, rel, err := roots.split(name)
		if err != nil {
			return err
		}
		return writeFile(root, rel, mode, content)
	})
}
