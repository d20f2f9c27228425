// Command backend is the upstream every gateway benchmark target reaches: an
// HTTP/1.1 server with keep-alive that answers every path with the same
// 100-byte body, so what differs between targets is only the proxy in front.
//
// It listens on -addr, or on 127.0.0.1:$PORT when -addr is empty (the way
// Berth's local runtime starts services), and writes its pid to
// $BACKEND_PIDFILE when set, so the harness can find (and pin, and clean up)
// an instance that Berth started.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// bodySize is the response body's length; the harness relies on it.
const bodySize = 100

func main() {
	addr := flag.String("addr", "", "listen address (default 127.0.0.1:$PORT)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, os.Getenv("BACKEND_PIDFILE")); err != nil {
		log.Error("backend", "err", err)
		os.Exit(1)
	}
}

func run(addr, pidfile string) error {
	if addr == "" {
		port := os.Getenv("PORT")
		if port == "" {
			return errors.New("no -addr and no PORT in the environment")
		}
		addr = "127.0.0.1:" + port
	}
	if pidfile != "" {
		if err := os.WriteFile(pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return fmt.Errorf("write pidfile: %w", err)
		}
	}
	// One fixed body, written with explicit headers: no content sniffing, no
	// chunking, the same bytes on every answer.
	body := append(bytes.Repeat([]byte("x"), bodySize-1), '\n')
	length := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Type"] = []string{"text/plain"}
		w.Header()["Content-Length"] = []string{length}
		_, _ = w.Write(body)
	})
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
