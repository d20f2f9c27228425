package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berthdev/berth/pkg/api"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// TestCanaryValuesNeverLeak: a password and a token, used in every way a
// client uses them (and misused), appear nowhere but in the one answer
// that creates the token: not in the SQLite file, its WAL, the server's
// logs (at debug level) or any other answer.
func TestCanaryValuesNeverLeak(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	ts := newTestServer(t, func(d *Deps) {
		d.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	const pw = "Canary-Password-7f3a91-do-not-leak"
	var answers [][]byte
	record := func(status int, b []byte) { answers = append(answers, b) }
	team := ts.createTeam(t, "shop")

	var u api.User
	status, b := ts.call(t, http.MethodPost, "/api/v1/users", api.CreateUserRequest{Email: "ann@example.com", Password: pw})
	record(status, b)
	if status != http.StatusCreated {
		t.Fatalf("create user: %d %s", status, b)
	}
	mustJSON(t, b, &u)
	ts.mustCall(t, http.StatusOK, http.MethodPut, "/api/v1/teams/"+team.ID+"/members/"+u.ID, api.SetRoleRequest{Role: "developer"}, nil)

	resp := ts.do(t, http.MethodPost, "/api/v1/auth/login", api.LoginRequest{Email: u.Email, Password: pw}, nil)
	b = readAll(t, resp)
	resp.Body.Close()
	record(resp.StatusCode, b)
	var lr api.LoginResponse
	mustJSON(t, b, &lr)
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			cookie = SessionCookie + "=" + c.Value
		}
	}
	session := map[string]string{"Cookie": cookie, CSRFHeader: lr.CSRFToken}
	r := ts.do(t, http.MethodPost, "/api/v1/tokens", api.CreateTokenRequest{Name: "ci", Scope: "deploy"}, session)
	created := readAll(t, r)
	r.Body.Close()
	var tok api.Token
	mustJSON(t, created, &tok)
	if tok.Token == "" {
		t.Fatalf("no token in %s", created)
	}
	for _, call := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/whoami"}, {http.MethodGet, "/api/v1/tokens"}, {http.MethodGet, "/api/v1/apps"},
		{http.MethodGet, "/api/v1/audit"}, {http.MethodGet, "/api/v1/teams/shop/members"},
	} {
		record(ts.callAs(t, tok.Token, call.method, call.path, nil))
	}
	record(ts.callAs(t, tok.Token, http.MethodPost, "/api/v1/apply", api.ApplyRequest{Spec: specV1}))
	// Misuse: the password as a token, a wrong password, the token as a
	// password, the token revoked and used again.
	record(ts.callAs(t, pw, http.MethodGet, "/api/v1/apps", nil))
	for _, p := range []string{pw + "x", tok.Token} {
		r := ts.do(t, http.MethodPost, "/api/v1/auth/login", api.LoginRequest{Email: u.Email, Password: p}, nil)
		record(r.StatusCode, readAll(t, r))
		r.Body.Close()
	}
	record(ts.call(t, http.MethodGet, "/api/v1/audit", nil))
	record(ts.call(t, http.MethodGet, "/api/v1/users", nil))
	record(ts.callAs(t, tok.Token, http.MethodDelete, "/api/v1/tokens/"+tok.ID, nil))
	record(ts.callAs(t, tok.Token, http.MethodGet, "/api/v1/apps", nil))

	db, err := os.ReadFile(filepath.Join(ts.dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	wal, err := os.ReadFile(filepath.Join(ts.dir, "berth.db-wal"))
	if err != nil {
		t.Fatal(err)
	}
	if len(wal) == 0 {
		t.Fatal("the WAL is empty: the test would not look at recent writes")
	}
	places := map[string][]byte{"berth.db": db, "berth.db-wal": wal, "server log": logs.Bytes()}
	for i, a := range answers {
		places["answer "+string(rune('A'+i))] = a
	}
	for where, content := range places {
		for name, secret := range map[string]string{"password": pw, "token": tok.Token, "token body": tok.Token[10:50]} {
			if bytes.Contains(content, []byte(secret)) {
				t.Errorf("the %s appears in %s", name, where)
			}
		}
	}
	if !bytes.Contains(logs.Bytes(), []byte("request not authenticated")) || !strings.Contains(string(db)+string(wal), tok.ID) {
		t.Fatal("the log or the database lacks what the test expected to search")
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}
