package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/flinkdrop/flinkdrop/config"
	"github.com/flinkdrop/flinkdrop/status"
	"github.com/flinkdrop/flinkdrop/store"
)

// statusReport is what `flinkdrop status --json` prints.
type statusReport struct {
	Running bool          `json:"running"`
	Healthy bool          `json:"healthy"`
	Reason  string        `json:"reason,omitempty"`
	Status  status.Status `json:"status"`
}

func newStatusCommand(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what is pending, uploading, polling, failed or paused, and why",
		Long: `status works whether or not the daemon runs: it reads the status file the
daemon keeps current, or the database when no daemon holds it.

It needs neither the secrets nor write access: a member of the service
user's group can run it (the status file is group-readable). When the
database cannot be opened (permission denied), it shows the status file.

Exit codes (LSB): 0 running and healthy, 1 running but paused or degraded,
3 not running, 4 status unknown (the database is corrupt, or neither it nor
the status file can be read), 2 bad usage or unreadable config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// status never goes on the wire: it must not need the secrets.
			cfg, err := config.LoadWith(g.configPath(), config.LoadOptions{SkipSecrets: true})
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			rep, err := readStatus(cfg, time.Now(), openStateReadOnly)
			if err != nil {
				return &exitError{code: exitUnknown, err: err}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printStatus(out, rep, time.Now())
			}
			switch {
			case !rep.Running:
				return &exitError{code: exitNotRunning}
			case !rep.Healthy:
				return &exitError{code: exitFailure}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

// openStateReadOnly opens the state database for status.
func openStateReadOnly(path string) (*store.Store, error) {
	return store.OpenReadOnly(path, 300*time.Millisecond)
}

// readStatus finds out whether a daemon holds the state and what it says.
// open opens the database read-only (openStateReadOnly but in tests). An
// error means the status is unknown.
func readStatus(cfg *config.Config, now time.Time, open func(string) (*store.Store, error)) (statusReport, error) {
	dbPath := filepath.Join(cfg.StateDir, stateDBName)
	statusPath := filepath.Join(cfg.StateDir, status.FileName)
	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		return statusReport{Reason: "never started: no database in " + cfg.StateDir}, nil
	}
	st, err := open(dbPath)
	if errors.Is(err, store.ErrLocked) {
		// A daemon holds the database: its status file tells the rest.
		s, err := status.Read(statusPath)
		if err != nil {
			return statusReport{Running: true, Reason: "running, but its status file cannot be read: " + err.Error()}, nil
		}
		return runningReport(s, now, ""), nil
	}
	if errors.Is(err, fs.ErrPermission) {
		// Not root nor the service user: whether a daemon holds the
		// database cannot be told from its lock; the status file can say.
		s, serr := status.Read(statusPath)
		if serr != nil {
			return statusReport{}, fmt.Errorf("cannot read the state: %v; %v (run status as root or as the service user, or add yourself to the service user's group)", err, serr)
		}
		note := "the database cannot be opened (permission denied): this is the daemon's status file"
		if s.Stale(now) {
			return statusReport{Reason: fmt.Sprintf("not running (or stuck): %s, last written %s ago", note, now.Sub(s.UpdatedAt).Round(time.Second)), Status: s}, nil
		}
		return runningReport(s, now, note), nil
	}
	if err != nil {
		return statusReport{}, err
	}
	defer st.Close()
	s, err := summaryStatus(st)
	if err != nil {
		return statusReport{}, err
	}
	if old, err := status.Read(statusPath); err == nil {
		s.Version, s.StartedAt, s.UpdatedAt = old.Version, old.StartedAt, old.UpdatedAt
		s.LastError, s.CertNotAfter, s.PausedReason = old.LastError, old.CertNotAfter, old.PausedReason
	}
	return statusReport{Reason: "not running", Status: s}, nil
}

// runningReport judges the status file s of a running daemon; note, when
// set, is said first in the reason.
func runningReport(s status.Status, now time.Time, note string) statusReport {
	rep := statusReport{Running: true, Healthy: true, Status: s}
	switch {
	case s.Stale(now):
		rep.Healthy, rep.Reason = false, fmt.Sprintf("the status file was last written %s ago: the daemon may be stuck", now.Sub(s.UpdatedAt).Round(time.Second))
	case s.Paused:
		rep.Healthy, rep.Reason = false, "paused: "+s.PausedReason
	case s.Retrying > 0:
		rep.Healthy, rep.Reason = false, fmt.Sprintf("%d session(s) retrying after transient errors", s.Retrying)
	}
	if note != "" {
		if rep.Reason == "" {
			rep.Reason = note
		} else {
			rep.Reason = note + "; " + rep.Reason
		}
	}
	return rep
}

func printStatus(w io.Writer, rep statusReport, now time.Time) {
	s := rep.Status
	state := "not running"
	switch {
	case rep.Running && rep.Healthy:
		state = "running, healthy"
	case rep.Running && s.Paused:
		state = "running, paused"
	case rep.Running:
		state = "running, degraded"
	}
	fmt.Fprintf(w, "flinkdrop: %s\n", state)
	if rep.Reason != "" && rep.Reason != "not running" {
		fmt.Fprintf(w, "why:       %s\n", rep.Reason)
	}
	if !s.StartedAt.IsZero() {
		fmt.Fprintf(w, "version:   %s, started %s\n", s.Version, s.StartedAt.Local().Format(time.RFC3339))
	}
	if s.CertNotAfter != nil {
		fmt.Fprintf(w, "cert:      expires %s (%d days)\n", s.CertNotAfter.Local().Format(time.DateOnly), int(s.CertNotAfter.Sub(now).Hours()/24))
	}
	if s.OldestPending != nil {
		fmt.Fprintf(w, "oldest:    pending for %s\n", now.Sub(*s.OldestPending).Round(time.Second))
	}
	if s.LastError != nil {
		fmt.Fprintf(w, "last error: %s (%s)\n", s.LastError.Message, s.LastError.Time.Local().Format(time.RFC3339))
	}
	states := make([]string, 0, len(s.Counts))
	for k := range s.Counts {
		states = append(states, k)
	}
	sort.Strings(states)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSTATE\tSESSIONS")
	for _, k := range states {
		fmt.Fprintf(tw, "%s\t%d\n", k, s.Counts[k])
	}
	tw.Flush()
	if len(s.Outcomes) > 0 {
		outcomes := make([]string, 0, len(s.Outcomes))
		for k := range s.Outcomes {
			outcomes = append(outcomes, k)
		}
		sort.Strings(outcomes)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "\nDONE BY OUTCOME\tSESSIONS")
		for _, k := range outcomes {
			name := k
			if name == "" {
				name = "(none)"
			}
			fmt.Fprintf(tw, "%s\t%d\n", name, s.Outcomes[k])
		}
		tw.Flush()
	}
	if len(s.Sessions) > 0 {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "\nSESSION\tFOLDER\tSTATE\tFILES\tAGE\tDETAIL")
		for _, ss := range s.Sessions {
			folder := ss.Folder
			if folder == "" {
				folder = "(inbox root)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", ss.ID, folder, ss.State, ss.Files,
				now.Sub(ss.FirstSeen).Round(time.Second), strings.ReplaceAll(ss.Detail, "\n", " "))
		}
		tw.Flush()
	}
}
