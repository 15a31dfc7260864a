package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	kservice "github.com/kardianos/service"
	"github.com/rs/zerolog"
)

// fakeManager is a hand-written kservice.Service: it records the calls and
// answers Status and the actions as told.
type fakeManager struct {
	mu        sync.Mutex
	calls     []string
	actionErr error
	status    kservice.Status
	statusErr error
	logger    *fakeLogger
}

var _ kservice.Service = (*fakeManager)(nil)

func (f *fakeManager) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.actionErr
}

func (f *fakeManager) Run() error       { return f.record("run") }
func (f *fakeManager) Start() error     { return f.record("start") }
func (f *fakeManager) Stop() error      { return f.record("stop") }
func (f *fakeManager) Restart() error   { return f.record("restart") }
func (f *fakeManager) Install() error   { return f.record("install") }
func (f *fakeManager) Uninstall() error { return f.record("uninstall") }
func (f *fakeManager) Logger(chan<- error) (kservice.Logger, error) {
	return f.SystemLogger(nil)
}
func (f *fakeManager) SystemLogger(chan<- error) (kservice.Logger, error) {
	if f.logger == nil {
		return nil, errors.New("no system log here")
	}
	return f.logger, nil
}
func (f *fakeManager) String() string                   { return "fake" }
func (f *fakeManager) Platform() string                 { return "fake" }
func (f *fakeManager) Status() (kservice.Status, error) { return f.status, f.statusErr }

// fakeLogger records what reaches the service manager's log.
type fakeLogger struct {
	mu     sync.Mutex
	errors []string
}

func (l *fakeLogger) Error(v ...any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errors = append(l.errors, fmt.Sprint(v...))
	return nil
}
func (l *fakeLogger) Warning(...any) error          { return nil }
func (l *fakeLogger) Info(...any) error             { return nil }
func (l *fakeLogger) Errorf(string, ...any) error   { return nil }
func (l *fakeLogger) Warningf(string, ...any) error { return nil }
func (l *fakeLogger) Infof(string, ...any) error    { return nil }

func (l *fakeLogger) got() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errors...)
}

// newTestService builds a Service around run with mgr standing in for the
// service manager (nil: none detected), running non-interactively.
func newTestService(t *testing.T, opts Options, run Runner, mgr kservice.Service) *Service {
	t.Helper()
	if opts.Executable == "" {
		opts.Executable = "/usr/local/bin/flinkdrop"
	}
	opts.Log = zerolog.Nop()
	s, err := New(opts, run)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	s.svc = mgr
	s.interactive = func() bool { return false }
	return s
}

func blockUntilCancelled(ctx context.Context) error { <-ctx.Done(); return nil }

func TestControl(t *testing.T) {
	for _, action := range []string{"install", "uninstall", "start", "stop", "restart"} {
		t.Run(action, func(t *testing.T) {
			mgr := &fakeManager{}
			s := newTestService(t, Options{}, blockUntilCancelled, mgr)
			if err := s.Control(action); err != nil {
				t.Fatalf("Control(%q) = %v, want nil", action, err)
			}
			if got := strings.Join(mgr.calls, ","); got != action {
				t.Errorf("Control(%q) called %q on the manager, want %q", action, got, action)
			}
		})
	}
}

