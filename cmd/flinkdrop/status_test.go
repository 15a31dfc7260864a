package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/flinkssim"
	"github.com/flinkdrop/flinkdrop/internal/samples"
	"github.com/flinkdrop/flinkdrop/status"
	"github.com/flinkdrop/flinkdrop/store"
)

// statusJSON runs `status --json` and decodes what it printed.
func statusJSON(t *testing.T, cfg string) (cliResult, statusReport) {
	t.Helper()
	res := runCLI(context.Background(), "status", "--json", "--config", cfg)
	var rep statusReport
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("status --json printed no JSON (%v): %v", err, res)
	}
	return res, rep
}

// waitForStatusFile waits until the daemon of ws has written its status file.
func waitForStatusFile(t *testing.T, ws workspace, daemon *bgRun) {
	t.Helper()
	waitFor(t, 20*time.Second, "the status file", func() bool {
		if daemon.exited() {
			t.Fatalf("the daemon stopped early: %v", daemon.stop(t))
		}
		_, err := os.Stat(filepath.Join(ws.state, status.FileName))
		return err == nil
	})
}

func TestStatusAcrossTheDaemonsLife(t *testing.T) {
	t.Parallel()
	sim := startSim(t, flinkssim.Options{})
	ws := newWorkspace(t)
	cfg := writeConfig(t, sim, ws, testConfig{})

	// Never started: no database yet.
	res, rep := statusJSON(t, cfg)
	if res.code != exitNotRunning || rep.Running {
		t.Errorf("status before any run: exit %d running %v, want exit %d, not running\n%v", res.code, rep.Running, exitNotRunning, res)
	}
	if !strings.Contains(rep.Reason, "never started") {
		t.Errorf("status before any run: reason %q, want it to say the daemon never started", rep.Reason)
	}
	if _, err := os.Stat(filepath.Join(ws.state, stateDBName)); !os.IsNotExist(err) {
		t.Errorf("status made a database (stat: %v); it must only read", err)
	}

	writeFiles(t, ws.inbox, map[string][]byte{"applicant-9/jan.pdf": samples.PDF("January")})
	daemon := startCLI(t, "run", "--config", cfg)
	waitForStatusFile(t, ws, daemon)

	// Running: the counts come from the status file the daemon keeps.
	waitFor(t, 30*time.Second, "status to count the session done", func() bool {
		_, rep := statusJSON(t, cfg)
		return rep.Status.Counts[string(store.StateDone)] == 1
	})
	res, rep = statusJSON(t, cfg)
	if res.code != exitOK || !rep.Running || !rep.Healthy {
		t.Errorf("status while running: exit %d running %v healthy %v, want exit 0, running and healthy\n%v", res.code, rep.Running, rep.Healthy, res)
	}
	if rep.Status.PID != os.Getpid() || rep.Status.Version != version {
		t.Errorf("status while running: pid %d version %q, want %d and %q", rep.Status.PID, rep.Status.Version, os.Getpid(), version)
	}
	text := runCLI(context.Background(), "status", "--config", cfg)
	if text.code != exitOK || !strings.Contains(text.stdout, "running, healthy") || !strings.Contains(text.stdout, "done") {
		t.Errorf("status (text) while running: want exit 0 and a table with \"running, healthy\" and done\n%v", text)
	}

	if stopped := daemon.stop(t); stopped.code != exitOK {
		t.Fatalf("run after cancel: %v", stopped)
	}

	// Stopped: the counts come from the database.
	res, rep = statusJSON(t, cfg)
	if res.code != exitNotRunning || rep.Running {
		t.Errorf("status after stop: exit %d running %v, want exit %d, not running\n%v", res.code, rep.Running, exitNotRunning, res)
	}
	if got := rep.Status.Counts[string(store.StateDone)]; got != 1 {
		t.Errorf("status after stop: %d done, want 1 (counts %v)", got, rep.Status.Counts)
	}
}

