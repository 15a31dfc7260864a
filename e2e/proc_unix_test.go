//go:build !windows

package e2e

import (
	"os"
	"syscall"
)

// terminate asks a process to stop as the service manager does (SIGTERM).
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
