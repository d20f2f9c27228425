// Command web is the shop's front end: it greets the visitor and shows the
// visit count it gets from the api service at API_URL.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	api := os.Getenv("API_URL")
	if api == "" {
		log.Fatal("web: API_URL is not set (Berth sets it from depends_on: [api])")
	}
	client := &http.Client{Timeout: 2 * time.Second}
	greeting := os.Getenv("GREETING")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		resp, err := client.Post(api+"/visits", "text/plain", nil)
		if err != nil {
			http.Error(w, "api unreachable: "+err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var v struct {
			Visits int `json:"visits"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			http.Error(w, "api answered badly: "+err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "%s! You are visitor %d. (web release %s, instance %s)\n",
			greeting, v.Visits, os.Getenv("BERTH_RELEASE"), os.Getenv("BERTH_INSTANCE"))
	})
	addr := "127.0.0.1:" + os.Getenv("PORT")
	log.Printf("web listening on %s, api at %s", addr, api)
	log.Fatal(http.ListenAndServe(addr, mux))
}
