package kubetest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/ociimage"
)

// HostImage is a container image made of the host's own files, for a real
// node (no registry is reachable from tests): each path is copied to the
// same path in the image, with every symlink on the way (Debian's /bin is
// a link to usr/bin) and, for a dynamically linked executable, the shared
// libraries ldd names for it.
type HostImage struct {
	// Ref is the image's name, REPOSITORY:TAG; pods name it with
	// imagePullPolicy Never (or IfNotPresent), since it cannot be pulled.
	Ref string
	// Paths are absolute host paths (files or symlinks) to copy.
	Paths []string
	// Links are symlinks to add: path in the image -> target.
	Links map[string]string
	// Files are files to write: path in the image -> content (mode 0644).
	Files map[string]string
	// Env is the image's environment; PATH=/usr/local/bin:/usr/bin:/bin
	// when empty.
	Env []string
	// Entrypoint is the image's; /bin/sh when empty.
	Entrypoint []string
}

// BusyboxImage is a shell image: Debian's busybox-static with a link for
// every applet in /usr/bin (so /bin/sh, cat, mkdir... work), a /tmp and
// a root user. Install it with `apt-get install busybox-static`.
func BusyboxImage(ctx context.Context, ref string) (HostImage, error) {
	const bb = "/usr/bin/busybox"
	if err := checkStaticELF(bb); err != nil {
		return HostImage{}, fmt.Errorf("kubetest: busybox image: %w (install Debian's busybox-static)", err)
	}
	out, err := exec.CommandContext(ctx, bb, "--list").Output()
	if err != nil {
		return HostImage{}, fmt.Errorf("kubetest: busybox --list: %w", err)
	}
	img := HostImage{
		Ref:   ref,
		Paths: []string{bb},
		Links: map[string]string{},
		Files: map[string]string{
			"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
			"/etc/group":  "root:x:0:\nnogroup:x:65534:\n",
		},
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if applet := strings.TrimSpace(sc.Text()); applet != "" && applet != "busybox" {
			img.Links["/usr/bin/"+applet] = "busybox"
		}
	}
	// Debian keeps /bin as a link to usr/bin; the image does too, so
	// /bin/sh is busybox's sh.
	img.Links["/bin"] = "usr/bin"
	img.Links["/sbin"] = "usr/bin"
	return img, nil
}

// GitImage is BusyboxImage plus Debian's git, with what it needs to fetch
// over HTTP (git-remote-http and its libraries): the checkout pod's image.
func GitImage(ctx context.Context, ref string) (HostImage, error) {
	img, err := BusyboxImage(ctx, ref)
	if err != nil {
		return HostImage{}, err
	}
	img.Paths = append(img.Paths, "/usr/bin/git", "/usr/lib/git-core/git", "/usr/lib/git-core/git-remote-http")
	// git init copies its templates; without them it only warns.
	if _, err := os.Stat("/usr/share/git-core/templates"); err == nil {
		img.Paths = append(img.Paths, "/usr/share/git-core/templates/description")
	}
	return img, nil
}

// Write writes the image as an OCI layout tar (ociimage.WriteLayer).
func (h HostImage) Write(ctx context.Context, w io.Writer) error {
	fs := newRootFS()
	for _, p := range h.Paths {
		if err := fs.addHostPath(p); err != nil {
			return fmt.Errorf("kubetest: image %s: %w", h.Ref, err)
		}
		libs, err := sharedLibraries(ctx, p)
		if err != nil {
			return fmt.Errorf("kubetest: image %s: %w", h.Ref, err)
		}
		for _, lib := range libs {
			if err := fs.addHostPath(lib); err != nil {
				return fmt.Errorf("kubetest: image %s: %w", h.Ref, err)
			}
		}
	}
	for path, target := range h.Links {
		fs.addParents(path)
		fs.entries[path] = rootEntry{link: target}
	}
	for path, data := range h.Files {
		fs.addParents(path)
		fs.entries[path] = rootEntry{data: []byte(data), mode: 0o644}
	}
	fs.entries["/tmp"] = rootEntry{dir: true, mode: 0o1777}
	layer, err := fs.tar()
	if err != nil {
		return fmt.Errorf("kubetest: image %s: %w", h.Ref, err)
	}
	env := h.Env
	if len(env) == 0 {
		env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	}
	entry := h.Entrypoint
	if len(entry) == 0 {
		entry = []string{"/bin/sh"}
	}
	_, err = ociimage.WriteLayer(w, ociimage.Layer{
		Ref: h.Ref, Arch: runtime.GOARCH, Tar: layer,
		Config:    ociimage.RuntimeConfig{User: "0:0", Entrypoint: entry, Env: env, WorkingDir: "/"},
		CreatedBy: "kubetest: host files " + strings.Join(h.Paths, " "),
	})
	return err
}

