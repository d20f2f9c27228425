package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A download that does not hash to the recorded digest unpacks nothing.
func TestFetchAndExtractChecksTheDigestFirst(t *testing.T) {
	t.Parallel()
	body := []byte("not even a tar.gz")
	sum := sha256.Sum256(body)
	dir := filepath.Join(t.TempDir(), "out")
	_, err := fetchAndExtract(bytes.NewReader(body), "sha256:"+strings.Repeat("0", 64), dir)
	if err == nil || !strings.Contains(err.Error(), "nothing was unpacked") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("the folder was made for a download that failed its digest")
	}
	// The right digest gets as far as the archive check.
	if _, err := fetchAndExtract(bytes.NewReader(body), "sha256:"+hex.EncodeToString(sum[:]), dir); err == nil || !strings.Contains(err.Error(), "not gzip") {
		t.Fatalf("err = %v", err)
	}
}
