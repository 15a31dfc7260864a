//go:build !windows

package main

// defaultConfigPath is where the service looks for its config.
func defaultConfigPath() string { return "/etc/flinkdrop/config.yaml" }

// mappedDriveWarning is a Windows concern: services do not see mapped drives.
func mappedDriveWarning(string) string { return "" }
