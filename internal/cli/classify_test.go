package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/pkg/api"
)

// The server's verdict maps to exit codes: 422 and 400 are bad input (2),
// other failures are 1; field problems are listed against the spec file.
func TestServerErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		status  int
		body    api.Error
		code    int
		wantErr []string
	}{
		{
			desc:   "invalid spec",
			status: http.StatusUnprocessableEntity,
			body: api.Error{Code: api.CodeInvalid, Message: "the spec is invalid", Details: []api.FieldError{
				{Field: "services.web.image", Message: "not allowed on this server", Line: 4},
				{Field: "routes", Message: "host taken by app blog"},
			}},
			code: ExitBadInput,
			wantErr: []string{
				"error: the server rejected FILE (2 problems): the spec is invalid\n",
				"FILE:4: services.web.image: not allowed on this server\n",
				"FILE: routes: host taken by app blog\n",
			},
		},
		{
			desc:    "server failure",
			status:  http.StatusInternalServerError,
			body:    api.Error{Code: api.CodeInternal, Message: "database is locked", RequestID: "r1"},
			code:    ExitFailure,
			wantErr: []string{"error: database is locked\n"},
		},
		{
			desc:    "not JSON at all",
			status:  http.StatusBadGateway,
			code:    ExitFailure,
			wantErr: []string{"error: HTTP 502 Bad Gateway"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.body.Code == "" {
					w.WriteHeader(tt.status)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: tt.body})
			}))
			defer srv.Close()
			dir := t.TempDir()
			file := filepath.Join(dir, "berth.yaml")
			if err := os.WriteFile(file, []byte("name: shop\nservices:\n  web:\n    command: [./web]\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"BERTH_URL": srv.URL, "BERTH_TOKEN": "t", "HOME": t.TempDir()}
			res := runCLI(t, env, "validate", "--server", "-f", dir)
			if res.code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", res.code, tt.code, res.stderr)
			}
			for _, w := range tt.wantErr {
				if w = strings.ReplaceAll(w, "FILE", file); !strings.Contains(res.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, res.stderr)
				}
			}
		})
	}
}
