// Package service runs flinkdrop as a system service through
// github.com/kardianos/service: systemd on Linux (with its own hardened unit),
// the Service Control Manager on Windows (restart on failure, delayed
// automatic start).
//
// The daemon itself is a Runner. Start launches it and returns at once; Stop
// cancels its context and waits at most StopTimeout. A Runner that returns on
// its own is a failure: Run returns an error, main exits non-zero, and the
// service manager restarts the service.
package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	kservice "github.com/kardianos/service"
)

// Runner is the daemon's run group. It returns when ctx is cancelled.
type Runner func(ctx context.Context) error

// Service installs, controls and runs the daemon as a system service.
type Service struct {
	opts Options
	prog *program
	svc  kservice.Service // nil when no service manager was detected
	// interactive reports whether the process was started from a terminal
	// rather than by the service manager.
	interactive func() bool

	sysLogOnce sync.Once
	sysLog     kservice.Logger // nil when there is none (interactive, or it failed to open)
}

// Status values returned by Service.Status.
const (
	StatusRunning      = "running"
	StatusStopped      = "stopped"
	StatusNotInstalled = "not installed"
	StatusUnknown      = "unknown"
)

// Actions accepted by Service.Control.
var actions = []string{"install", "uninstall", "start", "stop", "restart"}

// New returns a Service that runs run. On a machine without a service
// manager it still runs (interactively); Control and Status then fail with
// ErrNoServiceManager.
func New(opts Options, run Runner) (*Service, error) {
	if run == nil {
		return nil, fmt.Errorf("service: %w: no Runner given", ErrInvalidOption)
	}
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	s := &Service{
		opts:        opts,
		prog:        newProgram(run, opts.StopTimeout, opts.Clock, opts.Log),
		interactive: kservice.Interactive,
	}
	cfg, err := kardianosConfig(opts)
	if err != nil {
		return nil, err
	}
	svc, err := kservice.New(s.prog, cfg)
	switch {
	case errors.Is(err, kservice.ErrNoServiceSystemDetected):
		// Run still works; Control and Status say why they cannot.
	case err != nil:
		return nil, fmt.Errorf("service: set up %s: %w", opts.Name, err)
	default:
		s.svc = svc
	}
	return s, nil
}

// kardianosConfig is the service library's view of opts; platformOptions
// (per OS) adds the systemd unit or the Windows recovery settings.
func kardianosConfig(opts Options) (*kservice.Config, error) {
	kv, err := platformOptions(opts)
	if err != nil {
		return nil, err
	}
	return &kservice.Config{
		Name:        opts.Name,
		DisplayName: opts.DisplayName,
		Description: opts.Description,
		UserName:    opts.User,
		Arguments:   opts.arguments(),
		Executable:  opts.Executable,
		Option:      kv,
	}, nil
}

// Control performs action on the installed service: install, uninstall,
// start, stop or restart. Install records the executable and the absolute
// config path; it fails if the service is already installed.
func (s *Service) Control(action string) error {
	if s.svc == nil {
		return fmt.Errorf("service: %s %s: %w (systemd or the Windows Service Control Manager is needed; use \"flinkdrop run\" in the foreground instead)",
			action, s.opts.Name, ErrNoServiceManager)
	}
	var err error
	switch action {
	case "install":
		if err = s.svc.Install(); err == nil {
			err = afterInstall(s.opts)
		}
	case "uninstall":
		err = s.svc.Uninstall()
	case "start":
		err = s.svc.Start()
	case "stop":
		err = s.svc.Stop()
	case "restart":
		err = s.svc.Restart()
	default:
		return fmt.Errorf("service: %w %q (use one of %v)", ErrUnknownAction, action, actions)
	}
	if err != nil {
		return fmt.Errorf("service: %s %s: %w%s", action, s.opts.Name, err, controlHint(action, err))
	}
	s.opts.Log.Info().Str("service", s.opts.Name).Str("action", action).Msg("service: done")
	return nil
}

// controlHint suggests the fix for a failed Control.
func controlHint(action string, err error) string {
	switch {
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return " (run it as root, or from an elevated prompt on Windows)"
	case errors.Is(err, kservice.ErrNotInstalled):
		return " (install it first: flinkdrop service install --config FILE)"
	case action == "install":
		return " (if it is already installed, run \"flinkdrop service uninstall\" first)"
	}
	return ""
}

// Status reports the installed service's state: running, stopped, not
// installed, or unknown (with the error saying why).
func (s *Service) Status() (string, error) {
	if s.svc == nil {
		return StatusUnknown, fmt.Errorf("service: status of %s: %w", s.opts.Name, ErrNoServiceManager)
	}
	st, err := s.svc.Status()
	switch {
	case errors.Is(err, kservice.ErrNotInstalled):
		return StatusNotInstalled, nil
	case err != nil:
		return StatusUnknown, fmt.Errorf("service: status of %s: %w", s.opts.Name, err)
	case st == kservice.StatusRunning:
		return StatusRunning, nil
	case st == kservice.StatusStopped:
		return StatusStopped, nil
	}
	return StatusUnknown, nil
}

// Run runs the daemon until the service manager (or, interactively, Ctrl-C
// or SIGTERM) stops it. It returns nil after a clean stop, and an error when
// the daemon failed, ended on its own, or did not stop within StopTimeout;
// main then exits non-zero so the service manager restarts the service.
func (s *Service) Run() error {
	err := s.runPlatform()
	if err != nil {
		s.opts.Log.Error().Err(err).Str("service", s.opts.Name).Msg("service: stopped with an error")
		if l := s.systemLogger(); l != nil {
			_ = l.Error(err.Error())
		}
	}
	return err
}

// runUntil starts the program, waits for stop or for the program to end on
// its own, and stops it.
func (s *Service) runUntil(stop <-chan os.Signal) error {
	if err := s.prog.Start(s.svc); err != nil {
		return err
	}
	select {
	case sig := <-stop:
		s.opts.Log.Info().Str("signal", sig.String()).Msg("service: stopping")
	case <-s.prog.Done():
	}
	return s.prog.Stop(s.svc)
}

// systemLogger opens the service manager's log (the Windows Event Log,
// syslog/the journal on Linux) once. It is nil when running interactively,
// where the console already shows every line, or when it cannot be opened.
func (s *Service) systemLogger() kservice.Logger {
	s.sysLogOnce.Do(func() {
		if s.svc == nil || s.interactive() {
			return
		}
		l, err := s.svc.SystemLogger(nil)
		if err != nil {
			s.opts.Log.Warn().Err(err).Msg("service: cannot open the service manager's log; errors go to the daemon's log only")
			return
		}
		s.sysLog = l
	})
	return s.sysLog
}
