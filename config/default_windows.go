//go:build windows

package config

import (
	"os"
	"path/filepath"
	"strings"
)

// defaultStateDir is %ProgramData%\flinkdrop\state.
func defaultStateDir() string {
	base := os.Getenv("ProgramData")
	if base == "" {
		base = `C:\ProgramData`
	}
	return filepath.Join(base, "flinkdrop", "state")
}

// foldPath returns p in the form used to compare paths: Windows file
// systems are case-insensitive.
func foldPath(p string) string { return strings.ToLower(p) }
