package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berthdev/berth/internal/runtime"
)

// writeInstanceFiles writes what an instance needs besides instance.json:
// its secret variables (secrets.json) and its config files (config/). Both
// are readable only by the user the server and shims run as: the values
// are the app's and nobody else's on the machine.
func writeInstanceFiles(dir string, w runtime.Workload) error {
	if len(w.Secrets) > 0 {
		// writeJSONAtomic creates its file through os.CreateTemp: mode 0600.
		if err := writeJSONAtomic(filepath.Join(dir, fileSecrets), w.Secrets); err != nil {
			return fmt.Errorf("instance secrets: %w", err)
		}
	}
	if len(w.Files) == 0 && !w.Spec.ReloadsLive() {
		return nil
	}
	return writeConfigFiles(dir, w.Files)
}

// readSecrets reads the instance's secret variables from dir; none when
// the file is absent (a workload without secrets).
func readSecrets(dir string) (map[string]string, error) {
	var m map[string]string
	err := readJSON(filepath.Join(dir, fileSecrets), &m)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("instance secrets: %w", err)
	}
	return m, nil
}
