package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set by scripts/build.sh with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

// Exit codes of the flinkdrop command.
const (
	exitOK         = 0
	exitFailure    = 1 // the command failed, or (status) the daemon is paused or degraded
	exitUsage      = 2 // bad flags or arguments
	exitNotRunning = 3 // status: the daemon is not running (LSB)
	exitUnknown    = 4 // status: the daemon's status is unknown (LSB), e.g. a corrupt database
)

// run is the whole program: main only adds the process around it, so tests
// can call it with their own arguments, streams and context.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand(stdin, stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "flinkdrop:", ee.err)
		}
		return ee.code
	}
	// Anything else is cobra refusing the command line.
	path := root.CommandPath()
	if cmd != nil {
		path = cmd.CommandPath()
	}
	fmt.Fprintf(stderr, "flinkdrop: %v (see `%s --help`)\n", err, path)
	return exitUsage
}

func newRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "flinkdrop",
		Short: "Send folders of scanned bank statements to the Flinks Upload API",
		Long: `flinkdrop watches inbox folders of scanned bank statements, uploads each
folder to the Flinks Upload API as one session over mutual TLS, polls the
fraud analysis and writes one JSON report per session to an outbox folder.

Start with "flinkdrop demo", then write a config (see config.example.yaml),
run "flinkdrop check" and install the service.

Exit codes: 0 success; 1 the command failed (each command's help says how);
2 bad usage or an invalid config; 3 (status) the daemon is not running;
4 (status) its status is unknown (a corrupt or unreadable database).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	g := &globalFlags{}
	root.PersistentFlags().StringVar(&g.config, "config", "", "config file (default "+defaultConfigPath()+")")
	root.AddCommand(
		newRunCommand(g, stderr),
		newServiceCommand(g),
		newStatusCommand(g),
		newCheckCommand(g),
		newSimCommand(),
		newDemoCommand(),
		newVersionCommand(),
	)
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Long: `version prints flinkdrop's version, the commit it was built from, and the
Go version and platform.

Exit codes: 0 printed, 2 bad usage.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "flinkdrop %s (commit %s, %s %s/%s)\n",
				version, buildCommit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

// buildCommit returns the commit stamped at build time, or the one the Go
// toolchain recorded from version control.
func buildCommit() string {
	if commit != "" {
		return commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
