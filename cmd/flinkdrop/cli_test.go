package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/internal/testutil"
)

// ourCommands are the commands flinkdrop defines ("" is the root), not
// cobra's own help and completion.
func ourCommands(t *testing.T) []string {
	t.Helper()
	root := newRootCommand(strings.NewReader(""), io.Discard, io.Discard)
	names := []string{""}
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		names = append(names, c.Name())
	}
	if len(names) < 8 {
		t.Fatalf("found commands %q, want at least the root and run, service, status, check, sim, demo, version", names)
	}
	return names
}

func args(name string, more ...string) []string {
	if name == "" {
		return more
	}
	return append([]string{name}, more...)
}

func TestEveryCommandHelpListsExitCodes(t *testing.T) {
	t.Parallel()
	for _, name := range ourCommands(t) {
		res := runCLI(context.Background(), args(name, "--help")...)
		if res.code != exitOK {
			t.Errorf("flinkdrop %s --help: exit %d, want 0\n%v", name, res.code, res)
		}
		if !strings.Contains(res.stdout, "Exit codes") {
			t.Errorf("flinkdrop %s --help does not list the exit codes:\n%s", name, res.stdout)
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	var tests [][]string
	for _, name := range ourCommands(t) {
		tests = append(tests, args(name, "--no-such-flag"))
	}
	tests = append(tests,
		[]string{"frobnicate"},
		[]string{"version", "extra"},
		[]string{"run", "extra"},
		[]string{"service"},
		[]string{"service", "explode"},
		[]string{"status", "--json=maybe"},
		[]string{"demo", "--timeout", "soon"},
	)
	for _, a := range tests {
		res := runCLI(context.Background(), a...)
		if res.code != exitUsage {
			t.Errorf("flinkdrop %s: exit %d, want %d\n%v", strings.Join(a, " "), res.code, exitUsage, res)
		}
		if !strings.HasPrefix(res.stderr, "flinkdrop: ") || !strings.Contains(res.stderr, "--help") {
			t.Errorf("flinkdrop %s: stderr %q, want one line that starts \"flinkdrop: \" and points at --help", strings.Join(a, " "), res.stderr)
		}
	}
}

func TestInvalidConfigIsUsageError(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	for _, cmd := range []string{"run", "status"} {
		res := runCLI(context.Background(), cmd, "--config", missing)
		if res.code != exitUsage || !strings.Contains(res.stderr, missing) {
			t.Errorf("flinkdrop %s with a missing config: want exit 2 naming the file\n%v", cmd, res)
		}
	}
}

func TestVersionPrintsVersionCommitAndGo(t *testing.T) {
	t.Parallel()
	res := runCLI(context.Background(), "version")
	if res.code != exitOK {
		t.Fatalf("version: %v", res)
	}
	for _, want := range []string{"flinkdrop " + version, "commit " + buildCommit(), runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("version printed %q, want it to hold %q", res.stdout, want)
		}
	}
}

func TestDemoOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	res := runCLI(context.Background(), "demo", "--once", "--dir", dir, "--timeout", "60s")
	if res.code != exitOK {
		t.Fatalf("demo --once: %v", res)
	}
	reports := readReports(t, filepath.Join(dir, "outbox"))
	if len(reports) != len(demoSamples) {
		t.Errorf("demo wrote %d reports, want %d", len(reports), len(demoSamples))
	}
	for _, s := range demoSamples {
		if !strings.Contains(res.stdout, s.folder) {
			t.Errorf("demo printed no line for %s:\n%s", s.folder, res.stdout)
		}
	}
	if !strings.Contains(res.stdout, "fraud_signals ") {
		t.Errorf("demo printed no fraud_signals line:\n%s", res.stdout)
	}

	// Again in the same workspace: the earlier reports do not count.
	res = runCLI(context.Background(), "demo", "--once", "--dir", dir, "--timeout", "60s")
	if res.code != exitOK {
		t.Fatalf("second demo --once: %v", res)
	}
	if got := len(readReports(t, filepath.Join(dir, "outbox"))); got != 2*len(demoSamples) {
		t.Errorf("after a second demo the outbox holds %d reports, want %d", got, 2*len(demoSamples))
	}
	if left := testutil.ListFiles(t, filepath.Join(dir, "inbox")); len(left) != 0 {
		t.Errorf("second demo left %v in the inbox", left)
	}
}

func TestSimCommandPrintsAWorkingSetup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sim := startCLI(t, "sim", "--dir", dir, "--addr", "127.0.0.1:0", "--fraud-addr", "127.0.0.1:0")
	testutil.WaitFor(t, 20*time.Second, "the simulator to print its config", func() bool {
		if sim.exited() {
			t.Fatalf("sim stopped early: %v", sim.stop(t))
		}
		return strings.Contains(sim.out.String(), "curl ")
	})
	res := sim.stop(t)
	if res.code != exitOK {
		t.Errorf("sim after Ctrl-C: exit %d, want 0\n%v", res.code, res)
	}
	for _, want := range []string{"upload_url: https://127.0.0.1:", "client_secret_file:", "api_key_file:", "ca_file:"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("sim printed no %q:\n%s", want, res.stdout)
		}
	}
	// The secrets are in files the output names, never in the output.
	found := 0
	for _, f := range []string{"client_secret", "api_key", "client.pfx.password"} {
		entries, _ := filepath.Glob(filepath.Join(dir, f+"*"))
		found += len(entries)
		for _, e := range entries {
			data, err := os.ReadFile(e)
			if err != nil {
				t.Fatal(err)
			}
			if s := strings.TrimSpace(string(data)); s != "" && strings.Contains(res.stdout, s) {
				t.Errorf("sim printed the contents of %s", filepath.Base(e))
			}
		}
	}
	if found != 3 {
		t.Errorf("found %d secret files in the simulator's folder, want 3 (client secret, API key, PFX password)", found)
	}
}
