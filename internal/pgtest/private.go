package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// private is the server this test binary started, if any.
var private struct {
	cmd *exec.Cmd
	dir string
}

// startTimeout bounds initdb and the server's start.
const startTimeout = 2 * time.Minute

// binDir finds the newest Debian PostgreSQL installation, or $BERTH_POSTGRES_BIN.
func binDir() (string, error) {
	if d := os.Getenv("BERTH_POSTGRES_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var ok []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			ok = append(ok, d)
		}
	}
	if len(ok) == 0 {
		return "", errors.New("no /usr/lib/postgresql/*/bin/initdb")
	}
	// Newest major version last: compare numerically, so 9 < 15.
	slices.SortFunc(ok, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return va - vb
	})
	return ok[len(ok)-1], nil
}

// runAs returns the credential to run postgres with: the postgres user
// when we are root (postgres refuses to run as root), else none.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and there is no postgres user to run the server as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// startPrivate runs initdb on a temporary directory and starts postgres
// on a free loopback port, answering with trust authentication for the
// user postgres.
func startPrivate(ctx context.Context) (string, error) {
	bin, err := binDir()
	if err != nil {
		return "", err
	}
	cred, err := runAs()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "berth-pgtest-")
	if err != nil {
		return "", err
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return "", err
	}
	if cred != nil {
		for _, p := range []string{dir, data} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				_ = os.RemoveAll(dir)
				return "", err
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()

	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("initdb: %w: %s", err, out)
	}

	port, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	var logBuf bytes.Buffer
	// Not CommandContext: the server outlives this call, until Main stops
	// it. Pdeathsig stops it with the test binary when Main is not used.
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data,
		"-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-c", "unix_socket_directories=", // TCP only: no socket in /var/run
		"-c", "max_connections=300", // storetest runs many stores at once
		"-c", "shared_buffers=32MB")
	cmd.Stdout = &logBuf
	cmd.Stderr = &logBuf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("start postgres: %w", err)
	}
	private.cmd, private.dir = cmd, dir
	exited := make(chan struct{})
	go func() { // owned by the server process: ends when it exits
		_ = cmd.Wait()
		close(exited)
	}()
	u := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	for {
		if err := ping(ctx, u); err == nil {
			return u, nil
		}
		select {
		case <-exited:
			stopPrivate()
			return "", fmt.Errorf("postgres exited while starting: %s", logBuf.String())
		case <-ctx.Done():
			stopPrivate()
			return "", fmt.Errorf("postgres did not answer on port %d in %s: %s", port, startTimeout, logBuf.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stopPrivate stops the private server with a fast shutdown (SIGINT) and
// removes its directory.
func stopPrivate() {
	if private.cmd == nil {
		return
	}
	p := private.cmd.Process
	_ = p.Signal(syscall.SIGINT)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && p.Signal(syscall.Signal(0)) == nil {
		time.Sleep(50 * time.Millisecond)
	}
	_ = p.Kill()
	_ = os.RemoveAll(private.dir)
	private.cmd = nil
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before postgres binds it; then postgres exits and the start
// fails with its log.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
