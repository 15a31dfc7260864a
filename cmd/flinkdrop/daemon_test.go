package main

import "testing"

func TestCrashHookFromEnv(t *testing.T) {
	t.Parallel()
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == crashEnv {
				return v
			}
			return ""
		}
	}
	if h := crashHookFromEnv(env("")); h != nil {
		t.Error("crashHookFromEnv without the variable returned a hook, want nil")
	}
	// Points other than the named one, and the named one before its n-th
	// time, must not kill the test process.
	h := crashHookFromEnv(env("after-upload:3"))
	if h == nil {
		t.Fatal("crashHookFromEnv(after-upload:3) = nil, want a hook")
	}
	for _, p := range []string{"before-upload", "after-upload", "done", "after-upload", "after-upload:3"} {
		h(p)
	}
	h = crashHookFromEnv(env("a:b:2"))
	h("a:b:1")
	h("a:b")
}
