package api

import (
	"sync"
	"testing"

	"github.com/berthdev/berth/internal/identity/password"
)

// Tests hash with cheap parameters: the real ones cost 64 MiB and 0.1 s
// each, and these tests make dozens. Login verifies whatever the PHC
// string says.
var (
	cheapMu     sync.Mutex
	cheapHashes = map[string]string{}
	cheapParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
)

func testPasswordHash(t *testing.T, pw string) string {
	t.Helper()
	cheapMu.Lock()
	defer cheapMu.Unlock()
	if h, ok := cheapHashes[pw]; ok {
		return h
	}
	h, err := password.Hash("password", pw, cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	cheapHashes[pw] = h
	return h
}
