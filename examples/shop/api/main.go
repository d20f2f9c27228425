// Command api is the shop's business service: it counts visits in the store
// service, which it finds at STORE_URL (given by Berth from depends_on).
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

var client = &http.Client{Timeout: 2 * time.Second}

func main() {
	store := os.Getenv("STORE_URL")
	if store == "" {
		log.Fatal("api: STORE_URL is not set (Berth sets it from depends_on: [store])")
	}
	var mu sync.Mutex // serialises read-increment-write of the counter
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		resp, err := client.Get(store + "/healthz")
		if err != nil {
			http.Error(w, "store unreachable: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		resp.Body.Close()
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("POST /visits", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		if resp, err := client.Get(store + "/kv/visits"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		n++
		req, _ := http.NewRequest(http.MethodPut, store+"/kv/visits", strings.NewReader(strconv.Itoa(n)))
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"visits": n, "release": os.Getenv("BERTH_RELEASE")})
	})
	addr := "127.0.0.1:" + os.Getenv("PORT")
	log.Printf("api listening on %s, store at %s", addr, store)
	if err := http.ListenAndServe(addr, mux); err != nil {
		log.Fatal(fmt.Errorf("api: %w", err))
	}
}