// rootEntry is one file system object of an image's layer.
type rootEntry struct {
	dir  bool
	link string // a symlink's target
	data []byte // a regular file's content
	mode int64
}

// rootFS collects a layer's entries by absolute path.
type rootFS struct{ entries map[string]rootEntry }

func newRootFS() *rootFS { return &rootFS{entries: map[string]rootEntry{}} }

// addParents adds the directories above path that are not there yet.
func (fs *rootFS) addParents(path string) {
	for dir := filepath.Dir(path); dir != "/" && dir != "."; dir = filepath.Dir(dir) {
		if _, ok := fs.entries[dir]; !ok {
			fs.entries[dir] = rootEntry{dir: true, mode: 0o755}
		}
	}
}

// addHostPath copies the host's path, walking it a component at a time so
// that a symlink on the way (/lib -> usr/lib) is recreated and followed.
func (fs *rootFS) addHostPath(path string) error {
	path = filepath.Clean(path)
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s: not an absolute path", path)
	}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	dir := "/"
	for i, part := range parts {
		cur := filepath.Join(dir, part)
		info, err := os.Lstat(cur)
		if err != nil {
			return err
		}
		rest := filepath.Join(parts[i+1:]...)
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(cur)
			if err != nil {
				return err
			}
			fs.addParents(cur)
			fs.entries[cur] = rootEntry{link: target}
			if !filepath.IsAbs(target) {
				target = filepath.Join(dir, target)
			}
			return fs.addHostPath(filepath.Join(target, rest))
		case info.IsDir():
			if _, ok := fs.entries[cur]; !ok {
				fs.entries[cur] = rootEntry{dir: true, mode: int64(info.Mode().Perm())}
			}
			dir = cur
		case info.Mode().IsRegular() && rest == "":
			data, err := os.ReadFile(cur)
			if err != nil {
				return err
			}
			fs.addParents(cur)
			fs.entries[cur] = rootEntry{data: data, mode: int64(info.Mode().Perm())}
			return nil
		default:
			return fmt.Errorf("%s: not a directory, file or symlink", cur)
		}
	}
	return nil
}

// tar writes the entries as an uncompressed layer, sorted, with fixed
// times, owned by root.
func (fs *rootFS) tar() ([]byte, error) {
	paths := make([]string, 0, len(fs.entries))
	for p := range fs.entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0).UTC()
	for _, p := range paths {
		e := fs.entries[p]
		h := &tar.Header{Name: strings.TrimPrefix(p, "/"), Mode: e.mode, ModTime: epoch, Format: tar.FormatPAX}
		switch {
		case e.dir:
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		case e.link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, e.link, 0o777
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(e.data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// sharedLibraries lists what ldd says path loads (the loader included);
// nothing for a file that is not a dynamically linked ELF executable.
func sharedLibraries(ctx context.Context, path string) ([]string, error) {
	if dynamic, err := dynamicELF(path); err != nil || !dynamic {
		return nil, nil
	}
	out, err := exec.CommandContext(ctx, "ldd", path).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", path, err)
	}
	var libs []string
	for line := range strings.Lines(string(out)) {
		// "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" or
		// "/lib64/ld-linux-x86-64.so.2 (0x...)"; linux-vdso has no file.
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs = append(libs, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			libs = append(libs, f[0])
		}
	}
	return libs, nil
}

// checkStaticELF is nil for an ELF executable with no program interpreter.
func checkStaticELF(path string) error {
	dynamic, err := dynamicELF(path)
	if err == nil && dynamic {
		err = fmt.Errorf("%s is dynamically linked", path)
	}
	return err
}

// dynamicELF reports whether the ELF file path names a program
// interpreter (a dynamic loader); an error when path is no ELF file.
func dynamicELF(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	defer func() { _ = f.Close() }() // read only
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true, nil
		}
	}
	return false, nil
}