func TestStatusPausedOnWrongClientSecret(t *testing.T) {
	t.Parallel()
	sim := startSim(t, flinkssim.Options{})
	ws := newWorkspace(t)
	cfg := writeConfig(t, sim, ws, testConfig{clientSecret: "not-the-secret"})
	writeFiles(t, ws.inbox, map[string][]byte{"applicant-7/jan.pdf": samples.PDF("January")})

	daemon := startCLI(t, "run", "--config", cfg)
	waitForStatusFile(t, ws, daemon)
	var last cliResult
	waitFor(t, 30*time.Second, "status to report the pause", func() bool {
		last = runCLI(context.Background(), "status", "--config", cfg)
		return last.code == exitFailure
	})
	if !strings.Contains(last.stdout, "running, paused") || !strings.Contains(last.stdout, "401") {
		t.Errorf("status while paused: want the reason (paused, HTTP 401) printed\n%v", last)
	}
	res, rep := statusJSON(t, cfg)
	if res.code != exitFailure || !rep.Running || rep.Healthy || !rep.Status.Paused {
		t.Errorf("status --json while paused: exit %d running %v healthy %v paused %v, want exit 1, running, unhealthy, paused\n%v",
			res.code, rep.Running, rep.Healthy, rep.Status.Paused, res)
	}
	if stopped := daemon.stop(t); stopped.code != exitOK {
		t.Errorf("run after cancel: %v", stopped)
	}
	if _, err := os.Stat(filepath.Join(ws.inbox, "applicant-7", "jan.pdf")); err != nil {
		t.Errorf("the file left the inbox while credentials were refused: %v", err)
	}
	if n := len(sim.Aggregations()); n != 0 {
		t.Errorf("the simulator saw %d aggregations, want none", n)
	}
}

func TestSecondDaemonOnTheSameStateDir(t *testing.T) {
	t.Parallel()
	sim := startSim(t, flinkssim.Options{})
	ws := newWorkspace(t)
	cfg := writeConfig(t, sim, ws, testConfig{})
	first := startCLI(t, "run", "--config", cfg)
	waitForStatusFile(t, ws, first)

	for _, args := range [][]string{{"run", "--once"}, {"run"}} {
		res := runCLI(context.Background(), append(args, "--config", cfg)...)
		if res.code != exitFailure || !strings.Contains(res.stderr, "another flinkdrop") {
			t.Errorf("%v beside a running daemon: want exit 1 and \"another flinkdrop\"\n%v", args, res)
		}
	}
	if first.exited() {
		t.Errorf("the first daemon stopped: %v", first.stop(t))
	}
}

// TestStatusOfAHeldDatabase covers a database held by a daemon whose status
// file is old or missing: running, but not healthy.
func TestStatusOfAHeldDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		file       *status.Status // nil: no status file
		wantReason string
	}{
		{name: "stale status file", file: &status.Status{Version: "dev", UpdatedAt: time.Now().Add(-time.Hour), Interval: status.Duration(2 * time.Second)},
			wantReason: "the daemon may be stuck"},
		{name: "no status file", wantReason: "status file cannot be read"},
		{name: "retrying", file: &status.Status{Version: "dev", UpdatedAt: time.Now(), Retrying: 2},
			wantReason: "2 session(s) retrying"},
	}
	sim := startSim(t, flinkssim.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ws := newWorkspace(t)
			cfg := writeConfig(t, sim, ws, testConfig{})
			st, err := store.Open(filepath.Join(ws.state, stateDBName), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if tt.file != nil {
				if err := status.Write(filepath.Join(ws.state, status.FileName), *tt.file); err != nil {
					t.Fatal(err)
				}
			}
			res, rep := statusJSON(t, cfg)
			if res.code != exitFailure || !rep.Running || rep.Healthy || !strings.Contains(rep.Reason, tt.wantReason) {
				t.Errorf("status: exit %d running %v healthy %v reason %q, want exit 1, running, unhealthy, reason holding %q\n%v",
					res.code, rep.Running, rep.Healthy, rep.Reason, tt.wantReason, res)
			}
		})
	}
}
