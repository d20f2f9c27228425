package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func mustKey(t *testing.T) Key {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustRing(t *testing.T, primary Key, older ...Key) *Keyring {
	t.Helper()
	r, err := NewKeyring(primary, older...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var bind = Binding{Team: "team_1", Object: "app/shop", Name: "DB_PASSWORD"}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	ring := mustRing(t, mustKey(t))
	for _, pt := range [][]byte{[]byte("hunter2hunter2"), {}, bytes.Repeat([]byte{0, 1, 2, 0xff}, 4096)} {
		env, err := ring.Seal(bind, pt)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(env, "bsec1:"+ring.PrimaryID()+":") {
			t.Fatalf("envelope %.40q: want bsec1:<key id>: prefix", env)
		}
		if len(pt) > 4 && strings.Contains(env, string(pt[:5])) {
			t.Fatal("plaintext visible in envelope")
		}
		got, err := ring.Open(bind, env)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("round trip: got %d bytes, want %d", len(got), len(pt))
		}
	}
}

// TestWrongBindingFails: an envelope moved to another row does not open.
func TestWrongBindingFails(t *testing.T) {
	t.Parallel()
	ring := mustRing(t, mustKey(t))
	env, err := ring.Seal(bind, []byte("hunter2hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc string
		b    Binding
	}{
		{desc: "other team", b: Binding{Team: "team_2", Object: bind.Object, Name: bind.Name}},
		{desc: "other object", b: Binding{Team: bind.Team, Object: "app/blog", Name: bind.Name}},
		{desc: "other name", b: Binding{Team: bind.Team, Object: bind.Object, Name: "API_KEY"}},
		// Shifting a boundary between fields is a different binding.
		{desc: "shifted boundary", b: Binding{Team: "team_1a", Object: "pp/shop", Name: bind.Name}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			if _, err := ring.Open(tt.b, env); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("Open = %v, want ErrDecrypt", err)
			}
		})
	}
	if _, err := ring.Seal(Binding{Team: "t", Object: "o"}, []byte("x")); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "binding.name") {
		t.Fatalf("Seal without a name: %v", err)
	}
}

// TestTamperedFails flips one bit in every byte of the sealed data (nonce,
// ciphertext and tag) in turn.
func TestTamperedFails(t *testing.T) {
	t.Parallel()
	key := mustKey(t)
	ring := mustRing(t, key)
	env, err := ring.Seal(bind, []byte("hunter2hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(env, ":")
	raw, err := b64.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x01
		tampered := parts[0] + ":" + parts[1] + ":" + b64.EncodeToString(bad)
		if _, err := ring.Open(bind, tampered); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("bit flip in byte %d: Open = %v, want ErrDecrypt", i, err)
		}
	}
	// Truncated data, an envelope relabelled with another loaded key, and
	// garbage.
	other := mustKey(t)
	ring2 := mustRing(t, key, other)
	relabelled := parts[0] + ":" + other.ID() + ":" + parts[2]
	tests := []struct {
		desc string
		env  string
		want error
	}{
		{desc: "truncated", env: parts[0] + ":" + parts[1] + ":" + b64.EncodeToString(raw[:len(raw)-1]), want: ErrDecrypt},
		{desc: "too short", env: parts[0] + ":" + parts[1] + ":" + b64.EncodeToString(raw[:10]), want: ErrMalformed},
		{desc: "relabelled key id", env: relabelled, want: ErrDecrypt},
		{desc: "unknown key id", env: parts[0] + ":0123456789abcdef:" + parts[2], want: ErrUnknownKey},
		{desc: "other version", env: "bsec2:" + parts[1] + ":" + parts[2], want: ErrMalformed},
		{desc: "not base64", env: parts[0] + ":" + parts[1] + ":***", want: ErrMalformed},
		{desc: "plain text", env: "hunter2", want: ErrMalformed},
	}
	for _, tt := range tests {
		if _, err := ring2.Open(bind, tt.env); !errors.Is(err, tt.want) {
			t.Errorf("%s: Open = %v, want %v", tt.desc, err, tt.want)
		}
	}
}

