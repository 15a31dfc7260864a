package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/flinkdrop/flinkdrop/config"
	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/internal/logging"
	"github.com/flinkdrop/flinkdrop/store"
)

// globalFlags are the flags every command shares.
type globalFlags struct {
	config string
}

func (g *globalFlags) configPath() string {
	if g.config != "" {
		return g.config
	}
	return defaultConfigPath()
}

func newRunCommand(g *globalFlags, stderr io.Writer) *cobra.Command {
	var once bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the daemon in the foreground (what the service runs)",
		Long: `run watches the inboxes and carries every session to its report until stopped
(SIGTERM, Ctrl-C or the service manager; it stops within 10 s and resumes
interrupted work at the next start).

With --once it resumes the sessions left from earlier runs, takes the files in
the inboxes now (each once stable for stable_for; folders close without
waiting for settle), carries every session to its report and exits. Files that
appear after the start wait for the next run.

Exit codes: 0 every session got its report (whatever its outcome), or the
daemon was stopped; 1 a credential or certificate error (every file left in
place), --once stopped before every session had its report, --once with a
missing inbox folder, a state_dir, outbox, archive or failed folder that
cannot be created, another daemon holds state_dir, or another failure; 2 bad
usage or an invalid config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(g.configPath())
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			d := &daemon{cfg: cfg, clock: clock.Real(), once: once, startedAt: time.Now(),
				hook: crashHookFromEnv(os.Getenv)}
			if !once && !interactive() {
				// Started by systemd or the Windows SCM: talk to it.
				return runAsService(cfg, d, stderr)
			}
			log, closeLog, err := logging.New(cfg.Log, stderr, isTerminal(stderr))
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			defer closeLog.Close()
			d.log = log
			if err := d.run(cmd.Context()); err != nil {
				log.Error().Err(err).Msg("flinkdrop failed")
				return &exitError{code: exitFailure, err: explain(err)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "process what is in the inboxes now, then exit")
	return cmd
}

// explain adds the operator's next step to the errors that need one.
func explain(err error) error {
	switch {
	case errors.Is(err, store.ErrLocked):
		return err
	case errors.Is(err, errCredentialsOnce):
		return fmt.Errorf("%w\nrun `flinkdrop check` for a diagnosis; every file was left in place", err)
	}
	return err
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && logging.IsTerminal(f)
}
