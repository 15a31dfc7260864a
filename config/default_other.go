//go:build !windows

package config

func defaultStateDir() string { return "/var/lib/flinkdrop" }

// foldPath returns p in the form used to compare paths: file systems here
// are case-sensitive, so p itself.
func foldPath(p string) string { return p }
