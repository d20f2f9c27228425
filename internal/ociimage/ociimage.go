// Package ociimage writes Berth's container image without a container
// engine or a registry: one layer holding the static berth binary, CA
// certificates and a non-root user, described by an OCI image config,
// manifest and index, all packed as an OCI image layout in one tar (what
// `skopeo copy oci-archive:FILE ...` and `podman load` read). The tar also
// carries a Docker-style manifest.json, so `docker load` of any version
// takes it too.
//
// WriteLayer writes any other one-layer image the same way (tests make
// images of the host's files with it: internal/kubetest's real node).
//
// The output is deterministic: the same binary, certificates and options
// give the same bytes (fixed times, sorted entries, no gzip header name or
// time), so a rebuild has the same digest.
package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Media types of the OCI image specification (v1.1).
const (
	MediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	MediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	MediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// Where things are inside the image.
const (
	BinaryPath = "/usr/local/bin/berth"
	CAPath     = "/etc/ssl/certs/ca-certificates.crt"
	// UID and GID of the image's user "berth": the user the cluster
	// gateway's pods run as (runAsUser 65532), not root.
	UID = 65532
	GID = 65532
)

// Options describe one image.
type Options struct {
	// Binary is the berth executable: linux, statically linked (built
	// with CGO_ENABLED=0), so the image needs no C library.
	Binary string
	// CABundle is a PEM file of CA certificates, copied to CAPath: Go's
	// TLS reads it there for OIDC discovery, git over HTTPS, webhooks and
	// a control plane behind https. Required.
	CABundle string
	// Ref is the image's name, REGISTRY/REPOSITORY:TAG, recorded in the
	// index and in manifest.json.
	Ref string
	// Version goes to the image's labels.
	Version string
	// Arch is the GOARCH the binary was built for (amd64, arm64...).
	Arch string
	// Created is the image's creation time (SOURCE_DATE_EPOCH for a
	// reproducible build); zero means the Unix epoch.
	Created time.Time
}

// Descriptor points at a blob (OCI image spec, descriptor.md).
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *Platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Platform is the OS and architecture an image runs on.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// Index is index.json of an image layout.
type Index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []Descriptor `json:"manifests"`
}

// Manifest is an image manifest.
type Manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
}

// Config is the image configuration (OCI image spec, config.md).
type Config struct {
	Created      string        `json:"created"`
	Architecture string        `json:"architecture"`
	OS           string        `json:"os"`
	Config       RuntimeConfig `json:"config"`
	RootFS       RootFS        `json:"rootfs"`
	History      []History     `json:"history"`
}

// RuntimeConfig is how a container of the image starts.
type RuntimeConfig struct {
	User       string            `json:"User"`
	Entrypoint []string          `json:"Entrypoint"`
	Env        []string          `json:"Env"`
	WorkingDir string            `json:"WorkingDir"`
	Labels     map[string]string `json:"Labels,omitempty"`
}

// RootFS lists the digests of the uncompressed layers.
type RootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

// History is one entry of the image's history.
type History struct {
	Created   string `json:"created"`
	CreatedBy string `json:"created_by"`
}

// dockerManifest is one entry of the manifest.json `docker save` writes.
type dockerManifest struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// Write builds the image of o and writes it to w as an OCI layout tar.
// It returns the manifest's descriptor (its digest names the image).
func Write(w io.Writer, o Options) (Descriptor, error) {
	if err := o.validate(); err != nil {
		return Descriptor{}, err
	}
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return Descriptor{}, fmt.Errorf("ociimage: binary: %w", err)
	}
	ca, err := os.ReadFile(o.CABundle)
	if err != nil {
		return Descriptor{}, fmt.Errorf("ociimage: CA bundle: %w", err)
	}
	if !bytes.Contains(ca, []byte("-----BEGIN CERTIFICATE-----")) {
		return Descriptor{}, fmt.Errorf("ociimage: CA bundle %s: no PEM certificate in it", o.CABundle)
	}
	if err := checkStatic(o.Binary); err != nil {
		return Descriptor{}, err
	}
	created := createdOrEpoch(o.Created)
	layerTar, err := rootFS(bin, ca, created)
	if err != nil {
		return Descriptor{}, err
	}
	return WriteLayer(w, Layer{
		Ref: o.Ref, Arch: o.Arch, Created: created, Tar: layerTar,
		Config: RuntimeConfig{
			User:       fmt.Sprintf("%d:%d", UID, GID),
			Entrypoint: []string{BinaryPath},
			Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/berth", "SSL_CERT_FILE=" + CAPath},
			WorkingDir: "/home/berth",
			Labels: map[string]string{
				"org.opencontainers.image.title":   "berth",
				"org.opencontainers.image.version": o.Version,
				"org.opencontainers.image.source":  "https://github.com/berthdev/berth",
			},
		},
		CreatedBy: "berth ociimage: the berth binary, CA certificates, user berth (65532)",
	})
}

