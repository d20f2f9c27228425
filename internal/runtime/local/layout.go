package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// File and folder names inside Dir; see the package documentation.
const (
	dirWorkloads = "workloads"
	dirInstances = "instances"
	dirTrash     = "trash"
	dirLogs      = "logs"
	fileWorkload = "workload.json"
	fileInstance = "instance.json"
	fileState    = "state.json"
	fileLock     = "lock"
	fileShimLog  = "shim.log"
	fileOutput   = "output.log"
	fileDirLock  = "runtime.lock"
	// fileSecrets holds an instance's secret variables (mode 0600), apart
	// from instance.json, so nothing else the runtime writes holds them.
	fileSecrets = "secrets.json"
	dirConfig   = "config"
)

// layout knows where things live under the runtime's Dir.
type layout struct{ root string }

func (l layout) workloads() string          { return filepath.Join(l.root, dirWorkloads) }
func (l layout) trash() string              { return filepath.Join(l.root, dirTrash) }
func (l layout) workload(id string) string  { return filepath.Join(l.workloads(), id) }
func (l layout) instances(id string) string { return filepath.Join(l.workload(id), dirInstances) }
func (l layout) instance(id string, n int) string {
	return filepath.Join(l.instances(id), strconv.Itoa(n))
}

// instanceIndexes lists the instance folders of a workload, lowest first.
func (l layout) instanceIndexes(id string) ([]int, error) {
	entries, err := os.ReadDir(l.instances(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n < 0 || !e.IsDir() || strconv.Itoa(n) != e.Name() {
			continue
		}
		out = append(out, n)
	}
	sort.Ints(out)
	return out, nil
}

// workloadIDs lists the workloads that have a workload.json.
func (l layout) workloadIDs() ([]string, error) {
	entries, err := os.ReadDir(l.workloads())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(l.workloads(), e.Name(), fileWorkload)); err == nil {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// writeJSONAtomic writes v to path through a temporary file and a rename, so
// a reader (or a crash) never sees half a file.
func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(append(b, '\n'))
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}
