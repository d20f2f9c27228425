package password

import "fmt"

// Params are argon2id's cost parameters. They are written into every hash
// string, so a hash stays verifiable after the defaults change, and
// NeedsRehash can tell which hashes were made with weaker ones.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over memory
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams: 64 MiB, one pass, two lanes. That is above OWASP's
// argon2id floor (46 MiB with one pass) and takes about 0.1 s on the
// reference machine (2 cores) — RFC 9106's three passes over 64 MiB took
// about 0.5 s there, too slow for a login path. Login attempts are
// throttled (package loginlimit), which also bounds the memory spent at
// once.
var DefaultParams = Params{Memory: 64 * 1024, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}

// Limits on what a stored string may ask for: a corrupt or hostile row must
// not make Verify allocate gigabytes or spin for minutes.
const (
	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxTime    = 64
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
)

// Validate reports the first parameter outside the accepted range, naming
// it.
func (p Params) Validate() error {
	switch {
	case p.Threads < 1:
		return fmt.Errorf("params.threads: must be at least 1, got %d", p.Threads)
	case p.Memory < 8*uint32(p.Threads):
		return fmt.Errorf("params.memory: must be at least 8 KiB per thread (%d KiB), got %d", 8*uint32(p.Threads), p.Memory)
	case p.Memory > maxMemory:
		return fmt.Errorf("params.memory: must be at most %d KiB, got %d", maxMemory, p.Memory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("params.time: must be between 1 and %d, got %d", maxTime, p.Time)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("params.salt_len: must be between %d and %d bytes, got %d", minSaltLen, maxSaltLen, p.SaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("params.key_len: must be between %d and %d bytes, got %d", minKeyLen, maxKeyLen, p.KeyLen)
	}
	return nil
}
