package storetest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
)

// The durability test (RunCrash) re-executes the test binary as a writer
// child (see CrashChild), kills it with SIGKILL at a random moment and
// checks that every write the child acknowledged is in the store. A
// backend's test calls both, with the same open function.
const (
	crashChildEnv  = "BERTH_STORE_CRASH_CHILD"  // the database: a path or a URL
	crashPrefixEnv = "BERTH_STORE_CRASH_PREFIX" // makes names unique per round
	// crashChildLife bounds the child in case the parent dies before
	// killing it.
	crashChildLife = 20 * time.Second
)

func crashToken(name string) store.Token {
	return store.Token{ID: name, Name: name, Hash: "hash-" + name, CreatedAt: time.Now()}
}

// Opener opens the store a crash test writes to and checks: a file path
// or a URL, whatever the backend takes.
type Opener func(ctx context.Context, target string) (store.Store, error)

// CrashChild runs the crash test's writer child when this process is one
// (RunCrash sets it up), and reports whether it was: call it first in
// TestMain and exit with its code when ok.
func CrashChild(open Opener) (code int, ok bool) {
	target := os.Getenv(crashChildEnv)
	if target == "" {
		return 0, false
	}
	return crashChild(open, target), true
}

// crashChild writes until killed, with three writers at once, and prints
// "<kind> <name>" on stdout after each write returned without error:
//
//	app <name>      an InTx that created the app, its release 1 and an event
//	token <id>      a CreateToken outside InTx
//	counter <v>     an UpdateApp of the app "counter" that returned version v
func crashChild(open Opener, target string) int {
	ctx, cancel := context.WithTimeout(context.Background(), crashChildLife)
	defer cancel()
	db, err := open(ctx, target)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = db.Close() }()
	prefix := os.Getenv(crashPrefixEnv)

	var mu sync.Mutex
	ack := func(kind, name string) {
		mu.Lock()
		defer mu.Unlock()
		// One write call per line, so a kill never splits a line between
		// two acknowledgements.
		fmt.Fprintf(os.Stdout, "%s %s\n", kind, name)
	}
	writers := []func(i int) error{
		func(i int) error {
			name := fmt.Sprintf("%s-app-%d", prefix, i)
			err := db.InTx(ctx, func(tx store.Tx) error {
				now := time.Now()
				if err := tx.CreateApp(ctx, store.App{Name: name, LatestRelease: 1, CreatedAt: now}); err != nil {
					return err
				}
				if err := tx.CreateRelease(ctx, store.Release{App: name, Number: 1, Spec: []byte(`{}`), CreatedAt: now}); err != nil {
					return err
				}
				_, err := tx.AppendEvent(ctx, store.Event{Kind: "app.created", App: name, Release: 1, Time: now})
				return err
			})
			if err == nil {
				ack("app", name)
			}
			return err
		},
		func(i int) error {
			name := fmt.Sprintf("%s-token-%d", prefix, i)
			err := db.CreateToken(ctx, crashToken(name))
			if err == nil {
				ack("token", name)
			}
			return err
		},
		func(int) error {
			a, err := db.GetApp(ctx, "counter")
			if err != nil {
				return err
			}
			v, err := db.UpdateApp(ctx, a)
			if err == nil {
				ack("counter", strconv.FormatInt(v, 10))
			}
			return err
		},
	}
	var (
		wg   sync.WaitGroup
		errs = make([]error, len(writers))
	)
	for w, write := range writers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				if err := write(i); err != nil {
					errs[w] = err
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// RunCrash is the durability test: in rounds, a writer child (the test
// binary again, see CrashChild) writes to the store at target with three
// writers at once and is killed with SIGKILL at a random moment; then
// every write it acknowledged must be in the store, and every transaction
// whole. target must name an empty store.
func RunCrash(t *testing.T, open Opener, target string) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	ctx := t.Context()
	db, err := open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateApp(ctx, store.App{Name: "counter"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	const rounds = 5
	var counter int64 // highest acknowledged counter version so far
	for round := range rounds {
		acks := runAndKill(t, target, fmt.Sprintf("r%d", round))
		for _, a := range acks {
			if kind, v, _ := strings.Cut(a, " "); kind == "counter" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatalf("bad ack %q", a)
				}
				counter = max(counter, n)
			}
		}
		checkAcks(t, open, target, acks, counter)
		t.Logf("round %d: %d acknowledged writes survived", round, len(acks))
	}
}

// runAndKill starts a writer child, SIGKILLs it at a random moment after
// its first acknowledgement and returns every acknowledgement it printed.
func runAndKill(t *testing.T, target, prefix string) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+target, crashPrefixEnv+"="+prefix)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The reader goroutine ends at EOF, which comes once the child is
	// dead; Wait below is called only after it ended.
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				// A partial last line was never acknowledged in full.
				return
			}
			lines <- strings.TrimSuffix(line, "\n")
		}
	}()

	var acks []string
	select {
	case l, ok := <-lines:
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("child ended before its first write: %s", stderr.String())
		}
		acks = append(acks, l)
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		for range lines {
		}
		_ = cmd.Wait()
		t.Fatalf("no acknowledgement from the child in 10s: %s", stderr.String())
	}
	kill := time.After(time.Duration(rand.IntN(300)) * time.Millisecond)
collect:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break collect
			}
			acks = append(acks, l)
		case <-kill:
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Errorf("kill: %v", err)
			}
			kill = nil
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL (%v): %s", err, stderr.String())
	}
	return acks
}

// checkAcks reopens the database (on SQLite, recovering the WAL left by
// the kill) and checks every acknowledged write is there, and that
// transactions are whole: every app the child created has its release and
// its event.
func checkAcks(t *testing.T, open Opener, target string, acks []string, counter int64) {
	t.Helper()
	ctx := t.Context()
	db, err := open(ctx, target)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer func() { _ = db.Close() }()

	events, err := db.ListEvents(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	eventFor := map[string]bool{}
	for _, e := range events {
		eventFor[e.App] = true
	}
	for _, a := range acks {
		kind, name, _ := strings.Cut(a, " ")
		switch kind {
		case "app":
			if _, err := db.GetApp(ctx, name); err != nil {
				t.Errorf("acknowledged app %s: %v", name, err)
			}
		case "token":
			if _, err := db.GetTokenByHash(ctx, crashToken(name).Hash); err != nil {
				t.Errorf("acknowledged token %s: %v", name, err)
			}
		case "counter":
		default:
			t.Errorf("unexpected line from child: %q", a)
		}
	}
	c, err := db.GetApp(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if c.Version < counter {
		t.Errorf("counter version %d, but %d was acknowledged", c.Version, counter)
	}
	apps, err := db.ListApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		if a.Name == "counter" {
			continue
		}
		if _, err := db.GetRelease(ctx, a.Name, 1); err != nil {
			t.Errorf("app %s without its release: half a transaction survived: %v", a.Name, err)
		}
		if !eventFor[a.Name] {
			t.Errorf("app %s without its event: half a transaction survived", a.Name)
		}
	}
}
