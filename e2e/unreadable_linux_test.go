package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/report"
)

// nobody is the unprivileged account the unreadable-file test runs the
// daemon as: root reads every file, so chmod 000 means nothing to it.
const nobody = 65534

// TestUnreadableFile runs the daemon as an unprivileged user next to a file
// it may not read: that file is rejected before upload with the reason and
// goes to failed/; the rest of its folder is archived.
func TestUnreadableFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the daemon as another user (as root, no file is unreadable)")
	}
	t.Parallel()
	e := newEnv(t, simOptions{}, cfgOptions{})
	e.addFolderFunc("locked", func(dir string) {
		for name, data := range pdfs(t.Name(), 2) {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(filepath.Join(dir, "02.pdf"), 0o000); err != nil {
			t.Fatal(err)
		}
	})
	// Everything else belongs to the daemon's user; 02.pdf stays root's.
	if err := os.Chmod(filepath.Dir(e.root), 0o755); err != nil {
		t.Fatal(err)
	}
	err := filepath.Walk(e.root, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.Name() == "02.pdf" {
			return err
		}
		return os.Lchown(path, nobody, nobody)
	})
	if err != nil {
		t.Fatal(err)
	}
	if f, err := os.Open(filepath.Dir(binPath)); err == nil {
		_ = f.Chmod(0o755) // the binary's folder must be reachable
		f.Close()
	}

	d := e.startAs(nobody, "run")
	e.waitSettled(d, 1, 60*time.Second)
	d.stop()
	e.verify(map[string]want{"locked": {rejected: map[string]string{"02.pdf": "unreadable"}}}, report.OutcomeUploaded)
}

// startAs is start with the process running as uid (and gid) id.
func (e *env) startAs(id uint32, args ...string) *proc {
	e.t.Helper()
	return e.startCmd(nil, func(c *exec.Cmd) {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: id, Gid: id}}
	}, args...)
}
