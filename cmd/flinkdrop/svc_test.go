package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/config"
	"github.com/flinkdrop/flinkdrop/internal/logging"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
)

// fakeSystemLog records what would reach the service manager's log.
type fakeSystemLog struct {
	mu    sync.Mutex
	lines []string
}

func (f *fakeSystemLog) Write(p []byte) (int, error) { return f.WriteLevel(zerolog.NoLevel, p) }

func (f *fakeSystemLog) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lines = append(f.lines, level.String()+" "+string(p))
	return len(p), nil
}

var _ zerolog.LevelWriter = (*fakeSystemLog)(nil)

func TestServiceLogSetup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		file       bool
		terminal   bool
		wantSystem bool // the error line reaches the system log writer
		wantStderr bool // the error line reaches stderr
		wantInFile bool
	}{
		{name: "log file set: errors also go to the system log", file: true, wantSystem: true, wantInFile: true},
		{name: "no log file: stderr, which the journal keeps", wantStderr: true},
		{name: "log file set on a terminal: the terminal shows them", file: true, terminal: true, wantStderr: true, wantInFile: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Default().Log
			cfg.Console = config.ConsoleJSON
			logFile := filepath.Join(t.TempDir(), "flinkdrop.log")
			if tt.file {
				cfg.File = logFile
			}
			var stderr testutil.SyncBuffer
			sys := &fakeSystemLog{}
			logCfg, console, term := serviceLogSetup(cfg, &stderr, tt.terminal, sys)
			log, closer, err := logging.New(logCfg, console, term)
			if err != nil {
				t.Fatalf("logging.New: %v", err)
			}
			log.Info().Msg("an info line")
			log.Error().Err(errors.New("disk on fire")).Str("folder", "applicant-1").Msg("an error line")
			if err := closer.Close(); err != nil {
				t.Fatal(err)
			}

			sysText := strings.Join(sys.lines, "")
			if got := strings.Contains(sysText, "disk on fire"); got != tt.wantSystem {
				t.Errorf("system log got the error: %v, want %v (lines %q)", got, tt.wantSystem, sys.lines)
			}
			if tt.wantSystem && !strings.HasPrefix(sys.lines[len(sys.lines)-1], "error {") {
				t.Errorf("system log line %q, want an error-level JSON line", sys.lines[len(sys.lines)-1])
			}
			if got := strings.Contains(stderr.String(), "disk on fire"); got != tt.wantStderr {
				t.Errorf("stderr got the error: %v, want %v (stderr %q)", got, tt.wantStderr, stderr.String())
			}
			data, _ := os.ReadFile(logFile)
			if got := bytes.Contains(data, []byte("disk on fire")) && bytes.Contains(data, []byte("an info line")); got != tt.wantInFile {
				t.Errorf("log file has both lines: %v, want %v (file %q)", got, tt.wantInFile, data)
			}
		})
	}
}

func TestServiceOptionsListEveryFolderTheDaemonWrites(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.StateDir = filepath.FromSlash("/var/lib/flinkdrop")
	cfg.Log.File = filepath.FromSlash("/var/log/flinkdrop/flinkdrop.log")
	in := config.DefaultInbox()
	in.Path, in.Outbox = filepath.FromSlash("/srv/in"), filepath.FromSlash("/srv/out")
	in.Archive, in.Failed = filepath.FromSlash("/srv/archive"), filepath.FromSlash("/srv/failed")
	cfg.Inboxes = []config.Inbox{in}

	opts := serviceOptions(&cfg, "/etc/flinkdrop/config.yaml", "flinkdrop")
	if opts.ConfigPath != "/etc/flinkdrop/config.yaml" || opts.User != "flinkdrop" {
		t.Errorf("serviceOptions: config %q user %q, want the ones given", opts.ConfigPath, opts.User)
	}
	for _, want := range []string{cfg.StateDir, in.Path, in.Outbox, in.Archive, in.Failed, filepath.Dir(cfg.Log.File)} {
		if !slices.Contains(opts.ReadWritePaths, want) {
			t.Errorf("ReadWritePaths %q lack %s", opts.ReadWritePaths, want)
		}
	}
	if got := serviceOptions(nil, "/c.yaml", "").ReadWritePaths; len(got) != 0 {
		t.Errorf("serviceOptions without a config: ReadWritePaths %q, want none", got)
	}
}
