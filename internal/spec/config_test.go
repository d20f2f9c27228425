package spec

import (
	"strings"
	"testing"
)

func TestServiceConfigReload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc       string
		config     string
		wantReload string
		wantSignal string
		wantLive   bool
		wantPath   string // "" for valid
		wantMsg    string
	}{
		{desc: "signal defaults to SIGHUP", config: "{reload: signal}", wantReload: ReloadSignal, wantSignal: "SIGHUP", wantLive: true},
		{desc: "chosen signal", config: "{reload: signal, signal: SIGUSR2}", wantReload: ReloadSignal, wantSignal: "SIGUSR2", wantLive: true},
		{desc: "empty means restart", config: "{}", wantReload: ReloadRestart},
		{desc: "restart", config: "{reload: restart}", wantReload: ReloadRestart},
		{desc: "unknown mode", config: "{reload: hot}", wantPath: "services.web.config.reload", wantMsg: `expected restart or signal, got "hot"`},
		{desc: "a signal that stops the process", config: "{reload: signal, signal: SIGTERM}", wantPath: "services.web.config.signal", wantMsg: `expected one of SIGHUP, SIGUSR1, SIGUSR2, got "SIGTERM"`},
		{desc: "signal without reload: signal", config: "{signal: SIGHUP}", wantPath: "services.web.config.signal", wantMsg: `only used with reload: signal (reload is "restart")`},
		{desc: "unknown key", config: "{reload: signal, on: change}", wantPath: "services.web.config.on", wantMsg: "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			a, err := Parse([]byte(svc("    command: [./web]\n    config: " + tt.config + "\n")))
			if tt.wantPath != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantPath) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("err = %v, want %s: ...%s", err, tt.wantPath, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := a.Services["web"]
			if s.Config.Reload != tt.wantReload || s.Config.Signal != tt.wantSignal || s.ReloadsLive() != tt.wantLive {
				t.Errorf("config = %+v, live %v; want %s %s %v", s.Config, s.ReloadsLive(), tt.wantReload, tt.wantSignal, tt.wantLive)
			}
		})
	}
}

// A service without config keeps the canonical JSON it had before the
// field existed, so applying an unchanged berth.yaml makes no release.
func TestServiceConfigAbsentKeepsCanonical(t *testing.T) {
	t.Parallel()
	a, err := Parse([]byte(svc("    command: [./web]\n")))
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(c), `"config"`) {
		t.Errorf("canonical JSON of a service without config mentions it: %s", c)
	}
}
