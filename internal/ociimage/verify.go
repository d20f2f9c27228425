package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Image is an image read back from a layout tar, every digest checked.
type Image struct {
	Index    Index
	Manifest Manifest
	Config   Config
	// Layers are the uncompressed layer tars, in order.
	Layers [][]byte
}

// maxBlob bounds what Read holds of one file: the berth binary is well
// under it.
const maxBlob = 1 << 30

// Read reads an OCI layout tar and checks it as a registry client would:
// the layout version, every descriptor's size and sha256 digest (index to
// manifest, manifest to config and layers), and each layer's diff ID
// against its uncompressed bytes. It expects one image in the index.
func Read(r io.Reader) (Image, error) {
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Image{}, fmt.Errorf("ociimage: read: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxBlob+1))
		if err != nil {
			return Image{}, fmt.Errorf("ociimage: read %s: %w", h.Name, err)
		}
		if len(b) > maxBlob {
			return Image{}, fmt.Errorf("ociimage: %s is larger than %d bytes", h.Name, maxBlob)
		}
		files[strings.TrimPrefix(h.Name, "./")] = b
	}
	var layout struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(files["oci-layout"], &layout); err != nil {
		return Image{}, fmt.Errorf("ociimage: oci-layout: %w", err)
	}
	if layout.Version != "1.0.0" {
		return Image{}, fmt.Errorf("ociimage: oci-layout: imageLayoutVersion %q, want 1.0.0", layout.Version)
	}
	var img Image
	if err := json.Unmarshal(files["index.json"], &img.Index); err != nil {
		return Image{}, fmt.Errorf("ociimage: index.json: %w", err)
	}
	if len(img.Index.Manifests) != 1 {
		return Image{}, fmt.Errorf("ociimage: index.json: %d manifests, want 1", len(img.Index.Manifests))
	}
	get := func(d Descriptor, mediaType string) ([]byte, error) {
		if d.MediaType != mediaType {
			return nil, fmt.Errorf("ociimage: %s: media type %q, want %q", d.Digest, d.MediaType, mediaType)
		}
		b, ok := files[blobPath(d.Digest)]
		switch {
		case !ok:
			return nil, fmt.Errorf("ociimage: blob %s is missing", d.Digest)
		case int64(len(b)) != d.Size:
			return nil, fmt.Errorf("ociimage: blob %s: %d bytes, the descriptor says %d", d.Digest, len(b), d.Size)
		case digest(b) != d.Digest:
			return nil, fmt.Errorf("ociimage: blob %s: content digest is %s", d.Digest, digest(b))
		}
		return b, nil
	}
	b, err := get(img.Index.Manifests[0], MediaTypeManifest)
	if err != nil {
		return Image{}, err
	}
	if err := json.Unmarshal(b, &img.Manifest); err != nil {
		return Image{}, fmt.Errorf("ociimage: manifest: %w", err)
	}
	if b, err = get(img.Manifest.Config, MediaTypeConfig); err != nil {
		return Image{}, err
	}
	if err := json.Unmarshal(b, &img.Config); err != nil {
		return Image{}, fmt.Errorf("ociimage: config: %w", err)
	}
	if len(img.Config.RootFS.DiffIDs) != len(img.Manifest.Layers) {
		return Image{}, fmt.Errorf("ociimage: config lists %d diff IDs for %d layers", len(img.Config.RootFS.DiffIDs), len(img.Manifest.Layers))
	}
	for i, l := range img.Manifest.Layers {
		gz, err := get(l, MediaTypeLayer)
		if err != nil {
			return Image{}, err
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			return Image{}, fmt.Errorf("ociimage: layer %s: %w", l.Digest, err)
		}
		raw, err := io.ReadAll(io.LimitReader(zr, maxBlob+1))
		if err != nil {
			return Image{}, fmt.Errorf("ociimage: layer %s: %w", l.Digest, err)
		}
		if d := digest(raw); d != img.Config.RootFS.DiffIDs[i] {
			return Image{}, fmt.Errorf("ociimage: layer %s: uncompressed digest %s, the config's diff ID is %s", l.Digest, d, img.Config.RootFS.DiffIDs[i])
		}
		img.Layers = append(img.Layers, raw)
	}
	return img, nil
}
