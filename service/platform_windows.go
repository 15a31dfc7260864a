//go:build windows

package service

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	kservice "github.com/kardianos/service"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// platformOptions: automatic (delayed) start, and a restart 5 s after every
// failure, the failure count reset after a day without one.
func platformOptions(Options) (kservice.KeyValue, error) {
	return kservice.KeyValue{
		"StartType":              "automatic",
		"DelayedAutoStart":       true,
		"OnFailure":              "restart",
		"OnFailureDelayDuration": "5s",
		"OnFailureResetPeriod":   86400,
	}, nil
}

// afterInstall makes the recovery actions apply when the service stops
// itself with an error exit code (our Run on a daemon failure), not only
// when the process crashes.
func afterInstall(opts Options) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service control manager: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(opts.Name)
	if err != nil {
		return fmt.Errorf("open service %s: %w", opts.Name, err)
	}
	defer s.Close()
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("set recovery on non-crash failures for %s: %w", opts.Name, err)
	}
	return nil
}

// runPlatform runs under the Service Control Manager when started by it,
// and otherwise in the console until Ctrl-C.
func (s *Service) runPlatform() error {
	isService, err := svc.IsWindowsService()
	if err != nil {
		return fmt.Errorf("service: detect the Service Control Manager: %w", err)
	}
	if !isService {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
		defer signal.Stop(stop)
		return s.runUntil(stop)
	}
	h := &scmHandler{s: s}
	if err := svc.Run(s.opts.Name, h); err != nil {
		return fmt.Errorf("service: run %s under the Service Control Manager: %w", s.opts.Name, err)
	}
	return h.err
}

// scmHandler answers the Service Control Manager. Unlike the service
// library's own handler it also ends the service when the daemon ends on its
// own, with a non-zero exit code so the recovery actions restart it.
type scmHandler struct {
	s   *Service
	err error // the failure to return from Run; read after svc.Run returns
}

// Execute implements svc.Handler.
func (h *scmHandler) Execute(_ []string, req <-chan svc.ChangeRequest, changes chan<- svc.Status) (bool, uint32) {
	const accepts = svc.AcceptStop | svc.AcceptShutdown
	stopHint := uint32((h.s.opts.StopTimeout + 5*time.Second) / time.Millisecond)
	changes <- svc.Status{State: svc.StartPending}
	if err := h.s.prog.Start(h.s.svc); err != nil {
		h.err = err
		return true, 1
	}
	changes <- svc.Status{State: svc.Running, Accepts: accepts}
	for {
		select {
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				changes <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				changes <- svc.Status{State: svc.StopPending, WaitHint: stopHint}
				// A stop that went wrong is reported by Run, but the exit code
				// stays 0: with recovery on non-crash failures a non-zero code
				// would restart a service the operator just stopped.
				h.err = h.s.prog.Stop(h.s.svc)
				return false, 0
			}
		case <-h.s.prog.Done():
			// The daemon ended on its own: a failure, so exit non-zero and let
			// the recovery actions restart the service.
			changes <- svc.Status{State: svc.StopPending, WaitHint: stopHint}
			h.err = h.s.prog.Stop(h.s.svc)
			return true, 3
		}
	}
}
