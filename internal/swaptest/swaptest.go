// Package swaptest helps tests prove that code reading a folder another
// process controls never reads outside it: Folder keeps swapping one of
// the folder's subfolders for a symlink, as a pipeline step running beside
// the server's read of its checkout can.
package swaptest

import (
	"context"
	"os"
	"testing"
)

// Folder starts swapping the folder at p for a symlink to target and back,
// until the returned stop is called (or the test ends), and leaves the
// folder in place. Errors of the swap fail the test.
func Folder(t testing.TB, p, target string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := loop(ctx, p, target); err != nil {
			t.Errorf("swapping %s: %v", p, err)
		}
	}()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func loop(ctx context.Context, p, target string) error {
	aside := p + ".aside"
	for ctx.Err() == nil {
		if err := os.Rename(p, aside); err != nil {
			return err
		}
		if err := os.Symlink(target, p); err != nil {
			return err
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		if err := os.Rename(aside, p); err != nil {
			return err
		}
	}
	return nil
}
