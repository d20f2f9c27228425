package runner

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A step owns the checkout and can put a FIFO where berth.yaml or the
// pipeline file was: the server must refuse it at once, not wait forever
// for a writer (past the step's timeout and the run's cancel).
func TestCheckoutFilesThatAreFIFOsAreRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"berth.yaml", "pipeline.yaml"} {
		if err := syscall.Mkfifo(filepath.Join(dir, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, 2)
	go func() { _, _, err := readSpec(dir); errs <- err }()
	go func() { _, err := readPipeline(dir, "pipeline.yaml"); errs <- err }()
	for range 2 {
		select {
		case err := <-errs:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("err = %v, want a refusal naming the file as not regular", err)
			}
		case <-time.After(5 * time.Second):
			// Unblock the stuck open so the test's goroutine ends.
			for _, name := range []string{"berth.yaml", "pipeline.yaml"} {
				if f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					f.Close()
				}
			}
			t.Fatal("reading a FIFO in the checkout blocked")
		}
	}
}
