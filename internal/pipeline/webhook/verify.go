package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// verify checks the request's signature or token over the raw body, in
// constant time.
func verify(forge Forge, secret []byte, h http.Header, body []byte) bool {
	switch forge {
	case GitHub:
		sig, ok := strings.CutPrefix(h.Get("X-Hub-Signature-256"), "sha256=")
		return ok && hmacOK(secret, body, sig)
	case Gitea:
		return hmacOK(secret, body, h.Get("X-Gitea-Signature"))
	case GitLab:
		// GitLab sends the secret itself. Comparing digests keeps the
		// comparison constant-time whatever the lengths.
		token := h.Get("X-Gitlab-Token")
		if token == "" {
			return false
		}
		a, b := sha256.Sum256([]byte(token)), sha256.Sum256(secret)
		return subtle.ConstantTimeCompare(a[:], b[:]) == 1
	}
	return false
}

// hmacOK reports whether sigHex is the hex HMAC-SHA256 of body under secret.
func hmacOK(secret, body []byte, sigHex string) bool {
	got, err := hex.DecodeString(strings.TrimSpace(sigHex))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// Sign returns the signature header a forge would send for body, for
// tests and for tools that replay deliveries by hand.
func Sign(forge Forge, secret, body []byte) (header, value string) {
	switch forge {
	case GitHub:
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		return "X-Hub-Signature-256", "sha256=" + hex.EncodeToString(mac.Sum(nil))
	case Gitea:
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		return "X-Gitea-Signature", hex.EncodeToString(mac.Sum(nil))
	default:
		return "X-Gitlab-Token", string(secret)
	}
}
