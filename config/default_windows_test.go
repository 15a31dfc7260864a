//go:build windows

package config

import (
	"strings"
	"testing"
)

func TestDefaultStateDirWindows(t *testing.T) {
	t.Setenv("ProgramData", `D:\ProgramData`)
	if got, want := Default().StateDir, `D:\ProgramData\flinkdrop\state`; got != want {
		t.Errorf("Default().StateDir = %q, want %q", got, want)
	}
}

func TestWindowsPaths(t *testing.T) {
	yaml := baseYAML
	yaml, _ = replaceLine(t, yaml, "- path: /srv/scans/inbox", `- path: \\fileserver\scans\inbox`)
	yaml, _ = replaceLine(t, yaml, "outbox: /srv/scans/reports", `outbox: \\FILESERVER\Scans\reports\`)
	yaml, _ = replaceLine(t, yaml, "state_dir: /var/lib/fd", `state_dir: state`)
	c, err := Parse([]byte(yaml), ParseOptions{BaseDir: `C:\flinkdrop`, LookupEnv: testEnv(nil)})
	if err != nil {
		t.Fatalf("Parse error:\n%v", err)
	}
	for _, tt := range []struct{ name, got, want string }{
		{"UNC inbox", c.Inboxes[0].Path, `\\fileserver\scans\inbox`},
		{"UNC outbox", c.Inboxes[0].Outbox, `\\FILESERVER\Scans\reports`},
		{"relative state_dir", c.StateDir, `C:\flinkdrop\state`},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}

	// Case does not make a folder different on Windows.
	yaml, _ = replaceLine(t, yaml, `outbox: \\FILESERVER\Scans\reports\`, `outbox: \\FILESERVER\Scans\INBOX\reports`)
	_, err = Parse([]byte(yaml), ParseOptions{BaseDir: `C:\flinkdrop`, LookupEnv: testEnv(nil)})
	if err == nil || !strings.Contains(err.Error(), "would be uploaded") {
		t.Errorf("outbox inside the inbox in other case: error = %v, want the overlap named", err)
	}
}
