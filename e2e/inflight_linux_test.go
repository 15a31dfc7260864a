package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// writtenBytes is what process p wrote so far (/proc/<pid>/io wchar:
// sockets, files and pipes), -1 when unknown.
func writtenBytes(p *proc) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// uploadInFlight reports whether the daemon wrote more than 256 KB since
// base: the large upload's body is on its way.
func uploadInFlight(p *proc, _ *env, base int64) bool {
	n := writtenBytes(p)
	return base >= 0 && n-base > 256<<10
}
