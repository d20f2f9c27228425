// Command configapp shows what an instance received from its config set
// and secrets: GREETING, the file app.conf in BERTH_CONFIG_DIR, and a hash
// of DB_PASSWORD (never the value). At start it prints the password, as a
// careless program would, so tests can check that Berth masks it.
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	pw := os.Getenv("DB_PASSWORD")
	fmt.Printf("configapp starting; connecting with DB_PASSWORD=%s\n", pw)
	sum := sha256.Sum256([]byte(pw))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		conf := "-"
		if dir := os.Getenv("BERTH_CONFIG_DIR"); dir != "" {
			if b, err := os.ReadFile(filepath.Join(dir, "app.conf")); err == nil {
				conf = strings.TrimSpace(string(b))
			}
		}
		fmt.Fprintf(w, "greeting=%s secret=%x file=%s release=%s\n",
			os.Getenv("GREETING"), sum[:8], conf, os.Getenv("BERTH_RELEASE"))
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), mux))
}
