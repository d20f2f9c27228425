package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// maxSecretInput bounds what is read for one secret (the server allows
// 64 KiB; one byte more lets it say so).
const maxSecretInput = 64<<10 + 1

// readSecretValue reads a secret's value without it ever being an
// argument (visible in ps and shell history): from a file, from an
// environment variable, or from standard input — typed with echo off on a
// terminal, else read to the end with one trailing newline dropped.
func (r *runner) readSecretValue(name, fromFile, fromEnv string) (string, error) {
	switch {
	case fromFile != "" && fromEnv != "":
		return "", usageErrorf("give --from-file or --from-env, not both")
	case fromFile != "":
		b, err := os.ReadFile(fromFile)
		if err != nil {
			return "", badInput(fmt.Errorf("--from-file: %w", err), "")
		}
		return string(b), nil
	case fromEnv != "":
		v := r.Getenv(fromEnv)
		if v == "" {
			return "", usageErrorf("--from-env: the variable %s is not set or empty", fromEnv)
		}
		return v, nil
	}
	if f, ok := r.Stdin.(*os.File); ok {
		if old, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			return r.promptHidden(f, old, name)
		}
	}
	b, err := io.ReadAll(io.LimitReader(r.Stdin, maxSecretInput))
	if err != nil {
		return "", failed(fmt.Errorf("read the value from standard input: %w", err), "")
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return "", usageErrorf("no value on standard input; pipe it in (printf %%s \"$VALUE\" | berth secret set APP %s), or use --from-file or --from-env", name)
	}
	return v, nil
}

// promptHidden asks for the value on the terminal with echo off.
func (r *runner) promptHidden(f *os.File, old *unix.Termios, name string) (string, error) {
	fd := int(f.Fd())
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	fmt.Fprintf(r.Stderr, "Value of %s (input hidden): ", name)
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return "", failed(fmt.Errorf("turn off echo: %w", err), "")
	}
	line, err := bufio.NewReader(io.LimitReader(f, maxSecretInput)).ReadString('\n')
	restoreErr := unix.IoctlSetTermios(fd, unix.TCSETS, old)
	fmt.Fprintln(r.Stderr)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", failed(fmt.Errorf("read the value: %w", err), "")
	}
	if restoreErr != nil {
		return "", failed(fmt.Errorf("restore the terminal: %w", restoreErr), "")
	}
	v := strings.TrimRight(line, "\r\n")
	if v == "" {
		return "", usageErrorf("no value given")
	}
	return v, nil
}
