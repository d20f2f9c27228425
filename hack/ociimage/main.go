// Command ociimage writes Berth's container image as an OCI layout tar,
// with no container engine and no registry (`make image` runs it):
//
//	go run ./hack/ociimage -binary bin/linux-amd64/berth -arch amd64 \
//	    -ref ghcr.io/berthdev/berth:v1.2.0 -out bin/berth-image.tar
//
// Push the result with `skopeo copy oci-archive:bin/berth-image.tar
// docker://REGISTRY/berth:TAG`, or load it with `docker load -i` or
// `podman load -i`. See docs/kubernetes.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/ociimage"
)

func main() {
	var o ociimage.Options
	var out string
	flag.StringVar(&o.Binary, "binary", "", "the berth binary (CGO_ENABLED=0 GOOS=linux)")
	flag.StringVar(&o.CABundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "PEM CA certificates to put in the image")
	flag.StringVar(&o.Ref, "ref", "", "image name, REPOSITORY:TAG")
	flag.StringVar(&o.Version, "version", "", "version label (default: the ref's tag)")
	flag.StringVar(&o.Arch, "arch", runtime.GOARCH, "GOARCH the binary was built for")
	flag.StringVar(&out, "out", "bin/berth-image.tar", "where to write the OCI layout tar")
	flag.Parse()
	if err := run(o, out); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}

func run(o ociimage.Options, out string) error {
	if o.Version == "" {
		if i := strings.LastIndexByte(o.Ref, ':'); i >= 0 {
			o.Version = o.Ref[i+1:]
		}
	}
	// SOURCE_DATE_EPOCH makes the image's times (and so its digest) a
	// function of the sources, as reproducible-builds.org suggests.
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH %q: want seconds since 1970", s)
		}
		o.Created = time.Unix(sec, 0)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	// Written beside the target and renamed, so a failed build never
	// leaves a half image where a push would pick it up.
	tmp, err := os.CreateTemp(filepath.Dir(out), ".berth-image-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	desc, err := ociimage.Write(tmp, o)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// Read it back as a registry would before calling it done.
	f, err := os.Open(tmp.Name())
	if err != nil {
		return err
	}
	_, err = ociimage.Read(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("the written image does not verify: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %s (%s, linux/%s)\n", out, o.Ref, desc.Digest, o.Arch)
	return nil
}
