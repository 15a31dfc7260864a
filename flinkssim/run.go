package flinkssim

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The shape of a flinkdrop config (SPEC §3), as far as the simulator fills
// it in. Field order is the order written.
type yamlConfig struct {
	Flinks   yamlFlinks  `yaml:"flinks"`
	Limits   yamlLimits  `yaml:"limits"`
	StateDir string      `yaml:"state_dir"`
	Inboxes  []yamlInbox `yaml:"inboxes"`
}

type yamlFlinks struct {
	UploadURL        string    `yaml:"upload_url"`
	ClientID         string    `yaml:"client_id"`
	ClientSecretFile string    `yaml:"client_secret_file"`
	Scope            string    `yaml:"scope"`
	TLS              yamlTLS   `yaml:"tls"`
	Fraud            yamlFraud `yaml:"fraud"`
}

type yamlTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	CAFile   string `yaml:"ca_file"`
}

type yamlFraud struct {
	URL          string `yaml:"url"`
	CustomerID   string `yaml:"customer_id"`
	APIKeyFile   string `yaml:"api_key_file"`
	PollInterval string `yaml:"poll_interval"`
	Timeout      string `yaml:"timeout"`
}

type yamlLimits struct {
	MaxFileMB          int64 `yaml:"max_file_mb"`
	MaxSessionMB       int64 `yaml:"max_session_mb"`
	MaxFilesPerSession int   `yaml:"max_files_per_session"`
}

type yamlInbox struct {
	Path    string `yaml:"path"`
	Outbox  string `yaml:"outbox"`
	Archive string `yaml:"archive"`
	Failed  string `yaml:"failed"`
}

// ConfigYAML returns a flinkdrop config that works against this simulator,
// with one entry per inbox; the outbox, archive and failed folders are
// siblings of each inbox (inbox-reports, inbox-archive, inbox-failed). With
// no inboxes, one inbox is placed in the simulator's folder. The state
// folder is inside the simulator's folder. The limits are the simulator's,
// in MiB rounded up; secrets are given as files, never inline.
func (s *Sim) ConfigYAML(inboxes ...string) string {
	if len(inboxes) == 0 {
		inboxes = []string{filepath.Join(s.opts.Dir, "inbox")}
	}
	c := yamlConfig{
		Flinks: yamlFlinks{
			UploadURL:        s.uploadURL,
			ClientID:         s.opts.ClientID,
			ClientSecretFile: s.secretFile,
			Scope:            s.opts.Scope,
			TLS: yamlTLS{
				CertFile: s.certs.files.ClientCertFile,
				KeyFile:  s.certs.files.ClientKeyFile,
				CAFile:   s.certs.files.CAFile,
			},
			Fraud: yamlFraud{
				URL:          s.fraudURL,
				CustomerID:   s.opts.CustomerID,
				APIKeyFile:   s.apiKeyFile,
				PollInterval: "1s",
				Timeout:      "6h",
			},
		},
		Limits: yamlLimits{
			MaxFileMB:          ceilMiB(s.opts.MaxFileBytes),
			MaxSessionMB:       ceilMiB(s.opts.MaxSessionBytes),
			MaxFilesPerSession: s.opts.MaxFiles,
		},
		StateDir: filepath.Join(s.opts.Dir, "state"),
	}
	for _, in := range inboxes {
		if abs, err := filepath.Abs(in); err == nil {
			in = abs
		}
		in = filepath.Clean(in)
		c.Inboxes = append(c.Inboxes, yamlInbox{
			Path:    in,
			Outbox:  in + "-reports",
			Archive: in + "-archive",
			Failed:  in + "-failed",
		})
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		// Plain structs of strings and numbers always marshal.
		panic(fmt.Sprintf("flinkssim: marshal the config: %v", err))
	}
	return string(out)
}

// ceilMiB is n bytes in MiB, rounded up: with a limit below a whole MiB the
// client is the laxer side, so the simulator's refusal can be seen.
func ceilMiB(n int64) int64 { return (n + 1<<20 - 1) >> 20 }

// Run starts a simulator, prints how to use it to out, and serves until ctx
// is done.
func Run(ctx context.Context, opts Options, out io.Writer) error {
	s, err := Start(opts)
	if err != nil {
		return err
	}
	defer s.Close()
	// The printed config names these folders: make them, so the config
	// works as printed.
	inbox := filepath.Join(s.opts.Dir, "inbox")
	for _, d := range []string{inbox, inbox + "-reports", inbox + "-archive", inbox + "-failed"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("flinkssim: create the folder %s of the printed config: %w", d, err)
		}
	}
	c := s.Certs()
	id, _, _, customer := s.Credentials()
	secretFile, keyFile := s.CredentialFiles()
	var b strings.Builder
	fmt.Fprintf(&b, "Flinks simulator running (stop with Ctrl-C)\n\n")
	fmt.Fprintf(&b, "upload_url:  %s   (mTLS: token, upload, complete)\n", s.UploadURL())
	fmt.Fprintf(&b, "fraud url:   %s   (TLS: fraud analysis)\n\n", s.FraudURL())
	fmt.Fprintf(&b, "CA (trust it for both):  %s\n", c.CAFile)
	fmt.Fprintf(&b, "client certificate:      %s\n", c.ClientCertFile)
	fmt.Fprintf(&b, "client key:              %s\n", c.ClientKeyFile)
	fmt.Fprintf(&b, "client PFX:              %s (password in %s)\n", c.ClientPFXFile, c.PFXPasswordFile)
	fmt.Fprintf(&b, "untrusted client cert:   %s (key %s)\n\n", c.OtherCAClientCertFile, c.OtherCAClientKeyFile)
	fmt.Fprintf(&b, "client_id:    %s\n", id)
	fmt.Fprintf(&b, "client secret file: %s\n", secretFile)
	fmt.Fprintf(&b, "customer_id:  %s\n", customer)
	fmt.Fprintf(&b, "API key file: %s\n\n", keyFile)
	fmt.Fprintf(&b, "A config that works against this simulator (drop files into a folder under %s):\n\n%s\n", inbox, s.ConfigYAML())
	fmt.Fprintf(&b, "Get a token:\n\n  curl --cacert %s --cert %s --key %s \\\n", shellQuote(c.CAFile), shellQuote(c.ClientCertFile), shellQuote(c.ClientKeyFile))
	fmt.Fprintf(&b, "    -u \"%s:$(cat %s)\" \\\n", id, shellQuote(secretFile))
	fmt.Fprintf(&b, "    -d grant_type=client_credentials -d scope=%s %s/token\n", s.opts.Scope, s.UploadURL())
	if _, err := io.WriteString(out, b.String()); err != nil {
		return fmt.Errorf("flinkssim: print the simulator's details: %w", err)
	}
	<-ctx.Done()
	return nil
}

// shellQuote quotes p for a POSIX shell.
func shellQuote(p string) string {
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}
