package password

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// b64 is the PHC string format's base64: standard alphabet, no padding.
var b64 = base64.RawStdEncoding.Strict()

// encoded is a parsed "$argon2id$v=19$m=...,t=...,p=...$salt$hash" string.
type encoded struct {
	params Params
	salt   []byte
	key    []byte
}

func (e encoded) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, e.params.Memory, e.params.Time, e.params.Threads,
		b64.EncodeToString(e.salt), b64.EncodeToString(e.key))
}

// parse reads a PHC string strictly: one algorithm, one version, the three
// parameters in the canonical order, and sizes inside Validate's limits.
func parse(s string) (encoded, error) {
	fields := strings.Split(s, "$")
	// "" / argon2id / v=19 / m=..,t=..,p=.. / salt / hash
	if len(fields) != 6 || fields[0] != "" {
		return encoded{}, fmt.Errorf("%w: want $argon2id$v=19$m=,t=,p=$salt$hash", ErrMalformedHash)
	}
	if fields[1] != "argon2id" {
		return encoded{}, fmt.Errorf("%w: algorithm %q, want argon2id", ErrMalformedHash, fields[1])
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return encoded{}, fmt.Errorf("%w: version %q, want v=%d", ErrMalformedHash, fields[2], argon2.Version)
	}
	var e encoded
	var m, t, p uint64
	parts := strings.Split(fields[3], ",")
	if len(parts) != 3 {
		return encoded{}, fmt.Errorf("%w: parameters %q, want m=,t=,p=", ErrMalformedHash, fields[3])
	}
	for i, want := range []struct {
		name string
		dst  *uint64
		bits int
	}{{"m", &m, 32}, {"t", &t, 32}, {"p", &p, 8}} {
		name, val, ok := strings.Cut(parts[i], "=")
		if !ok || name != want.name {
			return encoded{}, fmt.Errorf("%w: parameter %d is %q, want %s=<n>", ErrMalformedHash, i+1, parts[i], want.name)
		}
		n, err := strconv.ParseUint(val, 10, want.bits)
		if err != nil {
			return encoded{}, fmt.Errorf("%w: parameter %s: %w", ErrMalformedHash, want.name, err)
		}
		*want.dst = n
	}
	salt, err := b64.DecodeString(fields[4])
	if err != nil {
		return encoded{}, fmt.Errorf("%w: salt: %w", ErrMalformedHash, err)
	}
	key, err := b64.DecodeString(fields[5])
	if err != nil {
		return encoded{}, fmt.Errorf("%w: hash: %w", ErrMalformedHash, err)
	}
	e.params = Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(p), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if err := e.params.Validate(); err != nil {
		return encoded{}, fmt.Errorf("%w: %w", ErrMalformedHash, err)
	}
	e.salt, e.key = salt, key
	// One string per hash: leading zeros ("m=065536") and the like are
	// refused, so a stored value can be compared and re-encoded safely.
	if e.String() != s {
		return encoded{}, fmt.Errorf("%w: not in canonical form", ErrMalformedHash)
	}
	return e, nil
}
