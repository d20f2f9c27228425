// Package source packs an app folder into the archive `berth apply` uploads.
// The archive is deterministic: the same files give the same bytes and so
// the same digest, which lets the server see that nothing changed.
package source

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
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
	// Everything below reads through root: a folder of the tree swapped for
	// a symlink while it is packed (a pipeline step running beside a deploy
	// step can do that to the checkout) is followed only as far as it stays
	// inside dir, and a file is opened without following a last symlink,
	// so the archive never holds a file from outside dir.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", fmt.Errorf("source: %w", err)
	}
	defer root.Close()
	if fi, err := root.Stat("."); err != nil {
		return "", fmt.Errorf("source: %w", err)
	} else if !fi.IsDir() {
		return "", fmt.Errorf("source: %s is not a folder", dir)
	}
	rules, err := loadIgnore(root)
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
	p := &packer{root: root, rules: rules, tw: tw}

	// WalkDir visits entries in lexical order, which is what makes the
	// archive deterministic.
	walkErr := fs.WalkDir(root.FS(), ".", p.visit)
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
	root    *os.Root
	rules   ignoreRules
	tw      *tar.Writer
	largest []sizedFile
}

type sizedFile struct {
	path string
	size int64
}

// visit adds the entry rel (slash-separated, relative to the root).
func (p *packer) visit(rel string, d fs.DirEntry, err error) error {
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if rel == "." {
		return nil
	}
	if d.Name() == ".git" {
		if d.IsDir() {
			return fs.SkipDir
		}
		return nil // a submodule's .git file
	}
	if p.rules.match(rel, d.IsDir()) {
		if d.IsDir() {
			return fs.SkipDir
		}
		return nil
	}
	info, err := d.Info() // lstat: a symlink is seen as one
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
		return p.write(hdr)
	case mode.IsRegular():
		return p.writeFile(hdr)
	case mode&fs.ModeSymlink != 0:
		target, err := p.checkSymlink(rel)
		if err != nil {
			return err
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
		hdr.Mode = 0o777
		return p.write(hdr)
	default:
		return fmt.Errorf("%w: %s (%s); list it in %s", ErrUnsupportedFile, rel, mode.Type(), IgnoreFile)
	}
}

func (p *packer) write(hdr *tar.Header) error {
	if err := p.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("source: %s: %w", hdr.Name, err)
	}
	return nil
}

// writeFile adds the regular file hdr.Name with its content. The file is
// opened before its header is written, not following a last symlink and
// not blocking (a FIFO put where the walk saw a file), and its type and
// size come from the open file, so what is written is what was opened.
func (p *packer) writeFile(hdr *tar.Header) error {
	f, err := p.root.OpenFile(hdr.Name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("source: %s: %w (did it change while packing?)", hdr.Name, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%w: %s (%s, changed while packing); list it in %s", ErrUnsupportedFile, hdr.Name, info.Mode().Type(), IgnoreFile)
	}
	hdr.Typeflag = tar.TypeReg
	hdr.Mode = 0o644
	if info.Mode()&0o111 != 0 {
		hdr.Mode = 0o755
	}
	hdr.Size = info.Size()
	p.noteSize(hdr.Name, hdr.Size)
	if err := p.write(hdr); err != nil {
		return err
	}
	// Copy exactly the size in the header: a file that grows or shrinks
	// while packing must fail rather than corrupt the archive.
	if _, err := io.CopyN(p.tw, f, hdr.Size); err != nil {
		return fmt.Errorf("source: %s: %w (did it change while packing?)", hdr.Name, err)
	}
	return nil
}

// checkSymlink returns the link's target if following it stays inside the
// app folder.
func (p *packer) checkSymlink(rel string) (string, error) {
	target, err := p.root.Readlink(rel)
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
	// ("a/b/.." where a/b is itself a link to the top); the root resolves
	// them for real and refuses any that leave it. A dangling link is
	// harmless once it passed the lexical check.
	if _, err := p.root.Stat(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %s -> %s (%w)", ErrUnsafeSymlink, rel, target, err)
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
