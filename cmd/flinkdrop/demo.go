package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/flinkdrop/flinkdrop/config"
	"github.com/flinkdrop/flinkdrop/flinkssim"
	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/internal/logging"
	"github.com/flinkdrop/flinkdrop/internal/samples"
	"github.com/flinkdrop/flinkdrop/report"
)

// demoSamples are the folders the demo drops into its inbox. The name with
// "fraud" in it makes the simulator report fraud signals.
var demoSamples = []struct {
	folder string
	files  map[string][]byte
}{
	{"applicant-1001", map[string][]byte{
		"statement-january.pdf":  samples.PDF("Demo bank statement - January"),
		"statement-february.png": samples.PNG(2),
	}},
	{"applicant-1002", map[string][]byte{
		"fraud-altered-statement.pdf": samples.PDF("Demo statement with altered totals"),
		"scan-page-2.jpg":             samples.JPEG(3),
	}},
	{"applicant-1003", map[string][]byte{
		"statement-march.tiff": samples.TIFF(4),
	}},
}

func newDemoCommand() *cobra.Command {
	var dir string
	var once bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the simulator and the daemon on a fresh workspace with sample documents",
		Long: `demo shows flinkdrop working end to end without Flinks credentials: it
starts the built-in simulator, writes a config for it, drops sample documents
into an inbox, runs the daemon and prints a line for each report as it appears.
Drop more files (PDF, PNG, JPG, TIFF) into a new folder under the inbox to see
them go through. Ctrl-C stops it.

Exit codes: 0 done (with --once: every sample reported), 1 failure, 2 bad usage.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), dir, once, timeout)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "workspace folder (default: a new temporary folder)")
	cmd.Flags().BoolVar(&once, "once", false, "exit once the sample documents are reported")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Minute, "with --once: give up after this long")
	return cmd
}

func runDemo(ctx context.Context, stdout, stderr io.Writer, dir string, once bool, timeout time.Duration) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "flinkdrop-demo-")
		if err != nil {
			return &exitError{code: exitFailure, err: err}
		}
		dir = d
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	sim, err := flinkssim.Start(flinkssim.Options{Dir: filepath.Join(dir, "sim"), FraudPolls: 1, Log: zerolog.Nop()})
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("demo: start the simulator: %w", err)}
	}
	defer sim.Close()

	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(demoConfig(sim, dir)), 0o600); err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("demo: its own config is invalid (a bug): %w", err)}
	}
	inbox := cfg.Inboxes[0]
	for _, d := range []string{inbox.Path, inbox.Outbox, inbox.Archive, inbox.Failed} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return &exitError{code: exitFailure, err: err}
		}
	}
	// Reports from an earlier demo in the same workspace are not this run's.
	seen := map[string]bool{}
	newReports(inbox.Outbox, seen)
	want := map[string]bool{}
	for _, s := range demoSamples {
		folder := filepath.Join(inbox.Path, s.folder)
		if err := os.MkdirAll(folder, 0o755); err != nil {
			return &exitError{code: exitFailure, err: err}
		}
		for name, data := range s.files {
			if err := os.WriteFile(filepath.Join(folder, name), data, 0o644); err != nil {
				return &exitError{code: exitFailure, err: err}
			}
		}
		want[s.folder] = true
	}

	fmt.Fprintf(stdout, "flinkdrop demo\n  workspace  %s\n  config     %s\n  simulator  %s (fraud analysis %s)\n",
		dir, cfgPath, sim.UploadURL(), sim.FraudURL())
	fmt.Fprintf(stdout, "  drop files into a new folder under  %s\n  reports appear in                   %s\n  uploaded files go to                %s\n",
		inbox.Path, inbox.Outbox, inbox.Archive)
	fmt.Fprintf(stdout, "  %d sample folders dropped; a report line follows for each session.\n\n", len(demoSamples))

	// The config sends the log to a file; nothing goes to the terminal.
	log, closeLog, err := logging.New(cfg.Log, stderr, false)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	defer closeLog.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d := &daemon{cfg: cfg, log: log, clock: clock.Real(), startedAt: time.Now()}
	daemonErr := make(chan error, 1)
	go func() { daemonErr <- d.run(ctx) }()

	var deadline <-chan time.Time
	if once {
		deadline = time.After(timeout)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, r := range newReports(inbox.Outbox, seen) {
			fmt.Fprintln(stdout, summarizeReport(r))
			delete(want, strings.SplitN(r.Folder, "/", 2)[0])
		}
		if once && len(want) == 0 {
			cancel()
			<-daemonErr
			fmt.Fprintf(stdout, "\nevery sample reported; see %s\n", inbox.Outbox)
			return nil
		}
		select {
		case err := <-daemonErr:
			if err != nil {
				return &exitError{code: exitFailure, err: fmt.Errorf("demo: the daemon stopped: %w (log: %s)", err, cfg.Log.File)}
			}
			return nil
		case <-deadline:
			cancel()
			<-daemonErr
			return &exitError{code: exitFailure, err: fmt.Errorf("demo: %d sample(s) not reported within %s (log: %s)", len(want), timeout, cfg.Log.File)}
		case <-tick.C:
		}
	}
}

// newReports returns the reports in outbox not yet in seen, by name.
func newReports(outbox string, seen map[string]bool) []report.Report {
	entries, err := os.ReadDir(outbox)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") && !seen[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []report.Report
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(outbox, n))
		if err != nil {
			continue
		}
		var r report.Report
		if err := json.Unmarshal(data, &r); err != nil {
			continue
		}
		seen[n] = true
		out = append(out, r)
	}
	return out
}

// summarizeReport is the one line the demo prints for a report.
func summarizeReport(r report.Report) string {
	folder := r.Folder
	if folder == "" && len(r.Files) > 0 {
		folder = r.Files[0].Name
	}
	line := fmt.Sprintf("%-13s %-22s %d file(s)", r.Outcome, folder, len(r.Files))
	if r.Fraud != nil && r.Fraud.SignalCount > 0 {
		line += fmt.Sprintf(", %d fraud signal(s)", r.Fraud.SignalCount)
	}
	if r.LoginID != "" {
		line += ", login " + r.LoginID
	}
	if r.Error != nil && r.Error.Message != "" {
		line += ", error: " + r.Error.Message
	}
	var rejected []string
	for _, f := range r.Files {
		if f.Status == report.FileRejected {
			rejected = append(rejected, f.Name+" ("+f.Reason+")")
		}
	}
	if len(rejected) > 0 {
		line += ", rejected: " + strings.Join(rejected, "; ")
	}
	return line
}

// demoConfig is the config the demo runs with.
func demoConfig(sim *flinkssim.Sim, dir string) string {
	certs := sim.Certs()
	id, _, _, customer := sim.Credentials()
	secretFile, apiKeyFile := sim.CredentialFiles()
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return fmt.Sprintf(`# Written by flinkdrop demo: runs against the built-in simulator.
flinks:
  upload_url: %s
  client_id: %s
  client_secret_file: %s
  tls:
    cert_file: %s
    key_file: %s
    ca_file: %s
  fraud:
    url: %s
    customer_id: %s
    api_key_file: %s
    poll_interval: 1s
    timeout: 2m
state_dir: %s
workers: 4
inboxes:
  - path: %s
    outbox: %s
    archive: %s
    failed: %s
    stable_for: 1s
    settle: 2s
    rescan_interval: 5s
log:
  level: debug
  file: %s
`, q(sim.UploadURL()), q(id), q(secretFile), q(certs.ClientCertFile), q(certs.ClientKeyFile), q(certs.CAFile),
		q(sim.FraudURL()), q(customer), q(apiKeyFile),
		q(filepath.Join(dir, "state")), q(filepath.Join(dir, "inbox")), q(filepath.Join(dir, "outbox")),
		q(filepath.Join(dir, "archive")), q(filepath.Join(dir, "failed")), q(filepath.Join(dir, "flinkdrop.log")))
}
