package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/identity/token"
	"github.com/berthdev/berth/internal/store"
)

// DefaultTeam is the team created at first start; apps from before teams
// existed are moved into it.
const DefaultTeam = "default"

// AdminEmail is the bootstrap platform admin's account.
const AdminEmail = "admin@localhost"

// newID returns prefix_ and 16 random hex digits: the IDs the API gives
// the objects it creates (the store never invents them).
func newID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return prefix + "_" + hex.EncodeToString(b)
}

// EnsureAdminToken brings a data directory up to the identity model and
// reports whether it created the admin token:
//
//   - a "default" team exists, and owns every app that had no team;
//   - when the store holds no token at all, a platform-admin user
//     (admin@localhost, no password) gets a personal admin-scope token,
//     written to <dataDir>/admin-token (mode 0600); only its hash is stored.
//
// An admin token of the old shape (berth_<52 chars>) keeps working: it is
// stored without a kind and acts as a platform admin.
func EnsureAdminToken(ctx context.Context, st store.Store, dataDir string, now time.Time, logger *slog.Logger) (bool, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := ensureDefaultTeam(ctx, st, now, logger); err != nil {
		return false, err
	}
	tokens, err := st.ListTokens(ctx)
	if err != nil {
		return false, fmt.Errorf("api: list tokens: %w", err)
	}
	if len(tokens) > 0 {
		return false, nil
	}
	tok, stored, err := token.New(token.KindPersonal, rbac.ScopeAdmin, now, 0)
	if err != nil {
		return false, fmt.Errorf("api: admin token: %w", err)
	}
	path := filepath.Join(dataDir, AdminTokenFile)
	// The file is written before the hash is stored: if storing fails, the
	// next start finds no token and writes a new file; the other order could
	// keep a hash whose token nobody has.
	if err := writeFileAtomic(path, []byte(tok+"\n"), 0o600); err != nil {
		return false, err
	}
	var t store.Token
	err = st.InTx(ctx, func(tx store.Tx) error {
		admin, err := tx.GetUserByEmail(ctx, AdminEmail)
		if errors.Is(err, store.ErrNotFound) {
			admin = store.User{ID: newID("user"), Email: AdminEmail, Name: "Platform admin", PlatformAdmin: true, CreatedAt: now, UpdatedAt: now}
			err = tx.CreateUser(ctx, admin)
		}
		if err != nil {
			return fmt.Errorf("admin user: %w", err)
		}
		t = store.Token{ID: newID("tok"), Name: "admin", Hash: stored.Hash, Kind: string(token.KindPersonal), User: admin.ID,
			Scope: string(stored.Scope), Last4: stored.Last4, CreatedAt: now}
		return tx.CreateToken(ctx, t)
	})
	if err != nil {
		return false, fmt.Errorf("api: store admin token: %w", err)
	}
	logger.Info("created the admin API token", "path", path, "token_id", t.ID)
	return true, nil
}

// ensureDefaultTeam creates the default team once and gives it the apps
// without a team (the ones from before teams existed).
func ensureDefaultTeam(ctx context.Context, st store.Store, now time.Time, logger *slog.Logger) error {
	return st.InTx(ctx, func(tx store.Tx) error {
		team, err := tx.GetTeamByName(ctx, DefaultTeam)
		if errors.Is(err, store.ErrNotFound) {
			team = store.Team{ID: newID("team"), Name: DefaultTeam, CreatedAt: now}
			if err := tx.CreateTeam(ctx, team); err != nil {
				return fmt.Errorf("api: create the default team: %w", err)
			}
			logger.Info("created the default team", "team_id", team.ID)
		} else if err != nil {
			return fmt.Errorf("api: default team: %w", err)
		}
		apps, err := tx.ListApps(ctx)
		if err != nil {
			return fmt.Errorf("api: list apps: %w", err)
		}
		for _, a := range apps {
			if a.Team != "" {
				continue
			}
			a.Team = team.ID
			if _, err := tx.UpdateApp(ctx, a); err != nil {
				return fmt.Errorf("api: move app %s to the default team: %w", a.Name, err)
			}
			logger.Info("app moved to the default team", "app", a.Name)
		}
		return nil
	})
}
