package token

import (
	"encoding/base32"
	"fmt"
	"hash/crc32"
	"strings"
)

// Kind says who a token acts for.
type Kind string

// The kinds. The prefix is in the token itself so a leaked token says what
// it is (and secret scanners can find it).
const (
	// KindPersonal acts as the user who made it, across that user's teams.
	KindPersonal Kind = "pat"
	// KindTeam belongs to one team, not to a person: it survives its
	// creator leaving (CI, deploy bots).
	KindTeam Kind = "tt"
	// KindGateway is the token of the gateway Berth runs in an
	// environment's cluster: it reads that environment's route feed and
	// nothing else. Only the server makes them (never the tokens API).
	KindGateway Kind = "gw"
)

// Prefixes of the two kinds.
const (
	PersonalPrefix = "berth_pat_"
	TeamPrefix     = "berth_tt_"
	GatewayPrefix  = "berth_gw_"
)

const (
	randomBytes = 32
	// randomChars is base32 of 32 bytes without padding.
	randomChars = (randomBytes*8 + 4) / 5 // 52
	// checksumChars is base32 of a 4-byte CRC-32 without padding.
	checksumChars = 7
)

// enc is RFC 4648 base32 in lower case without padding: safe in URLs,
// headers and shells without quoting, and readable aloud.
var enc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Prefix is the kind's token prefix; "" for an unknown kind.
func (k Kind) Prefix() string {
	switch k {
	case KindPersonal:
		return PersonalPrefix
	case KindTeam:
		return TeamPrefix
	case KindGateway:
		return GatewayPrefix
	}
	return ""
}

// ParseKind checks a kind from input.
func ParseKind(field, s string) (Kind, error) {
	k := Kind(s)
	if k != KindPersonal && k != KindTeam { // gateway tokens are the server's own
		return "", fmt.Errorf("%s: %w kind %q: want %q or %q", field, ErrInvalid, s, KindPersonal, KindTeam)
	}
	return k, nil
}

// checksum is CRC-32 (IEEE) over prefix and random part. It is not a
// security measure (anyone can compute it); it lets the CLI and the server
// tell a mistyped or truncated token from a wrong one without a lookup.
func checksum(prefixAndRandom string) string {
	sum := crc32.ChecksumIEEE([]byte(prefixAndRandom))
	b := []byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)}
	return enc.EncodeToString(b)
}

// Parse checks that s has a known prefix, the exact length, only the
// token alphabet, and a correct checksum, and returns its kind. It does no
// hashing and no lookup, so it is cheap to run on every request first.
func Parse(s string) (Kind, error) {
	var kind Kind
	var rest string
	switch {
	case strings.HasPrefix(s, PersonalPrefix):
		kind, rest = KindPersonal, s[len(PersonalPrefix):]
	case strings.HasPrefix(s, TeamPrefix):
		kind, rest = KindTeam, s[len(TeamPrefix):]
	case strings.HasPrefix(s, GatewayPrefix):
		kind, rest = KindGateway, s[len(GatewayPrefix):]
	default:
		return "", fmt.Errorf("%w: want a token starting %q or %q", ErrMalformed, PersonalPrefix, TeamPrefix)
	}
	if len(rest) != randomChars+checksumChars {
		return "", fmt.Errorf("%w: %d characters after the prefix, want %d", ErrMalformed, len(rest), randomChars+checksumChars)
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return "", fmt.Errorf("%w: character %d is %q, want a-z or 2-7", ErrMalformed, len(kind.Prefix())+i+1, c)
		}
	}
	body, sum := s[:len(s)-checksumChars], rest[randomChars:]
	// The last random character carries 4 padding bits (52*5 = 260 bits
	// for 256): a token whose padding bits are set was not made by us.
	if raw, err := enc.DecodeString(rest[:randomChars]); err != nil || enc.EncodeToString(raw) != rest[:randomChars] {
		return "", fmt.Errorf("%w: random part is not canonical base32", ErrMalformed)
	}
	if checksum(body) != sum {
		return "", fmt.Errorf("%w: checksum does not match (mistyped or truncated?)", ErrMalformed)
	}
	return kind, nil
}
