package server

import "testing"

func TestIsAppLogs(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/api/v1/apps/shop/logs", true},
		{"/api/v1/apps/shop", false},
		{"/api/v1/apps//logs", false},
		{"/api/v1/apps/shop/logs/x", false},
		{"/api/v1/runs/shop.1/logs", false},
	} {
		if got := isAppLogs(tc.path); got != tc.want {
			t.Errorf("isAppLogs(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}
