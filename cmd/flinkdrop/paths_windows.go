package main

import (
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// defaultConfigPath is where the service looks for its config.
func defaultConfigPath() string {
	base := os.Getenv("ProgramData")
	if base == "" {
		base = `C:\ProgramData`
	}
	return filepath.Join(base, "flinkdrop", "config.yaml")
}

// mappedDriveWarning warns about a path on a mapped network drive: a service
// runs in another logon session and does not see the user's drive letters.
func mappedDriveWarning(path string) string {
	vol := filepath.VolumeName(path)
	if len(vol) != 2 || vol[1] != ':' {
		return "" // UNC or relative
	}
	root, err := windows.UTF16PtrFromString(strings.ToUpper(vol) + `\`)
	if err != nil {
		return ""
	}
	if windows.GetDriveType(root) == windows.DRIVE_REMOTE {
		return "is on a mapped network drive, which the service cannot see: use the UNC path (\\\\server\\share\\...) instead"
	}
	return ""
}
