package local

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropTerminal gives up the shim's controlling terminal, if it has one:
// the shim runs in the server's session (for its autogroup, see
// startShim), and a server started in a terminal shares that terminal
// with its whole session. The instances the shim starts afterwards have
// none, as when shims had sessions of their own: one that opens /dev/tty
// gets ENXIO instead of writing over the server's terminal, or, reading
// from it in a background process group, being stopped by SIGTTIN for
// good. The shim is no session leader, so this touches no other process
// (the kernel hangs up the foreground group only for a leader).
func dropTerminal() {
	f, err := os.OpenFile("/dev/tty", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return // no controlling terminal: nothing to give up
	}
	defer f.Close()
	_ = unix.IoctlSetInt(int(f.Fd()), unix.TIOCNOTTY, 0)
}
