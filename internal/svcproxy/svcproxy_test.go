package svcproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// backend is a real HTTP server on loopback answering its own name.
func backend(t *testing.T, name string) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv, strings.TrimPrefix(srv.URL, "http://")
}

func newProxy(t *testing.T) (*Proxy, int) {
	t.Helper()
	p := New(nil)
	p.WaitTimeout = 500 * time.Millisecond
	t.Cleanup(func() { p.Close() })
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p, port
}

// setOnFreePort serves app/svc on a free port, picking another when a
// parallel test took the one FreePort returned before Set could bind it
// (as the server's own callers do).
func setOnFreePort(t *testing.T, p *Proxy, app, svc string, ep []string) int {
	t.Helper()
	var err error
	for range 5 {
		var port int
		if port, err = FreePort(); err != nil {
			t.Fatal(err)
		}
		if err = p.Set(app, svc, port, ep); err == nil {
			return port
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatal(err)
		}
	}
	t.Fatalf("no free port for %s/%s: %v", app, svc, err)
	return 0
}

// client never reuses connections, so every request is a new proxied
// connection and a test sees the proxy's choice each time.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}

func get(port int) (string, error) {
	resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestBalancesRoundRobin(t *testing.T) {
	t.Parallel()
	p, port := newProxy(t)
	_, a := backend(t, "a")
	_, b := backend(t, "b")
	_, c := backend(t, "c")
	if err := p.Set("shop", "api", port, []string{a, b, c}); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for range 30 {
		got, err := get(port)
		if err != nil {
			t.Fatal(err)
		}
		counts[got]++
	}
	for _, n := range []string{"a", "b", "c"} {
		if counts[n] != 10 {
			t.Fatalf("counts = %v, want 10 each", counts)
		}
	}
}

func TestDeadEndpointIsSkipped(t *testing.T) {
	t.Parallel()
	p, port := newProxy(t)
	_, a := backend(t, "a")
	dead, err := FreePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Set("shop", "api", port, []string{"127.0.0.1:" + strconv.Itoa(dead), a}); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		if got, err := get(port); err != nil || got != "a" {
			t.Fatalf("got %q, %v", got, err)
		}
	}
}

func TestEndpointSwapDropsNothing(t *testing.T) {
	t.Parallel()
	p, port := newProxy(t)
	p.WaitTimeout = 3 * time.Second
	oldSrv, old := backend(t, "old")
	if err := p.Set("shop", "api", port, []string{old}); err != nil {
		t.Fatal(err)
	}
	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		failures atomic.Int64
		seen     sync.Map
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				got, err := get(port)
				if err != nil {
					failures.Add(1)
					t.Log(err)
					continue
				}
				seen.Store(got, true)
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	// A rollout: the new instance joins, the old one leaves the set, then
	// stops after a drain (as the reconciler and runtime do it).
	_, nw := backend(t, "new")
	if err := p.Set("shop", "api", port, []string{old, nw}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := p.Set("shop", "api", port, []string{nw}); err != nil {
		t.Fatal(err)
	}
	// Stopped gracefully after a moment, as the runtime stops an instance
	// (SIGTERM): a connection that picked it just before the swap is served.
	time.Sleep(50 * time.Millisecond)
	if err := oldSrv.Config.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	// A gap with no endpoint at all: clients wait instead of failing.
	if err := p.Set("shop", "api", port, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := p.Set("shop", "api", port, []string{nw}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d requests failed", n)
	}
	for _, n := range []string{"old", "new"} {
		if _, ok := seen.Load(n); !ok {
			t.Errorf("no answer from %s", n)
		}
	}
}

func TestNoEndpointsWaitsThenCloses(t *testing.T) {
	t.Parallel()
	p, port := newProxy(t)
	p.WaitTimeout = 300 * time.Millisecond
	if err := p.Set("shop", "api", port, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := get(port)
	if err == nil {
		t.Fatal("request succeeded with no endpoints")
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Fatalf("failed after %v, want about 300ms", d)
	}

	// An endpoint that appears while the client waits gets the connection.
	p.WaitTimeout = 3 * time.Second
	_, a := backend(t, "late")
	go func() {
		time.Sleep(200 * time.Millisecond)
		p.Set("shop", "api", port, []string{a})
	}()
	if got, err := get(port); err != nil || got != "late" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestHalfClose(t *testing.T) {
	t.Parallel()
	p, port := newProxy(t)
	// An echo server that answers only after reading to EOF.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c)
				fmt.Fprintf(c, "got %d bytes", len(b))
			}()
		}
	}()
	if err := p.Set("shop", "raw", port, []string{ln.Addr().String()}); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "hello")
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "got 5 bytes" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestPortTakenAndMoves(t *testing.T) {
	t.Parallel()
	p, port := newProxy(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	if err := p.Set("shop", "api", taken, nil); err == nil {
		t.Fatal("Set on a taken port succeeded")
	}
	_, a := backend(t, "a")
	if err := p.Set("shop", "api", port, []string{a}); err != nil {
		t.Fatal(err)
	}
	port2, _ := FreePort()
	if err := p.Set("shop", "api", port2, []string{a}); err != nil {
		t.Fatal(err)
	}
	if got, err := get(port2); err != nil || got != "a" {
		t.Fatalf("new port: %q %v", got, err)
	}
	if _, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
		t.Fatal("old port still open")
	}
}

func TestRemoveAndClose(t *testing.T) {
	t.Parallel()
	p := New(nil)
	p.WaitTimeout = 500 * time.Millisecond
	t.Cleanup(func() { p.Close() })
	// A backend that holds the connection open, to see Close end it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	ep := []string{ln.Addr().String()}
	port := setOnFreePort(t, p, "shop", "a", ep)
	port2 := setOnFreePort(t, p, "shop", "b", ep)
	port3 := setOnFreePort(t, p, "blog", "a", ep)
	open := func(port int) bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	p.Remove("shop", "a")
	if open(port) || !open(port2) {
		t.Fatal("Remove closed the wrong listener")
	}
	p.RemoveApp("shop")
	if open(port2) || !open(port3) {
		t.Fatal("RemoveApp closed the wrong listeners")
	}

	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port3))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "ping\n")
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("echo: %q %v", line, err)
	}
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Close hangs on an open connection")
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after Close")
	}
	if open(port3) {
		t.Fatal("listener open after Close")
	}
	if err := p.Set("blog", "a", port3, ep); err != ErrClosed {
		t.Fatalf("Set after Close: %v", err)
	}
}