func TestNonceUniqueness(t *testing.T) {
	t.Parallel()
	ring := mustRing(t, mustKey(t))
	const n = 50000
	seen := make(map[string]struct{}, n)
	for i := 0; i < n; i++ {
		env, err := ring.Seal(bind, []byte("same value every time"))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := b64.DecodeString(strings.Split(env, ":")[2])
		if err != nil {
			t.Fatal(err)
		}
		nonce := string(raw[:12])
		if _, dup := seen[nonce]; dup {
			t.Fatalf("nonce repeated after %d seals", i)
		}
		seen[nonce] = struct{}{}
	}
}

func TestRotate(t *testing.T) {
	t.Parallel()
	oldKey, newKey := mustKey(t), mustKey(t)
	oldRing := mustRing(t, oldKey)
	var items []Sealed
	want := map[Binding]string{}
	for i := 0; i < 40; i++ {
		b := Binding{Team: fmt.Sprintf("team_%d", i%3), Object: fmt.Sprintf("app/%d", i%5), Name: fmt.Sprintf("S_%d", i)}
		v := fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", i))
		env, err := oldRing.Seal(b, []byte(v))
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, Sealed{Binding: b, Envelope: env})
		want[b] = v
	}
	rotated, err := Rotate(oldRing, newKey, items)
	if err != nil {
		t.Fatal(err)
	}
	newRing := mustRing(t, newKey) // the old key retired
	for i, it := range rotated {
		if it.Binding != items[i].Binding {
			t.Fatalf("item %d binding changed", i)
		}
		if id, _ := KeyID(it.Envelope); id != newKey.ID() || newRing.NeedsRotation(it.Envelope) {
			t.Fatalf("item %d still sealed with %s", i, id)
		}
		got, err := newRing.Open(it.Binding, it.Envelope)
		if err != nil || string(got) != want[it.Binding] {
			t.Fatalf("item %d after rotation: %q, %v", i, got, err)
		}
		// The old ring alone cannot read the rotated secret.
		if _, err := oldRing.Open(it.Binding, it.Envelope); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("old ring opened a rotated item: %v", err)
		}
	}
	// A rotation cut short: half rotated, the rest not; run again with a
	// ring holding both keys.
	mixed := append(append([]Sealed{}, rotated[:20]...), items[20:]...)
	both := mustRing(t, newKey, oldKey)
	again, err := Rotate(both, newKey, mixed)
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range again {
		if i < 20 && it.Envelope != rotated[i].Envelope {
			t.Fatalf("item %d already rotated was sealed again", i)
		}
		if got, err := newRing.Open(it.Binding, it.Envelope); err != nil || string(got) != want[it.Binding] {
			t.Fatalf("item %d after resumed rotation: %q, %v", i, got, err)
		}
	}
	// A ring without the key an item needs: nothing is returned.
	stranger := mustRing(t, mustKey(t))
	if out, err := Rotate(stranger, newKey, items); !errors.Is(err, ErrUnknownKey) || out != nil {
		t.Fatalf("Rotate with the wrong ring = %d items, %v", len(out), err)
	}
	// One corrupt item fails the whole rotation.
	bad := append([]Sealed{}, items...)
	bad[7].Binding.Name = "MOVED"
	if out, err := Rotate(oldRing, newKey, bad); !errors.Is(err, ErrDecrypt) || out != nil || !strings.Contains(err.Error(), "item 7") {
		t.Fatalf("Rotate with a moved item = %d items, %v", len(out), err)
	}
}

func TestZeroKeyRefused(t *testing.T) {
	t.Parallel()
	if _, err := NewKeyring(Key{}); !errors.Is(err, ErrKey) {
		t.Fatalf("NewKeyring(Key{}) = %v, want ErrKey", err)
	}
}
