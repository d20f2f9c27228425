package ociimage

import (
	"bytes"
	"strings"
	"testing"
)

// WriteLayer writes any one-layer image that Read takes back whole, with
// the runtime configuration given; a ref without a tag is refused.
func TestWriteLayer(t *testing.T) {
	t.Parallel()
	layer := []byte("not checked as a tar here, only carried")
	var buf bytes.Buffer
	desc, err := WriteLayer(&buf, Layer{
		Ref: "berth.test/busybox:1", Arch: "amd64", Tar: layer,
		Config: RuntimeConfig{User: "0:0", Entrypoint: []string{"/bin/sh"}, Env: []string{"PATH=/usr/bin"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if img.Index.Manifests[0].Digest != desc.Digest || desc.Annotations["io.containerd.image.name"] != "berth.test/busybox:1" {
		t.Errorf("descriptor %+v, index %+v", desc, img.Index)
	}
	if len(img.Layers) != 1 || !bytes.Equal(img.Layers[0], layer) {
		t.Errorf("layers %q", img.Layers)
	}
	if c := img.Config.Config; c.User != "0:0" || strings.Join(c.Entrypoint, " ") != "/bin/sh" || img.Config.Created != "1970-01-01T00:00:00Z" {
		t.Errorf("config %+v", img.Config)
	}
	if _, err := WriteLayer(&buf, Layer{Ref: "berth.test/busybox", Arch: "amd64"}); err == nil || !strings.Contains(err.Error(), "ref") {
		t.Errorf("a ref without a tag: %v, want an error naming ref", err)
	}
}
