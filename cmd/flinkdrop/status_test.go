package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/config"
	"github.com/flinkdrop/flinkdrop/flinkssim"
	"github.com/flinkdrop/flinkdrop/internal/samples"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
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
	testutil.WaitFor(t, 20*time.Second, "the status file", func() bool {
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

	testutil.WriteFiles(t, ws.inbox, map[string][]byte{"applicant-9/jan.pdf": samples.PDF("January")})
	daemon := startCLI(t, "run", "--config", cfg)
	waitForStatusFile(t, ws, daemon)

	// Running: the counts come from the status file the daemon keeps.
	testutil.WaitFor(t, 30*time.Second, "status to count the session done", func() bool {
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
	testutil.WriteFiles(t, ws.inbox, map[string][]byte{"applicant-7/jan.pdf": samples.PDF("January")})

	daemon := startCLI(t, "run", "--config", cfg)
	waitForStatusFile(t, ws, daemon)
	var last cliResult
	testutil.WaitFor(t, 30*time.Second, "status to report the pause", func() bool {
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
		// An hour's interval keeps the file fresh however slowly a loaded
		// machine reaches the status call.
		{name: "retrying", file: &status.Status{Version: "dev", UpdatedAt: time.Now(), Interval: status.Duration(time.Hour), Retrying: 2},
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

// TestStatusWithoutSecrets: an operator who cannot read the secret files
// (nor has their variables) still gets the status.
func TestStatusWithoutSecrets(t *testing.T) {
	t.Parallel()
	sim := startSim(t, flinkssim.Options{})
	ws := newWorkspace(t)
	cfg := writeConfig(t, sim, ws, testConfig{})
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(ws.root, "no-such-secret")
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if k, _, _ := strings.Cut(strings.TrimSpace(l), ":"); k == "client_secret_file" || k == "api_key_file" {
			l = l[:strings.Index(l, ":")+1] + " " + strconv.Quote(missing)
		}
		out = append(out, l)
	}
	if err := os.WriteFile(cfg, []byte(strings.Join(out, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := runCLI(context.Background(), "check", "--config", cfg); res.code != exitFailure || !strings.Contains(res.stdout, missing) {
		t.Fatalf("check with unreadable secret files: want exit 1 naming %s\n%v", missing, res)
	}
	res, rep := statusJSON(t, cfg)
	if res.code != exitNotRunning || !strings.Contains(rep.Reason, "never started") {
		t.Errorf("status with unreadable secret files: exit %d reason %q, want exit %d, never started\n%v", res.code, rep.Reason, exitNotRunning, res)
	}
}

func TestStatusOfACorruptDatabase(t *testing.T) {
	t.Parallel()
	sim := startSim(t, flinkssim.Options{})
	ws := newWorkspace(t)
	cfg := writeConfig(t, sim, ws, testConfig{})
	if err := os.WriteFile(filepath.Join(ws.state, stateDBName), bytes.Repeat([]byte("not bolt "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	res := runCLI(context.Background(), "status", "--config", cfg)
	if res.code != exitUnknown || !strings.Contains(res.stderr, "corrupt") {
		t.Errorf("status of a corrupt database: want exit %d (unknown) and a message saying corrupt\n%v", exitUnknown, res)
	}
}

// TestStatusOfAnUnreadableDatabase: permission denied on the database is
// answered from the status file.
func TestStatusOfAnUnreadableDatabase(t *testing.T) {
	t.Parallel()
	denied := func(path string) (*store.Store, error) {
		return nil, fmt.Errorf("store: open %s: %w", path, &fs.PathError{Op: "open", Path: path, Err: fs.ErrPermission})
	}
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	tests := []struct {
		name        string
		file        *status.Status // nil: no status file
		wantErr     bool
		wantRunning bool
		wantHealthy bool
		wantReason  string
	}{
		{name: "fresh status file", file: &status.Status{Version: "dev", UpdatedAt: now.Add(-time.Second)},
			wantRunning: true, wantHealthy: true, wantReason: "permission denied"},
		{name: "fresh and paused", file: &status.Status{Version: "dev", UpdatedAt: now, Paused: true, PausedReason: "token 401"},
			wantRunning: true, wantReason: "paused: token 401"},
		{name: "stale status file", file: &status.Status{Version: "dev", UpdatedAt: now.Add(-time.Hour)},
			wantReason: "not running (or stuck)"},
		{name: "no status file", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			state := t.TempDir()
			if err := os.WriteFile(filepath.Join(state, stateDBName), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if tt.file != nil {
				if err := status.Write(filepath.Join(state, status.FileName), *tt.file); err != nil {
					t.Fatal(err)
				}
			}
			cfg := &config.Config{StateDir: state}
			rep, err := readStatus(cfg, now, denied)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "service user") {
					t.Errorf("readStatus error = %v, want one naming the fix (service user)", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("readStatus error = %v, want none", err)
			}
			if rep.Running != tt.wantRunning || rep.Healthy != tt.wantHealthy || !strings.Contains(rep.Reason, tt.wantReason) {
				t.Errorf("readStatus = running %v healthy %v reason %q, want running %v healthy %v reason holding %q",
					rep.Running, rep.Healthy, rep.Reason, tt.wantRunning, tt.wantHealthy, tt.wantReason)
			}
		})
	}
}

func TestStatusHelpListsExitCodes(t *testing.T) {
	t.Parallel()
	res := runCLI(context.Background(), "status", "--help")
	for _, want := range []string{"0 running and healthy", "3 not running", "4 status unknown"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("status --help lacks %q:\n%s", want, res.stdout)
		}
	}
}
