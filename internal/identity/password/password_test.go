package password

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// fast keeps tests quick; the defaults are exercised once in
// TestDefaultParams.
var fast = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashVerify(t *testing.T) {
	t.Parallel()
	h, err := Hash("password", "correct horse battery", fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q: want PHC argon2id prefix", h)
	}
	ok, err := Verify("correct horse battery", h)
	if err != nil || !ok {
		t.Fatalf("Verify(right) = %v, %v; want true, nil", ok, err)
	}
	for _, wrong := range []string{"correct horse batterY", "", "correct horse battery ", strings.Repeat("x", 5000)} {
		ok, err := Verify(wrong, h)
		if err != nil || ok {
			t.Fatalf("Verify(%.20q) = %v, %v; want false, nil", wrong, ok, err)
		}
	}
}

func TestSaltIsPerHash(t *testing.T) {
	t.Parallel()
	a, err := Hash("password", "same password here", fast)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Hash("password", "same password here", fast)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
	ea, _ := parse(a)
	eb, _ := parse(b)
	if string(ea.salt) == string(eb.salt) {
		t.Fatal("salts are equal")
	}
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		pw      string
		wantErr error
		wantMsg string
	}{
		{desc: "too short", pw: "short", wantErr: ErrTooShort, wantMsg: "new_password: too short: must be at least 12 characters, got 5"},
		{desc: "eleven", pw: "abcdefghijk", wantErr: ErrTooShort},
		{desc: "twelve", pw: "abcdefghijkl"},
		// 12 characters but 36 bytes: length counts characters.
		{desc: "multibyte", pw: strings.Repeat("密", 12)},
		{desc: "multibyte short", pw: strings.Repeat("密", 11), wantErr: ErrTooShort},
		{desc: "too long", pw: strings.Repeat("a", MaxLength+1), wantErr: ErrTooLong},
		{desc: "bad utf8", pw: "abcdefghijkl\xff", wantErr: ErrInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			err := CheckPolicy("new_password", tt.pw)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("CheckPolicy = %v, want %v", err, tt.wantErr)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Fatalf("message %q, want %q", err, tt.wantMsg)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "new_password: ") {
				t.Fatalf("message %q does not name the field", err)
			}
			if _, herr := Hash("new_password", tt.pw, fast); !errors.Is(herr, tt.wantErr) || (err == nil) != (herr == nil) {
				t.Fatalf("Hash = %v, want the policy error %v", herr, err)
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	t.Parallel()
	h, err := Hash("password", "correct horse battery", fast)
	if err != nil {
		t.Fatal(err)
	}
	stronger := fast
	stronger.Time = 2
	longerKey := fast
	longerKey.KeyLen = 64
	tests := []struct {
		desc   string
		stored string
		p      Params
		want   bool
	}{
		{desc: "same params", stored: h, p: fast, want: false},
		{desc: "more passes wanted", stored: h, p: stronger, want: true},
		{desc: "longer key wanted", stored: h, p: longerKey, want: true},
		{desc: "defaults", stored: h, p: DefaultParams, want: true},
		{desc: "unreadable", stored: "$2a$10$bcrypt", p: fast, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			if got := NeedsRehash(tt.stored, tt.p); got != tt.want {
				t.Fatalf("NeedsRehash = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	good, err := Hash("password", "correct horse battery", fast)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(good, "$")
	salt, key := f[4], f[5]
	tests := []struct{ desc, stored string }{
		{desc: "empty", stored: ""},
		{desc: "bcrypt", stored: "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{desc: "argon2i", stored: "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{desc: "old version", stored: "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{desc: "param order", stored: "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key},
		{desc: "huge memory", stored: "$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key},
		{desc: "zero threads", stored: "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{desc: "bad salt", stored: "$argon2id$v=19$m=64,t=1,p=1$!!!$" + key},
		{desc: "short key", stored: "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA"},
		{desc: "padded base64", stored: "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key},
		{desc: "extra field", stored: good + "$x"},
		{desc: "leading zero", stored: "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key},
		{desc: "non-canonical base64", stored: "$argon2id$v=19$m=10,t=1,p=1$00000000000$0000000000000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			ok, err := Verify("correct horse battery", tt.stored)
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Verify = %v, %v; want false, ErrMalformedHash", ok, err)
			}
		})
	}
}

func TestInvalidParams(t *testing.T) {
	t.Parallel()
	bad := fast
	bad.SaltLen = 4
	_, err := Hash("password", "correct horse battery", bad)
	if err == nil || !strings.Contains(err.Error(), "params.salt_len") {
		t.Fatalf("Hash with a 4-byte salt: %v, want an error naming params.salt_len", err)
	}
}

func TestDefaultParams(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes with 64 MiB")
	}
	start := time.Now()
	h, err := Hash("password", "correct horse battery", DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if NeedsRehash(h, DefaultParams) {
		t.Fatal("fresh default hash needs a rehash")
	}
	ok, err := Verify("correct horse battery", h)
	if !ok || err != nil {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	t.Logf("one default hash took %v", took)
}
