package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime/local"
	"github.com/berthdev/berth/pkg/client"
)

// inProcess is a whole server run by Run in this process.
type inProcess struct {
	api, gw string // the API's and the gateway's host:port ("" when off)
	token   string
	c       *client.Client
	// stop stops the server (once; also when the test ends). Instances
	// it started keep running, as after a real stop, until the test ends.
	stop func()
}

// runInProcess starts Run with cfg until the test ends, filling in what
// every test server needs where cfg leaves it empty (an API address, the
// shim as this test binary, a quiet logger), and returns once it answers.
// Its client uses token, or the data dir's admin token when token is "".
func runInProcess(t *testing.T, cfg Config, token string) *inProcess {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = freeAddr(t)
	}
	if cfg.ShimCommand == nil {
		cfg.ShimCommand, cfg.ShimEnv = []string{os.Args[0]}, []string{envShim + "=1"}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &inProcess{api: cfg.Listen, gw: cfg.GatewayListen}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		s.stop()
		stopCtx, stopAll := context.WithTimeout(context.Background(), 30*time.Second)
		defer stopAll()
		_ = local.StopAll(stopCtx, filepath.Join(cfg.DataDir, "runtime"))
	})
	deadline := time.Now().Add(time.Minute)
	for {
		tok, err := token, error(nil)
		if tok == "" {
			var b []byte
			b, err = os.ReadFile(filepath.Join(cfg.DataDir, "admin-token"))
			tok = strings.TrimSpace(string(b))
		}
		if err == nil {
			var resp *http.Response
			if resp, err = http.Get("http://" + s.api + "/healthz"); err == nil {
				resp.Body.Close()
				s.token, s.c = tok, client.New("http://"+s.api, tok)
				return s
			}
		}
		select {
		case err := <-done:
			t.Fatalf("server ended while starting: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start within a minute: %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// startInProcess runs a server with an API and a gateway on dataDir,
// logging at debug level to log.
func startInProcess(t *testing.T, dataDir string, log io.Writer) *inProcess {
	t.Helper()
	return runInProcess(t, Config{
		DataDir: dataDir, GatewayListen: freeAddr(t),
		LookupEnv: func(string) (string, bool) { return "", false },
		Logger:    slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, "")
}
