//go:build !linux

// procattr_other.go: outside Linux there is no parent-death signal; children are only
// stopped by the bench's own cleanup.
package main

import "os/exec"

func setParentDeathSignal(cmd *exec.Cmd) {}
