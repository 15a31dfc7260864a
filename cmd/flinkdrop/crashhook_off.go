//go:build !flinkdrop_crashtest

package main

// crashHookFromEnv is off in release builds: crashEnv is read only by a
// binary built with the flinkdrop_crashtest tag.
func crashHookFromEnv(func(string) string) func(string) { return nil }

// crashTagged reports whether this binary was built with the crash-test tag.
const crashTagged = false
