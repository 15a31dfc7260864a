package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	kservice "github.com/kardianos/service"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/flinkdrop/flinkdrop/config"
	"github.com/flinkdrop/flinkdrop/internal/logging"
	"github.com/flinkdrop/flinkdrop/service"
)

// interactive reports whether the process runs in a terminal rather than
// under systemd or the Windows Service Control Manager.
func interactive() bool { return kservice.Interactive() }

// serviceOptions describes the installed service for a config.
func serviceOptions(cfg *config.Config, configPath, user string) service.Options {
	opts := service.Options{
		Description: "flinkdrop: sends scanned bank statements from inbox folders to the Flinks Upload API",
		ConfigPath:  configPath,
		User:        user,
	}
	if cfg != nil {
		opts.ReadWritePaths = append(opts.ReadWritePaths, cfg.StateDir)
		for _, in := range cfg.Inboxes {
			opts.ReadWritePaths = append(opts.ReadWritePaths, in.Path, in.Outbox, in.Failed)
			if in.Archive != "" {
				opts.ReadWritePaths = append(opts.ReadWritePaths, in.Archive)
			}
		}
		if cfg.Log.File != "" {
			opts.ReadWritePaths = append(opts.ReadWritePaths, filepath.Dir(cfg.Log.File))
		}
	}
	return opts
}

// runAsService runs the daemon under the service manager, which decides
// when it stops. It builds the daemon's logger, so that with log.file set
// errors also reach the service manager's log.
func runAsService(cfg *config.Config, d *daemon, stderr io.Writer) error {
	svc, err := service.New(serviceOptions(cfg, cfg.Path, ""), d.run)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	logCfg, console, term := serviceLogSetup(cfg.Log, stderr, isTerminal(stderr), svc.SystemLogWriter())
	log, closeLog, err := logging.New(logCfg, console, term)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	defer closeLog.Close()
	d.log = log
	if err := svc.Run(); err != nil {
		log.Error().Err(err).Msg("flinkdrop failed")
		return &exitError{code: exitFailure, err: err}
	}
	return nil
}

// serviceLogSetup returns the arguments of logging.New for a daemon under
// the service manager. Without log.file the lines go to stderr, which the
// journal (or the SCM's console) already keeps. With log.file, stderr is not
// written (no terminal), so errors would reach the file only: the system log
// writer then takes the console's place, fed JSON lines, and forwards the
// error-level ones to the Windows Event Log or syslog.
func serviceLogSetup(cfg config.Log, stderr io.Writer, stderrIsTerminal bool, system zerolog.LevelWriter) (config.Log, io.Writer, bool) {
	if cfg.File == "" || stderrIsTerminal {
		return cfg, stderr, stderrIsTerminal
	}
	cfg.Console = config.ConsoleJSON
	return cfg, system, true
}

func newServiceCommand(g *globalFlags) *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "service install|uninstall|start|stop|restart|status",
		Short: "Install and control the system service (systemd or the Windows SCM)",
		Long: `service manages flinkdrop as a system service: systemd on Linux, the
Service Control Manager on Windows. install records the absolute --config path
and the folders the service may write (systemd hardening); run check first.

Exit codes: 0 done (status: running), 1 the action failed (status: not
running), 2 bad usage, 3 (status) not installed.`,
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"install", "uninstall", "start", "stop", "restart", "status"},
		RunE: func(cmd *cobra.Command, args []string) error {
			action := args[0]
			path, err := filepath.Abs(g.configPath())
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			var cfg *config.Config
			if action == "install" {
				if cfg, err = config.Load(path); err != nil {
					return &exitError{code: exitUsage, err: fmt.Errorf("service install: %w", err)}
				}
			}
			svc, err := service.New(serviceOptions(cfg, path, user), func(context.Context) error { return nil })
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			switch action {
			case "status":
				st, err := svc.Status()
				if err != nil {
					return &exitError{code: exitFailure, err: err}
				}
				fmt.Fprintln(cmd.OutOrStdout(), st)
				switch st {
				case service.StatusRunning:
					return nil
				case service.StatusNotInstalled:
					return &exitError{code: exitNotRunning}
				}
				return &exitError{code: exitFailure}
			case "install", "uninstall", "start", "stop", "restart":
				if err := svc.Control(action); err != nil {
					return &exitError{code: exitFailure, err: err}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "service %s: done\n", action)
				return nil
			}
			return &exitError{code: exitUsage, err: fmt.Errorf("service: unknown action %q (install, uninstall, start, stop, restart or status)", action)}
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "install: the account the service runs as (Linux user; Windows e.g. \"NT SERVICE\\flinkdrop\")")
	return cmd
}

func newSimCommand() *cobra.Command {
	var dir, addr, fraudAddr string
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run a local Flinks simulator over mutual TLS",
		Long: `sim serves the Flinks token, upload and complete calls over mutual TLS and
the fraud analysis on a second TLS listener, enforcing the integration guide's
rules. It makes a CA, server and client certificates (and a PFX) in --dir,
reusing them on the next start, and prints a config that works against it and a
curl command that gets a token. Ctrl-C stops it.

Exit codes: 0 stopped, 1 failure, 2 bad usage.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				dir = "flinkdrop-sim"
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			err = flinkssimRun(cmd.Context(), abs, addr, fraudAddr, cmd.OutOrStdout())
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "folder for certificates and credentials (default ./flinkdrop-sim)")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8443", "mTLS listen address for token, upload and complete")
	cmd.Flags().StringVar(&fraudAddr, "fraud-addr", "127.0.0.1:8444", "TLS listen address for the fraud analysis")
	return cmd
}
