package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
)

// TokenPrefix starts every token Berth issues, so a leaked one is easy to
// recognise (and to scan for).
const TokenPrefix = "berth_"

// AdminTokenFile is the name, in the data directory, of the file holding
// the first admin token.
const AdminTokenFile = "admin-token"

// HashToken is how tokens are kept: hex sha256 of the whole token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken returns a fresh random token: the prefix and 32 random bytes.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("api: random token: %w", err)
	}
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	return TokenPrefix + strings.ToLower(enc.EncodeToString(b)), nil
}

// EnsureAdminToken creates the first admin token when the store holds no
// token: it writes the token to <dataDir>/admin-token (mode 0600) and stores
// only its hash. It reports whether it created one.
func EnsureAdminToken(ctx context.Context, st store.Store, dataDir string, now time.Time, logger *slog.Logger) (bool, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tokens, err := st.ListTokens(ctx)
	if err != nil {
		return false, fmt.Errorf("api: list tokens: %w", err)
	}
	if len(tokens) > 0 {
		return false, nil
	}
	token, err := NewToken()
	if err != nil {
		return false, err
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return false, fmt.Errorf("api: random token id: %w", err)
	}
	path := filepath.Join(dataDir, AdminTokenFile)
	// The file is written before the hash is stored: if storing fails, the
	// next start finds no token and writes a new file; the other order could
	// keep a hash whose token nobody has.
	if err := writeFileAtomic(path, []byte(token+"\n"), 0o600); err != nil {
		return false, err
	}
	t := store.Token{ID: "tok_" + hex.EncodeToString(id), Name: "admin", Hash: HashToken(token), CreatedAt: now}
	if err := st.CreateToken(ctx, t); err != nil {
		return false, fmt.Errorf("api: store admin token: %w", err)
	}
	logger.Info("created the admin API token", "path", path, "token_id", t.ID)
	return true, nil
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and
// renames it over path, so readers see the old file or the whole new one.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("api: create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("api: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("api: write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("api: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("api: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("api: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("api: write %s: %w", path, err)
	}
	return nil
}

// requireToken lets a request through when it carries a known token.
func (s *server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			s.writeError(w, r, unauthorized())
			return
		}
		t, err := s.Store.GetTokenByHash(r.Context(), HashToken(token))
		if errors.Is(err, store.ErrNotFound) {
			s.loggerFrom(r.Context()).Warn("unknown API token", "path", r.URL.Path, "remote", r.RemoteAddr)
			s.writeError(w, r, unauthorized())
			return
		}
		if err != nil {
			s.writeError(w, r, fmt.Errorf("look up token: %w", err))
			return
		}
		logger := s.loggerFrom(r.Context()).With("token_id", t.ID)
		ctx := context.WithValue(r.Context(), ctxLogger, logger)
		// Until users and teams are stored, the one kind of token is the
		// operator's: a platform admin.
		ctx = withPrincipal(ctx, rbac.Principal{Subject: t.ID, PlatformAdmin: true})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// bearerToken extracts the token of "Bearer <token>" (scheme in any case).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
