package auth

import (
	"context"
	"net/http"
	"strings"
)

// The headers the gateway forwards the verified identity in. Services may
// trust them only because the gateway removes any copy a client sent.
const (
	HeaderSubject = "X-Berth-Subject"
	HeaderAuth    = "X-Berth-Auth"
)

// Methods in HeaderAuth and Identity.Method.
const (
	MethodJWT    = "jwt"
	MethodAPIKey = "api_key"
)

// Identity is who a request was authenticated as.
type Identity struct {
	Subject string // the JWT's sub, or the subject an API key maps to
	Method  string // MethodJWT or MethodAPIKey
}

type ctxKey struct{}

// WithIdentity returns ctx carrying id. The auth middleware calls it; tests
// of later middlewares may too.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity the auth middleware verified for this
// request, if any.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

// SubjectFrom returns the verified subject, or "" when the request was not
// authenticated (the route has no auth policy).
func SubjectFrom(ctx context.Context) string {
	id, _ := FromContext(ctx)
	return id.Subject
}

// StripIdentityHeaders removes every client-sent copy of X-Berth-Subject
// and X-Berth-Auth from h, including spellings a backend might read as the
// same header (any case; '_' for '-', which CGI-style servers fold
// together). The auth middleware calls it on every request; the gateway
// core must call it for routes without an auth policy, or a client could
// claim any identity.
func StripIdentityHeaders(h http.Header) {
	h.Del(HeaderSubject)
	h.Del(HeaderAuth)
	for k := range h {
		if len(k) == len(HeaderSubject) || len(k) == len(HeaderAuth) {
			if isIdentityHeader(k) {
				delete(h, k)
			}
		}
	}
}

func isIdentityHeader(k string) bool {
	folded := strings.ReplaceAll(k, "_", "-")
	return strings.EqualFold(folded, HeaderSubject) || strings.EqualFold(folded, HeaderAuth)
}
