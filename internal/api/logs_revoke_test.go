package api

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/pkg/api"
)

// A followed log stream ends when the credential that opened it stops
// being valid: its token revoked, its user disabled, its session ended by
// a password change, or its user removed from the app's team. The source
// stays open, so only the cut can end the stream.
func TestLogStreamCutWhenAccessEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		// open returns the headers the stream is opened with; end takes
		// the access away.
		open func(ts *testServer, user, team string) map[string]string
		end  func(ts *testServer, user, team string, h map[string]string)
	}{
		{
			desc: "token revoked",
			open: func(ts *testServer, user, _ string) map[string]string {
				tok, row := ts.personalToken(t, user, rbac.ScopeRead)
				return map[string]string{"Authorization": "Bearer " + tok, "X-Token-ID": row.ID}
			},
			end: func(ts *testServer, _, _ string, h map[string]string) {
				ts.mustCall(t, http.StatusNoContent, "DELETE", "/api/v1/tokens/"+h["X-Token-ID"], nil, nil)
			},
		},
		{
			desc: "user disabled",
			open: func(ts *testServer, user, _ string) map[string]string {
				tok, _ := ts.personalToken(t, user, rbac.ScopeRead)
				return map[string]string{"Authorization": "Bearer " + tok}
			},
			end: func(ts *testServer, user, _ string, _ map[string]string) {
				ts.mustCall(t, http.StatusOK, "POST", "/api/v1/users/"+user+"/disable", nil, nil)
			},
		},
		{
			desc: "session ended by a password change in another session",
			open: func(ts *testServer, user, _ string) map[string]string {
				se, csrf := ts.sessionFor(t, user)
				return isoCaller{session: se, csrf: csrf}.headers()
			},
			end: func(ts *testServer, user, _ string, _ map[string]string) {
				se, csrf := ts.sessionFor(t, user)
				status, body := ts.callSession(t, se, csrf, "POST", "/api/v1/users/me/password",
					api.ChangePasswordRequest{CurrentPassword: "correct horse battery staple", NewPassword: "another long passphrase 7"})
				if status != http.StatusNoContent {
					t.Errorf("change password: %d %s", status, body)
				}
			},
		},
		{
			desc: "removed from the team",
			open: func(ts *testServer, user, _ string) map[string]string {
				tok, _ := ts.personalToken(t, user, rbac.ScopeRead)
				return map[string]string{"Authorization": "Bearer " + tok}
			},
			end: func(ts *testServer, user, team string, _ map[string]string) {
				ts.mustCall(t, http.StatusNoContent, "DELETE", "/api/v1/teams/"+team+"/members/"+user, nil, nil)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			src := &pipeLogs{w: make(chan *io.PipeWriter, 1)}
			ts := newTestServer(t, func(d *Deps) { d.Logs = src })
			team := ts.createTeam(t, "team-a")
			ts.applyIn(t, "team-a", specV1)
			u := ts.addUser(t, "dev@a.example", map[string]rbac.Role{team.ID: rbac.RoleDeveloper})
			h := tt.open(ts, u.ID, team.ID)

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/apps/shop/logs?follow=true", nil)
			for k, v := range h {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("open the stream: %d %s", resp.StatusCode, b)
			}
			w := <-src.w
			defer w.Close()
			line := "web-0 | before\n"
			if _, err := io.WriteString(w, line); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, len(line))
			if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != line {
				t.Fatalf("first line %q, %v", buf, err)
			}

			tt.end(ts, u.ID, team.ID, h)
			// The source is still open: the body ends only if the stream
			// was cut. The context's deadline fails the test otherwise.
			rest, err := io.ReadAll(resp.Body)
			if err != nil || len(rest) != 0 {
				t.Fatalf("after access ended: %q, %v; want the stream to end cleanly", rest, err)
			}
		})
	}
}
