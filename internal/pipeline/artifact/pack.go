package artifact

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"syscall"
	"time"
)

// Packed describes an archive Pack wrote.
type Packed struct {
	Digest string // sha256:<hex> of the archive
	Size   int64  // the archive's bytes
	Files  []string
	// Bytes is the files' content, uncompressed.
	Bytes int64
}

// Pack writes the regular files files (slash-separated, relative to root)
// to w as a tar.gz, in sorted order with fixed times and modes, so that
// the same files make the same archive (and the same blob). It refuses a
// name that is not clean and relative, and a file that is not regular
// (opened without following symlinks); it stops with ErrTooLarge once the
// files' content passes max bytes.
func Pack(ctx context.Context, root *os.Root, files []string, w io.Writer, max int64) (Packed, error) {
	return pack(ctx, func(name string) (*os.Root, string, error) { return root, name, nil }, files, w, max)
}

// pack is Pack with each name read from the root (and as the relative
// name) resolve gives.
func pack(ctx context.Context, resolve func(name string) (*os.Root, string, error), files []string, w io.Writer, max int64) (Packed, error) {
	names := slices.Clone(files)
	slices.Sort(names)
	names = slices.Compact(names)
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, h)}
	gz := gzip.NewWriter(cw)
	tw := tar.NewWriter(gz)
	out := Packed{Files: names}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return Packed{}, err
		}
		if err := CheckName(name); err != nil {
			return Packed{}, err
		}
		root, rel, err := resolve(name)
		if err != nil {
			return Packed{}, err
		}
		n, err := addFile(root, rel, tw, name, max-out.Bytes)
		if err != nil {
			return Packed{}, err
		}
		out.Bytes += n
	}
	if err := tw.Close(); err != nil {
		return Packed{}, fmt.Errorf("artifact: %w", err)
	}
	if err := gz.Close(); err != nil {
		return Packed{}, fmt.Errorf("artifact: %w", err)
	}
	out.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	out.Size = cw.n
	return out, nil
}

// addFile writes one file's header (as name) and content (rel of root);
// left is what the size limit still allows.
func addFile(root *os.Root, rel string, tw *tar.Writer, name string, left int64) (int64, error) {
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return 0, fmt.Errorf("artifact: open %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("artifact: stat %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("artifact: %s is not a regular file", name)
	}
	if fi.Size() > left {
		return 0, fmt.Errorf("%w: %s passes the limit", ErrTooLarge, name)
	}
	mode := int64(0o644)
	if fi.Mode()&0o111 != 0 {
		mode = 0o755 // keep built binaries runnable
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: fi.Size(), Mode: mode, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return 0, fmt.Errorf("artifact: %s: %w", name, err)
	}
	// A file that grew since Stat is cut at the size written in its
	// header; one that shrank fails the copy.
	n, err := io.Copy(tw, io.LimitReader(f, fi.Size()))
	if err != nil {
		return 0, fmt.Errorf("artifact: %s: %w", name, err)
	}
	if n != fi.Size() {
		return 0, fmt.Errorf("artifact: %s changed while it was packed", name)
	}
	return n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
