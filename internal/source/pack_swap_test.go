package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/swaptest"
)

// TestPackNeverReadsThroughASwappedFolder packs a folder while another
// goroutine keeps swapping one of its subfolders for a symlink to a folder
// outside, as a parallel pipeline step can do to the checkout a deploy
// step packs. Packing may fail, but no archive may ever hold the outside
// file: with plain paths (before os.Root) one did within a few hundred
// packs.
func TestPackNeverReadsThroughASwappedFolder(t *testing.T) {
	t.Parallel()
	secret := "outside-secret-" + t.Name()
	outside := t.TempDir()
	// The same names inside and outside: whichever file the walk lists,
	// opening it while the folder is a link would read the outside one.
	in, out := map[string]string{}, map[string]string{}
	for i := range 64 {
		name := fmt.Sprintf("f%02d", i)
		in["swap/"+name], out[name] = "inside", secret
	}
	writeTree(t, outside, out)
	dir := t.TempDir()
	writeTree(t, dir, in)

	swaptest.Folder(t, filepath.Join(dir, "swap"), outside)

	deadline := time.Now().Add(3 * time.Second)
	packs, failed := 0, 0
	for ; time.Now().Before(deadline); packs++ {
		var buf bytes.Buffer
		if _, err := Pack(dir, &buf); err != nil {
			failed++
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("pack %d: the error holds the outside file: %v", packs, err)
			}
			continue
		}
		for _, e := range readContents(t, buf.Bytes()) {
			if bytes.Contains(e, []byte(secret)) {
				t.Fatalf("pack %d: the archive holds the file outside the folder", packs)
			}
		}
	}
	t.Logf("%d packs, %d failed while the folder was swapped", packs, failed)
}

// TestPackDoesNotFollowALinkedIgnoreFile: .berthignore is read through
// the folder's root and not followed when it is a symlink, so a checkout
// cannot have the server parse (and quote in an error) a file of its own.
func TestPackDoesNotFollowALinkedIgnoreFile(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	secret := "!outside-secret"
	writeTree(t, outside, map[string]string{"f": secret})
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a": "x", ".berthignore": "->" + filepath.Join(outside, "f")})
	_, err := Pack(dir, io.Discard)
	if err == nil {
		t.Fatal("packed a folder whose .berthignore is a symlink out of it")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("the error quotes the file outside: %v", err)
	}
}

// readContents returns the content of every file in the tar.gz b.
func readContents(t *testing.T, b []byte) [][]byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out [][]byte
	for {
		if _, err := tr.Next(); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		c, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}
