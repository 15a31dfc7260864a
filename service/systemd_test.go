package service

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// unitLines returns the unit's lines as a set, to check a line is present
// exactly as written.
func unitLines(unit string) map[string]bool {
	set := map[string]bool{}
	for _, l := range strings.Split(unit, "\n") {
		set[l] = true
	}
	return set
}

func TestSystemdUnit(t *testing.T) {
	base := Options{
		Executable:     "/usr/local/bin/flinkdrop",
		ConfigPath:     "/etc/flinkdrop/config.yaml",
		User:           "flinkdrop",
		ReadWritePaths: []string{"/var/lib/flinkdrop", "/srv/scans/inbox", "/srv/scans/reports", "/srv/scans/inbox", ""},
	}
	with := func(f func(*Options)) Options {
		o := base
		o.ReadWritePaths = append([]string(nil), base.ReadWritePaths...)
		f(&o)
		return o
	}
	tests := []struct {
		name    string
		opts    Options
		want    []string // lines that must be present
		notWant []string // lines that must be absent
	}{
		{
			name: "defaults",
			opts: base,
			want: []string{
				"[Service]",
				"Type=simple",
				"ExecStart=/usr/local/bin/flinkdrop run --config /etc/flinkdrop/config.yaml",
				"Restart=on-failure",
				"RestartSec=5",
				"TimeoutStopSec=15",
				"User=flinkdrop",
				"NoNewPrivileges=yes",
				"ProtectSystem=strict",
				"ProtectHome=read-only",
				"PrivateTmp=yes",
				// sorted, de-duplicated, "-" so a missing folder does not block the start
				"ReadWritePaths=-/srv/scans/inbox -/srv/scans/reports -/var/lib/flinkdrop",
				"EnvironmentFile=-/etc/flinkdrop/flinkdrop.env",
				"Description=" + DefaultDescription,
				"WantedBy=multi-user.target",
			},
			notWant: []string{"RestartSec=120"},
		},
		{
			name: "paths with spaces are quoted",
			opts: with(func(o *Options) {
				o.Executable = "/opt/flink drop/flinkdrop"
				o.ConfigPath = "/etc/flink drop/config.yaml"
				o.ReadWritePaths = []string{"/srv/my scans/inbox"}
			}),
			want: []string{
				`ExecStart="/opt/flink drop/flinkdrop" run --config "/etc/flink drop/config.yaml"`,
				`ReadWritePaths="-/srv/my scans/inbox"`,
			},
		},
		{
			name: "quotes, backslashes, percent and dollar are escaped",
			opts: with(func(o *Options) {
				o.ConfigPath = `/etc/a"b\c%d$e.yaml`
				o.ReadWritePaths = []string{"/srv/100%"}
				o.Description = "100% scans"
			}),
			want: []string{
				`ExecStart=/usr/local/bin/flinkdrop run --config "/etc/a\"b\\c%%d$$e.yaml"`,
				`ReadWritePaths=-/srv/100%%`,
				`Description=100%% scans`,
			},
		},
		{
			name: "a folder under /home turns ProtectHome off",
			opts: with(func(o *Options) { o.ReadWritePaths = append(o.ReadWritePaths, "/home/scanner/inbox") }),
			want: []string{"ProtectHome=no"},
		},
		{
			name:    "no user, no config",
			opts:    with(func(o *Options) { o.User = ""; o.ConfigPath = "" }),
			want:    []string{"ExecStart=/usr/local/bin/flinkdrop run"},
			notWant: []string{"User=", "EnvironmentFile=-/etc/flinkdrop/flinkdrop.env"},
		},
		{
			name: "stop timeout sets TimeoutStopSec",
			opts: with(func(o *Options) { o.StopTimeout = 20*time.Second + time.Millisecond }),
			want: []string{"TimeoutStopSec=26"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unit, err := SystemdUnit(tt.opts)
			if err != nil {
				t.Fatalf("SystemdUnit() = %v", err)
			}
			lines := unitLines(unit)
			for _, w := range tt.want {
				if !lines[w] {
					t.Errorf("SystemdUnit() lacks the line %q; got:\n%s", w, unit)
				}
			}
			for _, nw := range tt.notWant {
				if lines[nw] || strings.Contains(unit, "\n"+nw+"\n") {
					t.Errorf("SystemdUnit() has the line %q; got:\n%s", nw, unit)
				}
			}
			if strings.Contains(unit, "{{") {
				t.Errorf("SystemdUnit() contains \"{{\", which the service library would read as a template action")
			}
		})
	}
}

