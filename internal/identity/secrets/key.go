// Package secrets encrypts secret values at rest with AES-256-GCM under a
// 32-byte master key, binds each ciphertext to its row, lets keys rotate,
// and builds the set of strings to mask in logs.
package secrets

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// EnvMasterKey is the environment variable that carries the master key as
// base64; it wins over the key file.
const EnvMasterKey = "BERTH_MASTER_KEY"

// KeySize is the master key's length: AES-256.
const KeySize = 32

// Key is a master key.
type Key struct {
	b  [KeySize]byte
	id string
}

func newKey(b []byte) Key {
	var k Key
	copy(k.b[:], b)
	// The ID is a fingerprint, not the key: the first 8 bytes of a
	// domain-separated sha256. It names the key in envelopes so the right
	// one is picked after a rotation, without an operator naming keys.
	sum := sha256.Sum256(append([]byte("berth-master-key-id\x00"), b...))
	k.id = hex.EncodeToString(sum[:8])
	return k
}

// ID is the key's fingerprint, as written into envelopes.
func (k Key) ID() string { return k.id }

// GenerateKey returns a fresh random master key.
func GenerateKey() (Key, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return Key{}, fmt.Errorf("secrets: random key: %w", err)
	}
	return newKey(b), nil
}

// Encode is the key as base64 text, the form EnvMasterKey and key files
// hold.
func (k Key) Encode() string { return base64.StdEncoding.EncodeToString(k.b[:]) }

// ParseKey reads a base64 key (standard or URL alphabet, padded or not);
// source names where it came from in the error.
func ParseKey(source, text string) (Key, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Key{}, fmt.Errorf("%s: %w: empty; want %d bytes in base64 (e.g. `head -c %d /dev/urandom | base64`)", source, ErrKey, KeySize, KeySize)
	}
	var b []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err = enc.DecodeString(text); err == nil {
			break
		}
	}
	if err != nil {
		return Key{}, fmt.Errorf("%s: %w: not valid base64 (%w)", source, ErrKey, err)
	}
	if len(b) != KeySize {
		return Key{}, fmt.Errorf("%s: %w: decodes to %d bytes, want %d", source, ErrKey, len(b), KeySize)
	}
	return newKey(b), nil
}

// LoadMasterKey returns the master key from EnvMasterKey when lookupEnv
// finds it set, else from the file at path (base64 text, or exactly 32 raw
// bytes). It also says where the key came from, for the server's log. The
// file must not be readable by group or others.
func LoadMasterKey(path string, lookupEnv func(string) (string, bool)) (Key, string, error) {
	if lookupEnv != nil {
		if v, ok := lookupEnv(EnvMasterKey); ok {
			k, err := ParseKey(EnvMasterKey, v)
			return k, EnvMasterKey, err
		}
	}
	if path == "" {
		return Key{}, "", fmt.Errorf("%w: set %s or a master key file", ErrKey, EnvMasterKey)
	}
	k, err := readKeyFile(path)
	return k, path, err
}

func readKeyFile(path string) (Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Key{}, fmt.Errorf("master key file %s: %w: %w", path, ErrKey, err)
	}
	if !fi.Mode().IsRegular() {
		return Key{}, fmt.Errorf("master key file %s: %w: not a regular file", path, ErrKey)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return Key{}, fmt.Errorf("master key file %s: %w: mode %04o lets group or others read it; run chmod 600 %s", path, ErrKey, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("master key file %s: %w: %w", path, ErrKey, err)
	}
	// 32 raw bytes are never valid base64 text of 32 bytes (that is 43+
	// characters), so the two forms cannot be confused.
	if len(b) == KeySize {
		return newKey(b), nil
	}
	return ParseKey("master key file "+path, string(b))
}

// EnsureKeyFile loads the key file at path, or, when there is none,
// creates it (mode 0600) with a fresh key. It reports whether it created
// one, so the server can tell the operator to back it up: without the key
// no secret can be read again.
func EnsureKeyFile(path string) (Key, bool, error) {
	k, err := readKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	k, err = GenerateKey()
	if err != nil {
		return Key{}, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return Key{}, false, fmt.Errorf("master key file %s: %w", path, err)
	}
	// O_EXCL: if two servers race on one data directory, one of them
	// fails here instead of both writing different keys.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Key{}, false, fmt.Errorf("master key file %s: %w", path, err)
	}
	if _, err := f.WriteString(k.Encode() + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return Key{}, false, fmt.Errorf("master key file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return Key{}, false, fmt.Errorf("master key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return Key{}, false, fmt.Errorf("master key file %s: %w", path, err)
	}
	return k, true, nil
}
