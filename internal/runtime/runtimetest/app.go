package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// The test app is what a runtime's Harness runs for each Kind. A runtime
// that runs processes can run the test binary itself in app mode: set
// AppEnv to Kind.String() in the workload's environment and call AppMain
// from TestMain when it is set.
const (
	// AppEnv selects the test app's kind.
	AppEnv = "BERTH_RUNTIMETEST_APP"
	// HealthPath is where the app answers health checks (200 when
	// Healthy, 500 when Unhealthy).
	HealthPath = "/healthz"
	// CrashLine is what a CrashOnStart app prints before exiting with CrashCode.
	CrashLine = "testapp: crashing on purpose"
	CrashCode = 3
	// ListeningLine starts the line a serving app prints once it listens.
	ListeningLine = "testapp: listening on"
)

// AppMain runs the test app of the given kind (Kind.String()) and returns
// its exit code. It serves HTTP on 127.0.0.1:$PORT, logs every request it
// gets (so its output keeps growing while it is health-checked) and exits
// 0 on SIGTERM.
func AppMain(kind string) int {
	k, err := ParseKind(kind)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		return 2
	}
	if k == CrashOnStart {
		fmt.Println(CrashLine)
		return CrashCode
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", os.Getenv("PORT")))
	if err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		return 1
	}
	instance := os.Getenv("BERTH_INSTANCE")
	mux := http.NewServeMux()
	mux.HandleFunc(HealthPath, func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		if k == Unhealthy {
			code = http.StatusInternalServerError
		}
		fmt.Printf("testapp: %s %s %d\n", r.Method, r.URL.Path, code)
		w.WriteHeader(code)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("testapp: %s %s 200\n", r.Method, r.URL.Path)
		fmt.Fprintf(w, "hello from %s\n", instance)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("%s %s as %s\n", ListeningLine, ln.Addr(), instance)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "testapp:", err)
		return 1
	case <-ctx.Done():
	}
	fmt.Println("testapp: got SIGTERM, shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return 1
	}
	return 0
}
