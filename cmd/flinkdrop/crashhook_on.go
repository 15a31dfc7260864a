//go:build flinkdrop_crashtest

package main

import "os"

// crashHookFromEnv returns the hook the crash tests ask for through
// crashEnv, or nil.
func crashHookFromEnv(getenv func(string) string) func(string) {
	spec := getenv(crashEnv)
	if spec == "" {
		return nil
	}
	point, nth := parseCrashSpec(spec)
	return newCrashHook(point, nth, func() {
		if self, err := os.FindProcess(os.Getpid()); err == nil {
			_ = self.Kill() // SIGKILL on Unix, TerminateProcess on Windows
		}
		select {} // never returns; the kill is on its way
	})
}

// crashTagged reports whether this binary was built with the crash-test tag.
const crashTagged = true
