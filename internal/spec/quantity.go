package spec

import (
	"fmt"
	"math/big"
	"strings"
)

// Quantities use the Kubernetes notation so one spec works on both runtimes,
// but only the common forms: a plain decimal, "m" for CPU millicores, and
// binary (Ki..Ei) or decimal (k..E) suffixes for bytes. Exponents ("1e3")
// are not accepted: nobody writes them and they hide typos.

// MilliCPU returns the CPU limit in millicores ("500m" -> 500, "1" -> 1000,
// "0.5" -> 500), or 0 when no CPU limit is set.
func (r Resources) MilliCPU() (int64, error) {
	if r.CPU == "" {
		return 0, nil
	}
	return parseCPU(r.CPU)
}

// MemoryBytes returns the memory limit in bytes ("256Mi" -> 268435456), or 0
// when no memory limit is set.
func (r Resources) MemoryBytes() (int64, error) {
	if r.Memory == "" {
		return 0, nil
	}
	return parseBytes(r.Memory, "memory")
}

// SizeBytes returns the volume's requested size in bytes, or 0 when unset.
func (v Volume) SizeBytes() (int64, error) {
	if v.Size == "" {
		return 0, nil
	}
	return parseBytes(v.Size, "size")
}

// MaxBodyBytes returns the route's request body limit in bytes, or 0 when
// unset (the gateway's default).
func (r Route) MaxBodyBytes() (int64, error) {
	if r.MaxBody == "" {
		return 0, nil
	}
	return parseBytes(r.MaxBody, "size")
}

func parseCPU(s string) (int64, error) {
	bad := fmt.Errorf("%s is not a CPU quantity: expected cores like \"0.5\" or \"2\", or millicores like \"500m\"", quoteShort(s))
	num, milli := strings.CutSuffix(s, "m")
	r, ok := decimal(num)
	if !ok {
		return 0, bad
	}
	if !milli {
		r.Mul(r, big.NewRat(1000, 1))
	}
	if !r.IsInt() {
		return 0, fmt.Errorf("%s is finer than 1m (a thousandth of a core)", quoteShort(s))
	}
	return positive(r, s)
}

var byteUnits = map[string]int64{
	"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60,
	"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
}

func parseBytes(s, what string) (int64, error) {
	num, mult := s, int64(1)
	for suffix, m := range byteUnits {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			num, mult = n, m
			break
		}
	}
	r, ok := decimal(num)
	if !ok {
		hint := ""
		if n, ok := strings.CutSuffix(s, "B"); ok && n != "" {
			hint = fmt.Sprintf(" (did you mean %q or %q?)", n, n+"i")
			if strings.HasSuffix(n, "i") {
				hint = fmt.Sprintf(" (did you mean %q?)", n)
			}
		}
		return 0, fmt.Errorf("%s is not a %s quantity: expected bytes like \"1000000\", or a number with a suffix Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024) or k, M, G, T, P, E (powers of 1000), like \"256Mi\"%s", quoteShort(s), what, hint)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	// Round a fraction of a byte up, as Kubernetes does.
	if !r.IsInt() {
		q := new(big.Int).Quo(r.Num(), r.Denom())
		r.SetInt(q.Add(q, big.NewInt(1)))
	}
	return positive(r, s)
}

// decimal parses "12", "1.5" or ".5"; nothing else.
func decimal(s string) (*big.Rat, bool) {
	if s == "" || len(s) > 40 {
		return nil, false
	}
	dot, digits := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return nil, false
		}
	}
	if digits == 0 {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

func positive(r *big.Rat, s string) (int64, error) {
	if r.Sign() <= 0 {
		return 0, fmt.Errorf("%s must be greater than 0", quoteShort(s))
	}
	if !r.Num().IsInt64() {
		return 0, fmt.Errorf("%s is too large", quoteShort(s))
	}
	return r.Num().Int64(), nil
}