func TestControlErrors(t *testing.T) {
	tests := []struct {
		name     string
		mgr      kservice.Service
		action   string
		wantIs   error
		wantText string
	}{
		{"unknown action", &fakeManager{}, "explode", ErrUnknownAction, "install"},
		{"no service manager", nil, "install", ErrNoServiceManager, "flinkdrop run"},
		{"permission", &fakeManager{actionErr: os.ErrPermission}, "install", os.ErrPermission, "as root"},
		{"not installed", &fakeManager{actionErr: kservice.ErrNotInstalled}, "start", kservice.ErrNotInstalled, "install it first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestService(t, Options{}, blockUntilCancelled, tt.mgr)
			err := s.Control(tt.action)
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("Control(%q) = %v, want an error wrapping %v", tt.action, err, tt.wantIs)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Control(%q) = %q, want it to mention %q", tt.action, err, tt.wantText)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	other := errors.New("systemctl: bus not available")
	tests := []struct {
		name    string
		mgr     kservice.Service
		want    string
		wantErr bool
	}{
		{"running", &fakeManager{status: kservice.StatusRunning}, StatusRunning, false},
		{"stopped", &fakeManager{status: kservice.StatusStopped}, StatusStopped, false},
		{"not installed", &fakeManager{statusErr: kservice.ErrNotInstalled}, StatusNotInstalled, false},
		{"error", &fakeManager{statusErr: other}, StatusUnknown, true},
		{"unknown", &fakeManager{status: kservice.StatusUnknown}, StatusUnknown, false},
		{"no service manager", nil, StatusUnknown, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestService(t, Options{}, blockUntilCancelled, tt.mgr)
			got, err := s.Status()
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("Status() = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	run := blockUntilCancelled
	tests := []struct {
		name string
		opts Options
		run  Runner
	}{
		{"nil runner", Options{}, nil},
		{"name with space", Options{Name: "flink drop"}, run},
		{"negative stop timeout", Options{StopTimeout: -1}, run},
		{"newline in config path", Options{ConfigPath: "/etc/x\n/y.yaml"}, run},
		{"template braces in a folder", Options{ReadWritePaths: []string{"/srv/{{Name}}"}}, run},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Executable = "/usr/local/bin/flinkdrop"
			if _, err := New(tt.opts, tt.run); !errors.Is(err, ErrInvalidOption) {
				t.Errorf("New(%+v) = %v, want an error wrapping ErrInvalidOption", tt.opts, err)
			}
		})
	}
}

func TestRunReportsFailureToTheSystemLog(t *testing.T) {
	log := &fakeLogger{}
	s := newTestService(t, Options{}, func(context.Context) error {
		return errors.New("boom")
	}, &fakeManager{logger: log})
	if err := s.Run(); err == nil {
		t.Fatal("Run() = nil, want the Runner's failure")
	}
	got := log.got()
	if len(got) != 1 || !strings.Contains(got[0], "boom") {
		t.Errorf("system log got %q, want one error mentioning boom", got)
	}
}

func TestSystemLogWriterForwardsErrorsOnly(t *testing.T) {
	log := &fakeLogger{}
	s := newTestService(t, Options{}, blockUntilCancelled, &fakeManager{logger: log})
	l := zerolog.New(s.SystemLogWriter())
	l.Info().Msg("all good")
	l.Warn().Msg("a warning")
	l.Error().Err(errors.New("certificate expired")).Str("folder", "a b").Msg("upload paused")
	got := log.got()
	want := `upload paused: certificate expired (folder="a b")`
	if len(got) != 1 || got[0] != want {
		t.Errorf("system log got %q, want [%q]", got, want)
	}
}

func TestSystemLogWriterInteractiveDropsLines(t *testing.T) {
	log := &fakeLogger{}
	s := newTestService(t, Options{}, blockUntilCancelled, &fakeManager{logger: log})
	s.interactive = func() bool { return true }
	l := zerolog.New(s.SystemLogWriter())
	l.Error().Msg("shown on the console already")
	if got := log.got(); len(got) != 0 {
		t.Errorf("interactive system log got %q, want nothing", got)
	}
}

func TestFormatLogLine(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{`{"level":"error","time":"2026-01-01T00:00:00Z","message":"m"}`, "m"},
		{`{"level":"error","err":"e","message":"m","n":3,"ok":true}`, "m: e (n=3 ok=true)"},
		{`{"level":"error","err":"e"}`, "e"},
		{`not json at all` + "\n", "not json at all"},
		{`{"message":"m","b":"x","a":"y"}`, `m (a="y" b="x")`},
		{`null`, "null"},
	}
	for _, tt := range tests {
		if got := formatLogLine([]byte(tt.in)); got != tt.want {
			t.Errorf("formatLogLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := `{"message":"` + strings.Repeat("é", maxSystemLogMessage) + `"}`
	if got := formatLogLine([]byte(long)); len(got) > maxSystemLogMessage || !strings.HasSuffix(got, "…") {
		t.Errorf("formatLogLine(long) has %d bytes ending %q, want at most %d ending with …", len(got), got[len(got)-8:], maxSystemLogMessage)
	}
}

func FuzzFormatLogLine(f *testing.F) {
	f.Add([]byte(`{"level":"error","err":"e","message":"m","n":3}`))
	f.Add([]byte(`{"message":{"nested":[1,2,{"x":null}]}}`))
	f.Add([]byte("\xff\xfe not utf8"))
	f.Add([]byte(`[1,2,3]`))
	f.Fuzz(func(t *testing.T, p []byte) {
		got := formatLogLine(p)
		if len(got) > maxSystemLogMessage {
			t.Errorf("formatLogLine(%q) has %d bytes, want at most %d", p, len(got), maxSystemLogMessage)
		}
	})
}
