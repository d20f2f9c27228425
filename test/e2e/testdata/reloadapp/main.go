// Command reloadapp serves what it last read from app.conf in
// BERTH_CONFIG_DIR: at start, and again on each SIGHUP (never otherwise,
// so a new value it serves is proof the signal arrived), with its PID and
// the number of reloads.
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

func main() {
	var mu sync.Mutex
	conf, reloads := read(), 0
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			c := read()
			mu.Lock()
			conf, reloads = c, reloads+1
			mu.Unlock()
			fmt.Println("reloaded config:", c)
		}
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "pid=%d reloads=%d file=%s greeting=%s\n", os.Getpid(), reloads, conf, os.Getenv("GREETING"))
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), mux))
}

func read() string {
	b, err := os.ReadFile(filepath.Join(os.Getenv("BERTH_CONFIG_DIR"), "app.conf"))
	if err != nil {
		return "-"
	}
	return strings.TrimSpace(string(b))
}
