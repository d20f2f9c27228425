// Command testsvc is the service the benchmarks run: an HTTP server that
// answers /healthz as soon as it listens on PORT. It is the baseline's
// process too, so both sides start the very same binary.
package main

import (
	"io"
	"log"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil))
}
