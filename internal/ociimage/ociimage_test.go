package ociimage

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// buildBerth builds the real berth binary as `make image` does: static,
// for linux, with a version stamped in.
func buildBerth(t *testing.T, version string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "berth")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", out,
		"github.com/berthdev/berth/cmd/berth")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

func caBundle(t *testing.T) string {
	t.Helper()
	p := "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(p); err != nil {
		// A bundle of one certificate serves the test as well.
		p = filepath.Join(t.TempDir(), "ca.crt")
		if err := os.WriteFile(p, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// TestImage builds the image of the real berth binary, reads it back with
// every digest checked, unpacks its layer and runs the unpacked `berth
// version`; a second build of the same inputs has the same digest.
func TestImage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the image's binary is a linux one")
	}
	const version = "v9.8.7-imagetest"
	bin := buildBerth(t, version)
	o := Options{Binary: bin, CABundle: caBundle(t), Ref: "registry.example.com:5000/berth/berth:" + version, Version: version,
		Arch: runtime.GOARCH, Created: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	desc, err := Write(&buf, o)
	if err != nil {
		t.Fatal(err)
	}
	img, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Index.Manifests[0]; got.Digest != desc.Digest || got.Annotations["org.opencontainers.image.ref.name"] != version ||
		got.Platform == nil || got.Platform.OS != "linux" || got.Platform.Architecture != runtime.GOARCH {
		t.Errorf("index entry %+v, want digest %s, tag %s", got, desc.Digest, version)
	}
	c := img.Config.Config
	if c.User != "65532:65532" || len(c.Entrypoint) != 1 || c.Entrypoint[0] != BinaryPath || img.Config.OS != "linux" {
		t.Errorf("runtime config %+v os %s", c, img.Config.OS)
	}
	if c.Labels["org.opencontainers.image.version"] != version {
		t.Errorf("labels %v", c.Labels)
	}

	// docker load reads manifest.json: its config and layer are the same blobs.
	_, files := tarEntries(t, buf.Bytes())
	var dm []dockerManifest
	if err := json.Unmarshal(files["manifest.json"], &dm); err != nil {
		t.Fatal(err)
	}
	if len(dm) != 1 || dm[0].Config != blobPath(img.Manifest.Config.Digest) || len(dm[0].Layers) != 1 ||
		dm[0].Layers[0] != blobPath(img.Manifest.Layers[0].Digest) || dm[0].RepoTags[0] != o.Ref {
		t.Errorf("manifest.json %+v", dm)
	}

	// The layer, unpacked, is a root file system berth runs from.
	root := t.TempDir()
	unpack(t, img.Layers[0], root)
	layer, _ := tarEntries(t, img.Layers[0])
	for name, want := range map[string]struct{ mode, uid int64 }{
		"usr/local/bin/berth":               {0o755, 0},
		"etc/ssl/certs/ca-certificates.crt": {0o644, 0},
		"etc/passwd":                        {0o644, 0},
		"home/berth/":                       {0o700, UID},
		"tmp/":                              {0o1777, 0},
	} {
		h, ok := layer[name]
		if !ok || h.Mode != want.mode || int64(h.Uid) != want.uid {
			t.Errorf("layer entry %s: %+v, want mode %o uid %d", name, h, want.mode, want.uid)
		}
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if !strings.Contains(string(passwd), "berth:x:65532:65532:") {
		t.Errorf("passwd %q has no user berth", passwd)
	}
	ca, _ := os.ReadFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"))
	want, _ := os.ReadFile(o.CABundle)
	if !bytes.Equal(ca, want) {
		t.Error("the CA bundle in the image differs from the given one")
	}
	out, err := exec.CommandContext(t.Context(), filepath.Join(root, "usr/local/bin/berth"), "version", "--client").CombinedOutput()
	if err != nil || !strings.Contains(string(out), version) {
		t.Fatalf("unpacked berth version: %v\n%s", err, out)
	}

	// Reproducible: the same inputs, the same bytes.
	var again bytes.Buffer
	if d2, err := Write(&again, o); err != nil || d2.Digest != desc.Digest || !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Errorf("second build: digest %s, want %s (%v)", d2.Digest, desc.Digest, err)
	}

	// A blob changed after the fact is caught.
	bad := corrupt(t, buf.Bytes(), blobPath(img.Manifest.Config.Digest))
	if _, err := Read(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "content digest") {
		t.Errorf("a corrupted config read back: %v", err)
	}
}

// TestWriteRefusesBadInput: what the image cannot work with is said, by
// field, before anything is written.
func TestWriteRefusesBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := filepath.Join(dir, "berth")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	noPEM := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(noPEM, []byte("nothing"), 0o644); err != nil {
		t.Fatal(err)
	}
	ca := caBundle(t)
	tests := []struct {
		desc string
		o    Options
		want string
	}{
		{"no binary", Options{CABundle: ca, Arch: "amd64", Ref: "b:1"}, "binary: required"},
		{"no tag", Options{Binary: script, CABundle: ca, Arch: "amd64", Ref: "registry:5000/b"}, "is not REPOSITORY:TAG"},
		{"no arch", Options{Binary: script, CABundle: ca, Ref: "b:1"}, "arch: required"},
		{"not an executable", Options{Binary: script, CABundle: ca, Arch: "amd64", Ref: "b:1"}, "not a Linux executable"},
		{"no certificates", Options{Binary: "/proc/self/exe", CABundle: noPEM, Arch: "amd64", Ref: "b:1"}, "no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := Write(&buf, tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want %q", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes written on error", buf.Len())
			}
		})
	}
}

// tarEntries reads a tar into its headers and contents by name.
func tarEntries(t *testing.T, b []byte) (map[string]*tar.Header, map[string][]byte) {
	t.Helper()
	headers, files := map[string]*tar.Header{}, map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return headers, files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		headers[h.Name], files[h.Name] = h, data
	}
}

// unpack extracts a layer as a container engine would, minus ownership
// (the test does not run as root).
func unpack(t *testing.T, layer []byte, root string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(layer))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !filepath.IsLocal(h.Name) {
			t.Fatalf("layer entry %q leaves the root", h.Name)
		}
		p := filepath.Join(root, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			data, _ := io.ReadAll(tr)
			if err := os.WriteFile(p, data, os.FileMode(h.Mode).Perm()); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("layer entry %q of type %c", h.Name, h.Typeflag)
		}
	}
}

// corrupt flips one byte of the named file in a layout tar.
func corrupt(t *testing.T, layout []byte, name string) []byte {
	t.Helper()
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tr := tar.NewReader(bytes.NewReader(layout))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if h.Name == name {
			data[0] ^= 0xff
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
