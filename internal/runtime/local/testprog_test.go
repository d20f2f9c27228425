package local

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// testProg runs one of the small programs this package's tests start as
// workloads, and returns its exit code.
func testProg(name string) int {
	switch name {
	case "tree":
		return progTree()
	case "tree-child":
		return progTreeChild()
	case "tree-grandchild":
		signal.Ignore(syscall.SIGTERM)
		mark("grandchild pid %d", os.Getpid())
		for {
			time.Sleep(time.Hour)
		}
	case "alloc":
		return progAlloc()
	case "spam":
		return progSpam()
	case "envdump":
		return progEnvDump()
	case "reloader":
		return progReloader()
	}
	fmt.Fprintln(os.Stderr, "unknown test program", name)
	return 2
}

// mark appends a line to $MARK_FILE: what the processes of a test saw, kept
// where the test can read it after the instance is gone.
func mark(format string, args ...any) {
	f, err := os.OpenFile(os.Getenv("MARK_FILE"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, format+"\n", args...)
}

// progTree notes SIGTERM but keeps running, and starts a child that does
// the same and a grandchild that ignores SIGTERM: only SIGKILL to the whole
// group ends them all.
func progTree() int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	mark("main pid %d", os.Getpid())
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), envTestProg+"=tree-child")
	child.Stdout, child.Stderr = os.Stdout, os.Stderr
	if err := child.Start(); err != nil {
		fmt.Println("start child:", err)
		return 1
	}
	fmt.Println("tree started")
	for range sig {
		mark("main got SIGTERM")
	}
	return 0
}

func progTreeChild() int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	mark("child pid %d", os.Getpid())
	gc := exec.Command(os.Args[0])
	gc.Env = append(os.Environ(), envTestProg+"=tree-grandchild")
	if err := gc.Start(); err != nil {
		fmt.Println("start grandchild:", err)
		return 1
	}
	for range sig {
		mark("child got SIGTERM")
	}
	return 0
}

// progAlloc allocates ALLOC_MIB MiB, 8 MiB at a time, touching every page.
func progAlloc() int {
	total, _ := strconv.Atoi(os.Getenv("ALLOC_MIB"))
	fmt.Println("allocating", total, "MiB")
	var keep [][]byte
	for got := 0; got < total; got += 8 {
		b := make([]byte, 8<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keep = append(keep, b)
		fmt.Println("allocated", got+8, "MiB")
	}
	fmt.Println("allocated all")
	for {
		time.Sleep(time.Hour)
		_ = keep
	}
}

// progSpam prints SPAM_LINES numbered lines of about 100 bytes, one every
// SPAM_EVERY, then "spam done", and waits.
func progSpam() int {
	n, _ := strconv.Atoi(os.Getenv("SPAM_LINES"))
	every, _ := time.ParseDuration(os.Getenv("SPAM_EVERY"))
	pad := strings.Repeat("x", 88)
	for i := 1; i <= n; i++ {
		fmt.Printf("line %05d %s\n", i, pad)
		if every > 0 {
			time.Sleep(every)
		}
	}
	fmt.Println("spam done")
	for {
		time.Sleep(time.Hour)
	}
}

// progEnvDump notes a hash of $SECRET (never the value) and the content of
// $BERTH_CONFIG_DIR/app.conf, then runs until stopped.
func progEnvDump() int {
	sum := sha256.Sum256([]byte(os.Getenv("SECRET")))
	conf, err := os.ReadFile(filepath.Join(os.Getenv("BERTH_CONFIG_DIR"), "app.conf"))
	if err != nil {
		mark("config error: %v", err)
	}
	mark("secret %x config %q", sum[:8], conf)
	if os.Getenv("LEAK") != "" {
		// A careless program prints its secret and dies.
		fmt.Println("connecting with password " + os.Getenv("SECRET"))
		return 3
	}
	fmt.Println("started")
	for {
		time.Sleep(time.Hour)
	}
}

// progReloader notes its PID and $BERTH_CONFIG_DIR/app.conf when it starts
// and again on each SIGHUP or SIGUSR1, as a service that reloads its
// config live does.
func progReloader() int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGUSR1)
	read := func(why string) {
		conf, err := os.ReadFile(filepath.Join(os.Getenv("BERTH_CONFIG_DIR"), "app.conf"))
		if err != nil {
			conf = []byte("error: " + err.Error())
		}
		mark("pid %d %s config %q", os.Getpid(), why, conf)
	}
	read("start")
	fmt.Println("started")
	for s := range sig {
		read(signalName(s.(syscall.Signal)))
	}
	return 0
}
