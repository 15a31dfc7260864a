package e2e

import "os"

// terminate stops a process. Windows has no SIGTERM for a console process
// started this way; the service stop path is tested in package service.
func terminate(p *os.Process) error { return p.Kill() }
