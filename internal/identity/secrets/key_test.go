package secrets

import (
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, dir, name string, data []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
	return p
}

func TestLoadMasterKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k := mustKey(t)
	raw := k.b[:]
	b64File := writeFile(t, dir, "b64", []byte(k.Encode()+"\n"), 0o600)
	rawFile := writeFile(t, dir, "raw", raw, 0o400)
	urlFile := writeFile(t, dir, "url", []byte(base64.RawURLEncoding.EncodeToString(raw)), 0o600)
	openFile := writeFile(t, dir, "open", []byte(k.Encode()), 0o644)
	shortFile := writeFile(t, dir, "short", []byte(base64.StdEncoding.EncodeToString(raw[:16])), 0o600)
	emptyFile := writeFile(t, dir, "empty", nil, 0o600)

	tests := []struct {
		desc    string
		path    string
		env     map[string]string
		wantSrc string
		wantErr string // substring; "" for success
	}{
		{desc: "file base64", path: b64File, wantSrc: b64File},
		{desc: "file raw bytes", path: rawFile, wantSrc: rawFile},
		{desc: "file url base64", path: urlFile, wantSrc: urlFile},
		{desc: "env", env: map[string]string{EnvMasterKey: k.Encode()}, wantSrc: EnvMasterKey},
		{desc: "env wins over file", path: shortFile, env: map[string]string{EnvMasterKey: k.Encode()}, wantSrc: EnvMasterKey},
		{desc: "env not base64", env: map[string]string{EnvMasterKey: "not base64!"}, wantErr: "BERTH_MASTER_KEY: bad master key: not valid base64"},
		{desc: "env wrong length", env: map[string]string{EnvMasterKey: base64.StdEncoding.EncodeToString(raw[:31])}, wantErr: "BERTH_MASTER_KEY: bad master key: decodes to 31 bytes, want 32"},
		{desc: "env empty", env: map[string]string{EnvMasterKey: " "}, wantErr: "BERTH_MASTER_KEY: bad master key: empty"},
		{desc: "file readable by others", path: openFile, wantErr: "mode 0644 lets group or others read it; run chmod 600"},
		{desc: "file wrong length", path: shortFile, wantErr: "decodes to 16 bytes, want 32"},
		{desc: "file empty", path: emptyFile, wantErr: "empty"},
		{desc: "file missing", path: filepath.Join(dir, "nope"), wantErr: "no such file"},
		{desc: "directory", path: dir, wantErr: "bad master key"},
		{desc: "nothing", wantErr: "set BERTH_MASTER_KEY or a master key file"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, src, err := LoadMasterKey(tt.path, env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadMasterKey = %v, want ErrKey containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ID() != k.ID() || got.b != k.b || src != tt.wantSrc {
				t.Fatalf("loaded key %s from %q, want %s from %q", got.ID(), src, k.ID(), tt.wantSrc)
			}
		})
	}
}

func TestEnsureKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "master-key")
	k1, created, err := EnsureKeyFile(path)
	if err != nil || !created {
		t.Fatalf("first EnsureKeyFile = %v, created %v", err, created)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	k2, created, err := EnsureKeyFile(path)
	if err != nil || created || k2.ID() != k1.ID() {
		t.Fatalf("second EnsureKeyFile = %s, created %v, %v; want the same key", k2.ID(), created, err)
	}
	// A secret sealed before a restart opens after it.
	r1, r2 := mustRing(t, k1), mustRing(t, k2)
	env, err := r1.Seal(bind, []byte("survives restarts"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := r2.Open(bind, env); err != nil || string(pt) != "survives restarts" {
		t.Fatalf("after reload: %q, %v", pt, err)
	}
	// An unreadable existing file is an error, never replaced by a new key.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := EnsureKeyFile(path); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("EnsureKeyFile on a world-readable key = %v, want a mode error", err)
	}
}

func TestKeyID(t *testing.T) {
	t.Parallel()
	a, b := mustKey(t), mustKey(t)
	if a.ID() == b.ID() || len(a.ID()) != 16 {
		t.Fatalf("ids %q %q", a.ID(), b.ID())
	}
	again, err := ParseKey("test", a.Encode())
	if err != nil || again.ID() != a.ID() {
		t.Fatalf("ParseKey(Encode) = %s, %v", again.ID(), err)
	}
	if strings.Contains(a.Encode(), a.ID()) {
		t.Fatal("key id is part of the key text")
	}
}
