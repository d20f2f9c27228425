// Package source packs an app folder into the archive `berth apply` uploads.
// The archive is deterministic: the same files give the same bytes and so
// the same digest, which lets the server see that nothing changed.
package source

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// MaxArchiveSize is the largest archive Pack writes (compressed bytes). It
// matches what the server accepts, so a too-big app fails before uploading.
const MaxArchiveSize = 64 << 20

// epoch is every entry's time: real times would change the digest on every
// checkout or build even when no content changed.
var epoch = time.Unix(0, 0).UTC()

// Pack writes dir as a gzipped tar to w and returns its digest
// ("sha256:<hex>"). It leaves out .git and whatever dir/.berthignore lists,
// refuses symlinks that point outside dir, and stops with ErrTooLarge past
// MaxArchiveSize.
func Pack(dir string, w io.Writer) (digest string, err error) {
	return pack(dir, w, MaxArchiveSize)
}

func pack(dir string, w io.Writer, max int64) (string, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("source: %w", err)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("source: %w", err)
	}
	if fi, err := os.Stat(realRoot); err != nil {
		return "", fmt.Errorf("source: %w", err)
	} else if !fi.IsDir() {
		return "", fmt.Errorf("source: %s is not a folder", dir)
	}
	rules, err := loadIgnore(realRoot)
	if err != nil {
		return "", err
	}

	h := sha256.New()
	lw := &limitWriter{w: w, max: max}
	gz, err := gzip.NewWriterLevel(io.MultiWriter(lw, h), gzip.DefaultCompression)
	if err != nil {
		return "", fmt.Errorf("source: %w", err)
	}
	tw := tar.NewWriter(gz)
	p := &packer{root: realRoot, rules: rules, tw: tw}

	// WalkDir visits entries in lexical order, which is what makes the
	// archive deterministic.
	walkErr := filepath.WalkDir(realRoot, p.visit)
	if walkErr == nil {
		walkErr = tw.Close()
	}
	if walkErr == nil {
		walkErr = gz.Close()
	}
	if lw.exceeded {
		return "", fmt.Errorf("%w: more than %d MiB compressed%s; list large files or build outputs in %s",
			ErrTooLarge, max>>20, p.largestList(), IgnoreFile)
	}
	if walkErr != nil {
		return "", walkErr
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

type packer struct {
	root    string
	rules   ignoreRules
	tw      *tar.Writer
	largest []sizedFile
}

type sizedFile struct {
	path string
	size int64
}

func (p *packer) visit(full string, d fs.DirEntry, err error) error {
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if full == p.root {
		return nil
	}
	rel, err := filepath.Rel(p.root, full)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	rel = filepath.ToSlash(rel)
	if d.Name() == ".git" {
		if d.IsDir() {
			return filepath.SkipDir
		}
		return nil // a submodule's .git file
	}
	if p.rules.match(rel, d.IsDir()) {
		if d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	}
	info, err := d.Info()
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	hdr := &tar.Header{
		Name:    rel,
		ModTime: epoch,
		Format:  tar.FormatPAX,
	}
	switch mode := info.Mode(); {
	case mode.IsDir():
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		hdr.Mode = 0o755
		return p.write(hdr, "")
	case mode.IsRegular():
		hdr.Typeflag = tar.TypeReg
		hdr.Mode = 0o644
		if mode&0o111 != 0 {
			hdr.Mode = 0o755
		}
		hdr.Size = info.Size()
		p.noteSize(rel, hdr.Size)
		return p.write(hdr, full)
	case mode&fs.ModeSymlink != 0:
		target, err := p.checkSymlink(full, rel)
		if err != nil {
			return err
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
		hdr.Mode = 0o777
		return p.write(hdr, "")
	default:
		return fmt.Errorf("%w: %s (%s); list it in %s", ErrUnsupportedFile, rel, mode.Type(), IgnoreFile)
	}
}

// write adds hdr and, for a regular file, the content of full.
func (p *packer) write(hdr *tar.Header, full string) error {
	if err := p.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("source: %s: %w", hdr.Name, err)
	}
	if full == "" {
		return nil
	}
	f, err := os.Open(full)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer f.Close()
	// Copy exactly the size in the header: a file that grows or shrinks
	// while packing must fail rather than corrupt the archive.
	if _, err := io.CopyN(p.tw, f, hdr.Size); err != nil {
		return fmt.Errorf("source: %s: %w (did it change while packing?)", hdr.Name, err)
	}
	return nil
}

// checkSymlink returns the link's target if following it stays inside the
// app folder.
func (p *packer) checkSymlink(full, rel string) (string, error) {
	target, err := os.Readlink(full)
	if err != nil {
		return "", fmt.Errorf("source: %w", err)
	}
	if filepath.IsAbs(target) {
		return "", fmt.Errorf("%w: %s -> %s is absolute; make it relative to the link", ErrUnsafeSymlink, rel, target)
	}
	lexical := filepath.Join(filepath.Dir(filepath.FromSlash(rel)), target)
	if outside(lexical) {
		return "", fmt.Errorf("%w: %s -> %s", ErrUnsafeSymlink, rel, target)
	}
	// The lexical check misses links that go through other links
	// ("a/b/.." where a/b is itself a link to the top); resolve for real
	// when the target exists. A dangling link is harmless once it passed
	// the lexical check.
	if resolved, err := filepath.EvalSymlinks(full); err == nil {
		r, err := filepath.Rel(p.root, resolved)
		if err != nil || outside(r) {
			return "", fmt.Errorf("%w: %s -> %s (resolves to %s)", ErrUnsafeSymlink, rel, target, resolved)
		}
	}
	return filepath.ToSlash(target), nil
}

func outside(rel string) bool {
	return rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// noteSize keeps the five largest files, to name them when the archive is
// too large.
func (p *packer) noteSize(rel string, size int64) {
	p.largest = append(p.largest, sizedFile{rel, size})
	sort.SliceStable(p.largest, func(i, j int) bool { return p.largest[i].size > p.largest[j].size })
	if len(p.largest) > 5 {
		p.largest = p.largest[:5]
	}
}

func (p *packer) largestList() string {
	if len(p.largest) == 0 {
		return ""
	}
	parts := make([]string, len(p.largest))
	for i, f := range p.largest {
		parts[i] = fmt.Sprintf("%s (%s)", f.path, humanSize(f.size))
	}
	return "; largest files: " + strings.Join(parts, ", ")
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// limitWriter fails once more than max bytes were written, so packing a
// huge folder stops early instead of filling the disk.
type limitWriter struct {
	w        io.Writer
	max, n   int64
	exceeded bool
}

func (l *limitWriter) Write(b []byte) (int, error) {
	if l.n+int64(len(b)) > l.max {
		l.exceeded = true
		return 0, ErrTooLarge
	}
	n, err := l.w.Write(b)
	l.n += int64(n)
	return n, err
}
