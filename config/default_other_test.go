//go:build !windows

package config

import "testing"

func TestDefaultStateDirUnix(t *testing.T) {
	if got, want := Default().StateDir, "/var/lib/flinkdrop"; got != want {
		t.Errorf("Default().StateDir = %q, want %q", got, want)
	}
}
