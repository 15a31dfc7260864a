//go:build !windows

package service

import (
	"os"
	"os/signal"
	"syscall"

	kservice "github.com/kardianos/service"
)

// platformOptions gives the service library our own systemd unit in place
// of its default (which hard-codes RestartSec=120 and has no hardening).
func platformOptions(opts Options) (kservice.KeyValue, error) {
	unit, err := renderSystemdUnit(opts)
	if err != nil {
		return nil, err
	}
	return kservice.KeyValue{"SystemdScript": unit}, nil
}

// afterInstall has nothing to add on this system.
func afterInstall(Options) error { return nil }

// runPlatform runs until SIGTERM or an interrupt; systemd stops a unit with
// SIGTERM.
func (s *Service) runPlatform() error {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(stop)
	return s.runUntil(stop)
}
