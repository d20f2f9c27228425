package main

import (
	"strings"
	"testing"
)

func TestDatabaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, flag, env, want string
		wantErr               bool
	}{
		{desc: "none: SQLite", want: ""},
		{desc: "flag", flag: "postgres://db:5432/berth", want: "postgres://db:5432/berth"},
		{desc: "env", env: "postgresql://db/berth", want: "postgresql://db/berth"},
		{desc: "flag wins over env", flag: "postgres://a/berth", env: "postgres://b/berth", want: "postgres://a/berth"},
		{desc: "not postgres", flag: "mysql://root:hunter2@db/berth", wantErr: true},
		{desc: "no host", flag: "postgres:///berth", wantErr: true},
		{desc: "bad env", env: "berth.db", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			got, err := databaseURL(tc.flag, func(k string) string {
				if k == "BERTH_DATABASE" {
					return tc.env
				}
				return ""
			})
			switch {
			case tc.wantErr:
				if err == nil || !strings.Contains(err.Error(), "--database") || strings.Contains(err.Error(), "hunter2") {
					t.Errorf("databaseURL = %q, %v; want an error naming --database, without the password", got, err)
				}
			case err != nil || got != tc.want:
				t.Errorf("databaseURL = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
