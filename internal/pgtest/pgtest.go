package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// EnvURL names a server to use instead of finding or starting one.
	EnvURL = "BERTH_TEST_POSTGRES_URL"
	// localURL is the server the development machines run.
	localURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	// connectTimeout bounds the probe of a server that may not be there.
	connectTimeout = 3 * time.Second
	// howTo says what to do when there is no server.
	howTo = "set " + EnvURL + " to a server's URL, run one on 127.0.0.1:5432 (trust, user postgres), " +
		"or install Debian's postgresql package (`make postgres-testenv`, or apt-get install postgresql) so tests can start their own"
)

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error
)

// ServerURL returns the URL of a server tests may create databases on
// (its maintenance database), finding or starting it on first use. Without
// one it skips t, or fails t under CI.
func ServerURL(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() { serverURL, serverErr = findServer(context.Background()) })
	if serverErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v; CI must run against PostgreSQL: %s", serverErr, howTo)
		}
		t.Skipf("%v; %s", serverErr, howTo)
	}
	return serverURL
}

// URL returns the URL of a new, empty database made for t, dropped (with
// any connections still open to it) when t ends.
func URL(t testing.TB) string {
	t.Helper()
	admin := ServerURL(t)
	name := dbName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := adminExec(ctx, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := adminExec(ctx, admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := withDatabase(admin, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Main runs the tests and then stops the private server, if one was
// started. Call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	stopPrivate()
	return code
}

// findServer tries the configured URL, then the local server, then starts
// a private one.
func findServer(ctx context.Context) (string, error) {
	if u := os.Getenv(EnvURL); u != "" {
		if err := ping(ctx, u); err != nil {
			return "", fmt.Errorf("%w: %s=%s does not answer: %w", ErrNoServer, EnvURL, redact(u), err)
		}
		return u, nil
	}
	if err := ping(ctx, localURL); err == nil {
		return localURL, nil
	}
	u, err := startPrivate(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: none on 127.0.0.1:5432, and starting one failed: %w", ErrNoServer, err)
	}
	return u, nil
}

func ping(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	return conn.Ping(ctx)
}

// Exec runs one statement on the database at u, behind the back of any
// store open on it (tests age or damage rows that way), failing t on error.
func Exec(t testing.TB, u, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

func adminExec(ctx context.Context, u, sql string) error {
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	_, err = conn.Exec(ctx, sql)
	return err
}

// dbName is unique per call: the test's name for whoever reads the
// server's log, made safe and short, and random bits so that parallel
// tests and test binaries sharing a server never collide.
func dbName(t testing.TB) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	name := b.String()
	if len(name) > 30 {
		name = name[:30]
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return "berth_test_" + name + "_" + hex.EncodeToString(rnd[:])
}

// withDatabase returns server URL u with its database set to name.
func withDatabase(u, name string) (string, error) {
	cfg, err := url.Parse(u)
	if err != nil || (cfg.Scheme != "postgres" && cfg.Scheme != "postgresql") {
		return "", fmt.Errorf("pgtest: %s must be a postgres:// URL, got %q", EnvURL, redact(u))
	}
	cfg.Path = "/" + name
	return cfg.String(), nil
}

// redact hides a password in u for messages.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}
