package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/config"
	"github.com/flinkdrop/flinkdrop/flinkssim"
	"github.com/flinkdrop/flinkdrop/internal/samples"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
)

// TestRunOnceCreatesOutputFolders: outbox, archive, failed and state_dir
// that do not exist yet are made at start, so the session gets its report
// and `run --once` ends.
func TestRunOnceCreatesOutputFolders(t *testing.T) {
	t.Parallel()
	sim := startSim(t, flinkssim.Options{})
	ws := newWorkspace(t)
	for _, d := range []string{ws.outbox, ws.archive, ws.failed, ws.state} {
		if err := os.Remove(d); err != nil {
			t.Fatal(err)
		}
	}
	outbox := filepath.Join(ws.root, "out", "reports")
	state := filepath.Join(ws.root, "var", "state")
	cfg := writeConfig(t, sim, ws, testConfig{outbox: outbox, state: state})
	testutil.WriteFiles(t, ws.inbox, map[string][]byte{"applicant-1/jan.pdf": samples.PDF("January")})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := runCLI(ctx, "run", "--once", "--config", cfg)
	if res.code != exitOK {
		t.Fatalf("run --once with missing output folders: want exit 0\n%v", res)
	}
	for _, d := range []string{outbox, ws.archive, ws.failed, state} {
		fi, err := os.Stat(d)
		if err != nil || !fi.IsDir() {
			t.Errorf("folder %s after run --once: %v, want it created", d, err)
		}
	}
	if got := len(readReports(t, outbox)); got != 1 {
		t.Errorf("outbox holds %d reports, want 1", got)
	}
}

// TestRunFolderErrorsAtStart: a folder flinkdrop cannot create, or a missing
// inbox with --once, ends the run at once with exit 1 and a message naming
// the key and the folder.
func TestRunFolderErrorsAtStart(t *testing.T) {
	t.Parallel()
	sim := startSim(t, flinkssim.Options{})
	tests := []struct {
		name    string
		setup   func(t *testing.T, ws workspace, c *testConfig)
		wantMsg []string
	}{
		{name: "missing inbox",
			setup: func(t *testing.T, ws workspace, c *testConfig) {
				c.inbox = filepath.Join(ws.root, "no-such-inbox")
			},
			wantMsg: []string{"inboxes[0].path", "no-such-inbox", "does not exist"}},
		{name: "outbox under a regular file",
			setup: func(t *testing.T, ws workspace, c *testConfig) {
				c.outbox = filepath.Join(blocker(t, ws), "reports")
			},
			wantMsg: []string{"inboxes[0].outbox", "cannot be created", "write access"}},
		{name: "state_dir under a regular file",
			setup: func(t *testing.T, ws workspace, c *testConfig) {
				c.state = filepath.Join(blocker(t, ws), "state")
			},
			wantMsg: []string{"state_dir", "cannot be created", "write access"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ws := newWorkspace(t)
			var c testConfig
			tt.setup(t, ws, &c)
			cfg := writeConfig(t, sim, ws, c)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res := runCLI(ctx, "run", "--once", "--config", cfg)
			if ctx.Err() != nil {
				t.Fatalf("run --once did not end by itself\n%v", res)
			}
			if res.code != exitFailure {
				t.Errorf("run --once: exit %d, want %d\n%v", res.code, exitFailure, res)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(res.stderr, m) {
					t.Errorf("run --once stderr lacks %q\n%v", m, res)
				}
			}
		})
	}
}

// TestDaemonWaitsForAMissingInbox: the daemon (not --once) logs a missing
// inbox and keeps going; once the folder appears, its files are taken.
func TestDaemonWaitsForAMissingInbox(t *testing.T) {
	t.Parallel()
	sim := startSim(t, flinkssim.Options{})
	ws := newWorkspace(t)
	if err := os.Remove(ws.inbox); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, sim, ws, testConfig{})
	daemon := startCLI(t, "run", "--config", cfg)
	waitForStatusFile(t, ws, daemon)
	if !strings.Contains(daemon.errOut.String(), "inboxes[0].path") {
		t.Errorf("the daemon did not log the missing inbox naming inboxes[0].path\n%s", daemon.errOut.String())
	}
	testutil.WriteFiles(t, ws.inbox, map[string][]byte{"applicant-2/jan.pdf": samples.PDF("January")})
	testutil.WaitFor(t, 30*time.Second, "the report of the inbox that appeared", func() bool {
		if daemon.exited() {
			t.Fatalf("the daemon stopped: %v", daemon.stop(t))
		}
		entries, _ := os.ReadDir(ws.outbox)
		return len(entries) > 0
	})
	if res := daemon.stop(t); res.code != exitOK {
		t.Errorf("run after cancel: %v", res)
	}
}

// blocker makes a regular file in ws.root that no folder can be made under.
func blocker(t *testing.T, ws workspace) string {
	t.Helper()
	p := filepath.Join(ws.root, "a-file")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDaemonDoesNotCreateOutputFolders: the daemon leaves a missing outbox,
// archive or failed folder alone (it may be an unmounted share's mount
// point) and logs it; state_dir is still made.
func TestDaemonDoesNotCreateOutputFolders(t *testing.T) {
	t.Parallel()
	ws := newWorkspace(t)
	for _, d := range []string{ws.outbox, ws.archive, ws.failed, ws.state} {
		if err := os.Remove(d); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &config.Config{StateDir: ws.state, Inboxes: []config.Inbox{{
		Path: ws.inbox, Outbox: ws.outbox, Archive: ws.archive, Failed: ws.failed, AfterSuccess: config.AfterSuccessMove,
	}}}
	var logs testutil.SyncBuffer
	if err := prepareFolders(cfg, false, zerolog.New(&logs)); err != nil {
		t.Fatalf("prepareFolders(daemon) = %v, want nil", err)
	}
	for _, d := range []string{ws.outbox, ws.archive, ws.failed} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("daemon start created %s (stat err %v), want it left missing", d, err)
		}
		if !strings.Contains(logs.String(), d) {
			t.Errorf("log does not name the missing folder %s:\n%s", d, logs.String())
		}
	}
	if fi, err := os.Stat(ws.state); err != nil || !fi.IsDir() {
		t.Errorf("state_dir %s not created: %v", ws.state, err)
	}
}
