package secretstore_test

import (
	"fmt"
	"testing"
)

// BenchmarkValues is what the reconciler pays per pass to mask an app's
// secrets: two indexed reads and one decryption per secret.
func BenchmarkValues(b *testing.B) {
	f := newFixture(b)
	f.app(b, "shop", "team_a")
	for i := range 10 {
		f.set(b, "team_a", "shop", fmt.Sprintf("S%d", i), fmt.Sprintf("value-%d-%s", i, canary))
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.ss.Values(b.Context(), "shop"); err != nil {
			b.Fatal(err)
		}
	}
}
