package main

import (
	"context"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
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
}
