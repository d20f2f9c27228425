package local

import (
	"os"
	"strconv"
	"syscall"
)

// closeOnExecInherited marks every descriptor above stderr close-on-exec.
// Go opens its own descriptors that way, but not those the process
// inherited from whoever started it (a shell, a CI runner, a service
// manager). Left alone they pass on to every shim and every instance, which
// outlive the server: a CI job's output pipe, say, would never reach EOF
// and the job would hang for as long as the app runs. The server calls it
// before it starts any shim, and each shim before it starts its process
// (it may have been started by an older server).
func closeOnExecInherited() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		// A descriptor closed since the listing (the listing's own, say)
		// gives EBADF, and one opened since by Go is close-on-exec already.
		syscall.CloseOnExec(fd)
	}
}
