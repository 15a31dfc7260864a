package main

import (
	"strconv"
	"strings"
	"sync"
)

// crashEnv names the variable that, in a binary built with the
// flinkdrop_crashtest tag, kills the process at a named point of the
// pipeline: "point" or "point:n" (the n-th time it is reached). The e2e crash
// tests build such a binary; a release build ignores the variable.
const crashEnv = "FLINKDROP_TEST_CRASH_AT"

// parseCrashSpec splits "point" or "point:n" into the point and n (1 when
// absent or not a positive number).
func parseCrashSpec(spec string) (point string, nth int) {
	point, nth = spec, 1
	if i := strings.LastIndexByte(spec, ':'); i > 0 {
		if n, err := strconv.Atoi(spec[i+1:]); err == nil && n > 0 {
			point, nth = spec[:i], n
		}
	}
	return point, nth
}

// newCrashHook returns a hook that calls kill the nth time point is reached.
func newCrashHook(point string, nth int, kill func()) func(string) {
	var mu sync.Mutex
	seen := 0
	return func(p string) {
		if p != point {
			return
		}
		mu.Lock()
		seen++
		hit := seen == nth
		mu.Unlock()
		if hit {
			kill()
		}
	}
}
