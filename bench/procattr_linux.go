// procattr_linux.go makes the kernel kill a child if the bench itself dies without
// cleaning up (e.g. SIGKILL), so no server outlives it.
package main

import (
	"os/exec"
	"syscall"
)

func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
