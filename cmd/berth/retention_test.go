package main

import (
	"testing"
	"time"

	"github.com/berthdev/berth/internal/server"
)

// 0 on the command line means forever / none; the server's config says
// that with a negative value, keeping 0 for its defaults.
func TestRetentionFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		in   retentionFlags
		want server.RetentionConfig
	}{
		{desc: "defaults", in: retentionFlags{ttl: 720 * time.Hour, last: 5}, want: server.RetentionConfig{ArtifactTTL: 720 * time.Hour, ArtifactKeepLast: 5}},
		{desc: "forever, none kept by count", in: retentionFlags{}, want: server.RetentionConfig{ArtifactTTL: -1, ArtifactKeepLast: -1}},
		{desc: "sweep interval", in: retentionFlags{ttl: time.Hour, last: 1, every: time.Minute}, want: server.RetentionConfig{ArtifactTTL: time.Hour, ArtifactKeepLast: 1, Every: time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, err := tt.in.config()
			if err != nil || got != tt.want {
				t.Errorf("config() = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
