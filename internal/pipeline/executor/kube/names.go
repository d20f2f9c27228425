package kube

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// dnsLabel turns s into a DNS label of at most n characters: lowercase
// letters, digits and '-'. A name that had to change gets a short hash of
// the original, so two run IDs never map to one name.
func dnsLabel(s string, n int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == s && len(out) <= n {
		return out
	}
	sum := sha256.Sum256([]byte(s))
	suffix := hex.EncodeToString(sum[:4])
	if len(out) > n-len(suffix)-1 {
		out = strings.TrimRight(out[:n-len(suffix)-1], "-")
	}
	if out == "" {
		return suffix
	}
	return out + "-" + suffix
}

// claimName is the run's workspace claim.
func claimName(runID string) string { return "berth-ws-" + dnsLabel(runID, 50) }

// podName is a fresh name for one attempt of a step: a retry never meets
// the pod of the attempt before it.
func podName(runID, step string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "berth-" + dnsLabel(runID+"-"+step, 45) + "-" + hex.EncodeToString(b[:])
}

// labelValue is s as a label value (at most 63 characters).
func labelValue(s string) string { return dnsLabel(s, 63) }