func TestSystemdUnitMakesConfigAbsolute(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	unit, err := SystemdUnit(Options{Executable: "/usr/local/bin/flinkdrop", ConfigPath: "conf/config.yaml"})
	if err != nil {
		t.Fatalf("SystemdUnit() = %v", err)
	}
	want := "ExecStart=/usr/local/bin/flinkdrop run --config " + systemdExecWord(filepath.Join(dir, "conf", "config.yaml"), true)
	if !unitLines(unit)[want] {
		t.Errorf("SystemdUnit() lacks %q; got:\n%s", want, unit)
	}
}

func TestSystemdUnitFollowsSymlinksIntoHome(t *testing.T) {
	// A folder whose real location is under /home needs ProtectHome=no too.
	// The test needs a symlink to a path under /home that exists.
	home, err := os.UserHomeDir()
	if err != nil || !underHome(home) {
		t.Skipf("no home directory under %v here (%q, %v)", homeDirs, home, err)
	}
	link := filepath.Join(t.TempDir(), "inbox")
	if err := os.Symlink(home, link); err != nil {
		t.Skipf("cannot make a symlink: %v", err)
	}
	unit, err := SystemdUnit(Options{Executable: "/usr/local/bin/flinkdrop", ReadWritePaths: []string{link}})
	if err != nil {
		t.Fatalf("SystemdUnit() = %v", err)
	}
	if !unitLines(unit)["ProtectHome=no"] {
		t.Errorf("SystemdUnit() with %s -> %s lacks ProtectHome=no; got:\n%s", link, home, unit)
	}
}

func TestSystemdUnitRejects(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"bad user", Options{User: "flink drop"}},
		{"control character", Options{ReadWritePaths: []string{"/srv/a\tb"}}},
		{"template braces", Options{Description: "{{Name}}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Executable = "/usr/local/bin/flinkdrop"
			if _, err := SystemdUnit(tt.opts); !errors.Is(err, ErrInvalidOption) {
				t.Errorf("SystemdUnit(%+v) = %v, want an error wrapping ErrInvalidOption", tt.opts, err)
			}
		})
	}
}

// TestSystemdUnitVerifies has systemd itself parse the unit. The executable
// sits in a folder with a space, so verify only passes if systemd reads the
// quoted path back as written.
func TestSystemdUnitVerifies(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("systemd units are Linux only")
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: cannot verify the unit")
	}
	dir := t.TempDir()
	binDir := filepath.Join(dir, "my bin")
	if err := os.Mkdir(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(binDir, "flinkdrop")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	inbox := filepath.Join(dir, "scans 100%", "inbox")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	unit, err := SystemdUnit(Options{
		Name:           "flinkdrop-verify-test",
		Executable:     exe,
		ConfigPath:     filepath.Join(dir, "conf dir", `it's "config".yaml`),
		User:           "root",
		ReadWritePaths: []string{inbox, filepath.Join(dir, "state")},
	})
	if err != nil {
		t.Fatalf("SystemdUnit() = %v", err)
	}
	path := filepath.Join(dir, "flinkdrop-verify-test.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, analyze, "verify", "--man=no", path)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=notice")
	out, err := cmd.CombinedOutput()
	// verify may complain about the machine (no running systemd in a
	// container, missing network-online.target); only lines about our unit
	// count.
	var ours []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "flinkdrop-verify-test") {
			ours = append(ours, l)
		}
	}
	if len(ours) > 0 {
		t.Errorf("systemd-analyze verify (err %v) complained about the unit:\n%s\nunit:\n%s", err, strings.Join(ours, "\n"), unit)
	}
}