// Layer is an image of one layer, for WriteLayer.
type Layer struct {
	// Ref is the image's name, REPOSITORY:TAG.
	Ref string
	// Arch is the GOARCH its binaries run on.
	Arch string
	// Created is the image's creation time, UTC; zero means the epoch.
	Created time.Time
	// Tar is the layer, an uncompressed tar of the root file system.
	Tar []byte
	// Config is how a container of the image starts.
	Config RuntimeConfig
	// CreatedBy says in the image's history what the layer holds.
	CreatedBy string
}

// WriteLayer writes the image of one layer l to w as an OCI layout tar
// (with a Docker-style manifest.json), deterministically. Write uses it for
// Berth's image; tests use it for images of other files (internal/kubetest
// builds a shell and a git image from the host's binaries).
func WriteLayer(w io.Writer, l Layer) (Descriptor, error) {
	if !validRef(l.Ref) {
		return Descriptor{}, fmt.Errorf("ociimage: ref: %q is not REPOSITORY:TAG", l.Ref)
	}
	created := createdOrEpoch(l.Created)
	layerGz, err := gzipped(l.Tar)
	if err != nil {
		return Descriptor{}, err
	}
	layer := blob(MediaTypeLayer, layerGz)
	stamp := created.Format(time.RFC3339)
	cfgJSON, err := json.Marshal(Config{
		Created: stamp, Architecture: l.Arch, OS: "linux",
		Config:  l.Config,
		RootFS:  RootFS{Type: "layers", DiffIDs: []string{digest(l.Tar)}},
		History: []History{{Created: stamp, CreatedBy: l.CreatedBy}},
	})
	if err != nil {
		return Descriptor{}, err
	}
	cfg := blob(MediaTypeConfig, cfgJSON)
	manJSON, err := json.Marshal(Manifest{SchemaVersion: 2, MediaType: MediaTypeManifest, Config: cfg.Descriptor, Layers: []Descriptor{layer.Descriptor}})
	if err != nil {
		return Descriptor{}, err
	}
	man := blob(MediaTypeManifest, manJSON)
	_, tag := splitRef(l.Ref)
	mdesc := man.Descriptor
	mdesc.Platform = &Platform{Architecture: l.Arch, OS: "linux"}
	// ref.name is the tag (what skopeo's oci-archive:FILE:TAG selects);
	// containerd (docker load of an OCI layout) reads the full name.
	mdesc.Annotations = map[string]string{"org.opencontainers.image.ref.name": tag, "io.containerd.image.name": l.Ref}
	idxJSON, err := json.Marshal(Index{SchemaVersion: 2, MediaType: MediaTypeIndex, Manifests: []Descriptor{mdesc}})
	if err != nil {
		return Descriptor{}, err
	}
	dockerJSON, err := json.Marshal([]dockerManifest{{Config: blobPath(cfg.Digest), RepoTags: []string{l.Ref}, Layers: []string{blobPath(layer.Digest)}}})
	if err != nil {
		return Descriptor{}, err
	}

	tw := tar.NewWriter(w)
	dirs := []string{"blobs/", "blobs/sha256/"}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: created, Format: tar.FormatPAX}); err != nil {
			return Descriptor{}, fmt.Errorf("ociimage: write: %w", err)
		}
	}
	files := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", idxJSON},
		{"manifest.json", dockerJSON},
		{blobPath(layer.Digest), layerGz},
		{blobPath(cfg.Digest), cfgJSON},
		{blobPath(man.Digest), manJSON},
	}
	for _, f := range files {
		if err := writeFile(tw, f.name, f.data, 0o644, 0, 0, created); err != nil {
			return Descriptor{}, err
		}
	}
	if err := tw.Close(); err != nil {
		return Descriptor{}, fmt.Errorf("ociimage: write: %w", err)
	}
	return mdesc, nil
}

