package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/flinkdrop/flinkdrop/config"
	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/uploader"
)

// checkResult is one line of `flinkdrop check`.
type checkResult struct {
	level string // "ok", "warn" or "FAIL"
	step  string
	msg   string
}

type checker struct {
	out     io.Writer
	results []checkResult
	now     func() time.Time
}

func (c *checker) add(level, step, format string, args ...any) {
	r := checkResult{level: level, step: step, msg: fmt.Sprintf(format, args...)}
	c.results = append(c.results, r)
	fmt.Fprintf(c.out, "%-4s  %-12s %s\n", r.level, r.step, r.msg)
}

func (c *checker) failed() bool {
	for _, r := range c.results {
		if r.level == "FAIL" {
			return true
		}
	}
	return false
}

func newCheckCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Diagnose the setup: config, folders, certificate, token, fraud endpoint",
		Long: `check runs every step the daemon depends on and prints one line per step,
with the fix when a step fails. Exit codes: 0 every step passed (warnings allowed),
1 a step failed, 2 bad usage.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := &checker{out: cmd.OutOrStdout(), now: time.Now}
			runChecks(cmd.Context(), c, g.configPath())
			if c.failed() {
				return &exitError{code: exitFailure, err: errors.New("check failed: fix the lines marked FAIL and run it again")}
			}
			return nil
		},
	}
}

func runChecks(ctx context.Context, c *checker, path string) {
	cfg, err := config.Load(path)
	if err != nil {
		c.add("FAIL", "config", "%v", err)
		return
	}
	c.add("ok", "config", "%s is valid (%d inbox(es))", cfg.Path, len(cfg.Inboxes))
	checkFolders(c, cfg)

	_, info, err := uploader.LoadCertificate(uploader.TLSFiles{
		CertFile: cfg.Flinks.TLS.CertFile, KeyFile: cfg.Flinks.TLS.KeyFile,
		PFXFile: cfg.Flinks.TLS.PFXFile, PFXPassword: cfg.Flinks.TLS.PFXPassword, CAFile: cfg.Flinks.TLS.CAFile,
	})
	if err != nil {
		c.add("FAIL", "certificate", "%v", err)
		return
	}
	days := int(info.NotAfter.Sub(c.now()).Hours() / 24)
	switch {
	case days < 30:
		c.add("warn", "certificate", "%s expires in %d days (%s): ask Flinks for a renewed certificate now; replacing the files needs no restart",
			info.Subject, days, info.NotAfter.Format(time.DateOnly))
	default:
		c.add("ok", "certificate", "%s, issued by %s, key matches, expires in %d days (%s)",
			info.Subject, info.Issuer, days, info.NotAfter.Format(time.DateOnly))
	}

	client, err := newClient(cfg, zerolog.Nop(), clock.Real())
	if err != nil {
		c.add("FAIL", "client", "%v", err)
		return
	}
	defer client.Close()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := client.Token(tctx); err != nil {
		c.add("FAIL", "token", "%s", diagnose(err, "token"))
	} else {
		c.add("ok", "token", "obtained from %s over mutual TLS", cfg.Flinks.UploadURL)
	}

	if cfg.Flinks.Fraud.URL == "" {
		c.add("ok", "fraud", "no fraud.url configured: sessions end as \"uploaded\" without analysis")
		return
	}
	// An id that cannot exist: an authorised key gets "not found" (not yet),
	// a refused key gets 401/403.
	fctx, cancel2 := context.WithTimeout(ctx, 30*time.Second)
	defer cancel2()
	if _, err := client.FraudAnalysis(fctx, "00000000-0000-0000-0000-000000000000"); err != nil && uploader.KindOf(err) != uploader.Rejected {
		c.add("FAIL", "fraud", "%s", diagnose(err, "fraud"))
	} else {
		c.add("ok", "fraud", "%s accepts the API key for customer %s", cfg.Flinks.Fraud.URL, cfg.Flinks.Fraud.CustomerID)
	}
}

// checkFolders checks that every folder exists (or can be made) and that
// flinkdrop can write where it must.
func checkFolders(c *checker, cfg *config.Config) {
	check := func(role, dir string, write bool) {
		if dir == "" {
			return
		}
		if warn := mappedDriveWarning(dir); warn != "" {
			c.add("warn", "folders", "%s %s: %s", role, dir, warn)
		}
		fi, err := os.Stat(dir)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			if role == "inbox" {
				c.add("FAIL", "folders", "inbox %s does not exist (create it, or fix inboxes[].path)", dir)
				return
			}
			// flinkdrop (state_dir; run --once for the others) makes it at
			// start: its nearest existing parent must be a folder it can
			// write.
			parent := existingParent(dir)
			if pi, err := os.Stat(parent); err != nil || !pi.IsDir() {
				c.add("FAIL", "folders", "%s %s cannot be created: %s is not a folder (fix the path in the config)", role, dir, parent)
				return
			}
			if err := tryWrite(parent); err != nil {
				c.add("FAIL", "folders", "%s %s does not exist and cannot be created: %s is not writable: %v (create it, writable by the service user)", role, dir, parent, err)
				return
			}
			if role == "state_dir" {
				c.add("warn", "folders", "%s %s does not exist yet; it will be created at start", role, dir)
				return
			}
			c.add("warn", "folders", "%s %s does not exist yet: run --once creates it, the service waits until it exists (create it now, or mount its share)", role, dir)
			return
		}
		if err != nil {
			c.add("FAIL", "folders", "%s %s: %v", role, dir, err)
			return
		}
		if !fi.IsDir() {
			c.add("FAIL", "folders", "%s %s is not a folder (point the config at a folder, or move the file away)", role, dir)
			return
		}
		if !write {
			return
		}
		if err := tryWrite(dir); err != nil {
			c.add("FAIL", "folders", "%s %s is not writable: %v (give the service user write access)", role, dir, err)
		}
	}
	before := len(c.results)
	check("state_dir", cfg.StateDir, true)
	for _, in := range cfg.Inboxes {
		check("inbox", in.Path, true) // files are moved out of it
		check("outbox", in.Outbox, true)
		if in.AfterSuccess == "move" {
			check("archive", in.Archive, true)
		}
		check("failed", in.Failed, true)
	}
	if len(c.results) == before {
		c.add("ok", "folders", "state_dir and every inbox, outbox, archive and failed folder are writable")
	}
}

// existingParent returns the nearest ancestor of dir that exists (or the
// root of its volume).
func existingParent(dir string) string {
	p := filepath.Dir(dir)
	for {
		if _, err := os.Lstat(p); err == nil {
			return p
		}
		up := filepath.Dir(p)
		if up == p {
			return p
		}
		p = up
	}
}

// tryWrite creates and removes a hidden file in dir.
func tryWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".flinkdrop-check-*")
	if err != nil {
		if u := errors.Unwrap(err); u != nil {
			return u
		}
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// diagnose maps an API error to the guide's Common Errors table and a fix.
func diagnose(err error, step string) string {
	status := uploader.HTTPStatusOf(err)
	var unknownAuthority x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var certInvalid x509.CertificateInvalidError
	var alert tls.AlertError
	var netErr net.Error
	switch {
	case errors.As(err, &unknownAuthority) || errors.As(err, &hostErr) || errors.As(err, &certInvalid):
		return fmt.Sprintf("the server's certificate is not trusted (%v): set flinks.tls.ca_file to the CA that signs it, or check the URL", err)
	case errors.As(err, &alert) || strings.Contains(err.Error(), "remote error: tls") || strings.Contains(err.Error(), "handshake"):
		return fmt.Sprintf("TLS handshake failed (%v): the client certificate was not sent or not trusted: check flinks.tls.cert_file and key_file (the certificate Flinks issued, not the CSR)", err)
	case step == "fraud" && (status == 401 || status == 403):
		return fmt.Sprintf("the fraud endpoint refused the API key (HTTP %d): check flinks.fraud.api_key and flinks.fraud.customer_id", status)
	case status == 400:
		return fmt.Sprintf("the token request was refused (HTTP 400: %v): check flinks.scope (Flinks expects ocr.write) and flinks.client_id", err)
	case status == 401:
		return fmt.Sprintf("invalid credentials (HTTP 401: %v): verify flinks.client_id and flinks.client_secret", err)
	case status == 403:
		return fmt.Sprintf("certificate mismatch or not trusted (HTTP 403: %v): present the certificate issued by Flinks (not the CSR) with its matching key", err)
	case errors.As(err, &netErr) || uploader.KindOf(err) == uploader.Transient:
		return fmt.Sprintf("cannot reach the server (%v): check the URL, DNS, firewall and HTTPS_PROXY", err)
	}
	return err.Error()
}