func (o Options) validate() error {
	var errs []error
	if o.Binary == "" {
		errs = append(errs, errors.New("binary: required (a berth built with CGO_ENABLED=0 GOOS=linux)"))
	}
	if o.CABundle == "" {
		errs = append(errs, errors.New("CA bundle: required (e.g. /etc/ssl/certs/ca-certificates.crt)"))
	}
	if o.Arch == "" {
		errs = append(errs, errors.New("arch: required (the binary's GOARCH)"))
	}
	if !validRef(o.Ref) {
		errs = append(errs, fmt.Errorf("ref: %q is not REPOSITORY:TAG (e.g. registry.example.com/berth:v1.2.0)", o.Ref))
	}
	if len(errs) > 0 {
		return fmt.Errorf("ociimage: %w", errors.Join(errs...))
	}
	return nil
}

// validRef reports whether ref is REPOSITORY:TAG.
func validRef(ref string) bool {
	name, tag := splitRef(ref)
	return name != "" && tag != "" && !strings.ContainsAny(ref, " \t\n@")
}

// createdOrEpoch is t in UTC, or the epoch for a zero t: an image's
// creation time, fixed so that a rebuild has the same digest.
func createdOrEpoch(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC()
}

// splitRef splits NAME:TAG at the last colon after the last slash (a
// registry's port is not a tag).
func splitRef(ref string) (name, tag string) {
	i := strings.LastIndexByte(ref, ':')
	if i < 0 || strings.LastIndexByte(ref, '/') > i {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

// checkStatic refuses a binary that is not a Linux ELF executable or that
// needs a dynamic loader: the image has no C library, so such a binary
// would fail to start with a bare "no such file or directory".
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("ociimage: binary %s: not a Linux executable: %w", path, err)
	}
	defer func() { _ = f.Close() }() // read only: nothing to lose
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("ociimage: binary %s is dynamically linked: build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}

type blobData struct {
	Descriptor
	data []byte
}

func blob(mediaType string, data []byte) blobData {
	return blobData{Descriptor: Descriptor{MediaType: mediaType, Digest: digest(data), Size: int64(len(data))}, data: data}
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// blobPath is where a blob lives in an image layout.
func blobPath(d string) string {
	return "blobs/" + strings.Replace(d, ":", "/", 1)
}

// rootFS is the image's only layer: the binary, the CA bundle, the user
// and group files naming berth (65532), its home and a /tmp.
func rootFS(bin, ca []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	type entry struct {
		name     string
		data     []byte // nil: a directory
		mode     int64
		uid, gid int
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nberth:x:%d:%d:berth:/home/berth:/sbin/nologin\n", UID, GID)
	group := fmt.Sprintf("root:x:0:\nberth:x:%d:\n", GID)
	entries := []entry{
		{name: "etc/", mode: 0o755},
		{name: "etc/group", data: []byte(group), mode: 0o644},
		{name: "etc/passwd", data: []byte(passwd), mode: 0o644},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: strings.TrimPrefix(CAPath, "/"), data: ca, mode: 0o644},
		{name: "home/", mode: 0o755},
		{name: "home/berth/", mode: 0o700, uid: UID, gid: GID},
		{name: "tmp/", mode: 0o1777},
		{name: "usr/", mode: 0o755},
		{name: "usr/local/", mode: 0o755},
		{name: "usr/local/bin/", mode: 0o755},
		{name: strings.TrimPrefix(BinaryPath, "/"), data: bin, mode: 0o755},
	}
	for _, e := range entries {
		if e.data == nil {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid,
				ModTime: mtime, Format: tar.FormatPAX}); err != nil {
				return nil, fmt.Errorf("ociimage: layer: %w", err)
			}
			continue
		}
		if err := writeFile(tw, e.name, e.data, e.mode, e.uid, e.gid, mtime); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("ociimage: layer: %w", err)
	}
	return buf.Bytes(), nil
}

func writeFile(tw *tar.Writer, name string, data []byte, mode int64, uid, gid int, mtime time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: mode,
		Uid: uid, Gid: gid, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
		return fmt.Errorf("ociimage: %s: %w", name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("ociimage: %s: %w", name, err)
	}
	return nil
}

// gzipped compresses b with no name and no time in the header, so the
// same layer always compresses to the same bytes.
func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("ociimage: compress layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("ociimage: compress layer: %w", err)
	}
	return buf.Bytes(), nil
}
