package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// baseYAML is a complete, valid configuration. Tests replace one line of it.
const baseYAML = `flinks:
  upload_url: https://upload.example.test/api/v1
  client_id: client-1
  client_secret: ${SECRET}
  scope: ocr.write
  tls:
    cert_file: /etc/fd/client.crt
    key_file: /etc/fd/client.key
    ca_file: ""
  fraud:
    url: https://toolbox-api.example.test
    customer_id: cust-1
    api_key: ${API_KEY}
    poll_interval: 30s
    timeout: 6h
limits:
  max_file_mb: 18
  max_session_mb: 180
  max_files_per_session: 24
  types: [pdf, png]
state_dir: /var/lib/fd
retention: 720h
workers: 4
inboxes:
  - path: /srv/scans/inbox
    outbox: /srv/scans/reports
    archive: /srv/scans/archive
    after_success: move
    failed: /srv/scans/failed
    stable_for: 5s
    settle: 30s
    rescan_interval: 60s
log:
  level: info
  file: ""
`

// testEnv is the environment baseYAML needs.
func testEnv(extra map[string]string) func(string) (string, bool) {
	env := map[string]string{"SECRET": "client-secret-value", "API_KEY": "api-key-value"}
	for k, v := range extra {
		env[k] = v
	}
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

// noFiles is a ReadFile that finds nothing.
func noFiles(name string) ([]byte, error) {
	return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrNotExist}
}

// parseString parses s as "config.yaml" with testEnv and no files.
func parseString(t *testing.T, s string) (*Config, error) {
	t.Helper()
	return Parse([]byte(s), ParseOptions{Name: "config.yaml", BaseDir: "/etc/fd", LookupEnv: testEnv(nil), ReadFile: noFiles})
}

// replaceLine returns base with the line holding old replaced by repl (which
// may span lines), and the 1-based number of that line.
func replaceLine(t *testing.T, base, old, repl string) (string, int) {
	t.Helper()
	lines := strings.Split(base, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == old {
			indent := l[:len(l)-len(strings.TrimLeft(l, " "))]
			lines[i] = indent + strings.ReplaceAll(repl, "\n", "\n"+indent)
			return strings.Join(lines, "\n"), i + 1
		}
	}
	t.Fatalf("line %q not in the base YAML", old)
	return "", 0
}

// fieldErrors unwraps a joined error into its FieldErrors.
func fieldErrors(t *testing.T, err error) []*FieldError {
	t.Helper()
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *FieldError
		if errors.As(e, &fe) {
			out = append(out, fe)
			return
		}
		t.Errorf("error %q is not a *FieldError", e)
	}
	if err != nil {
		walk(err)
	}
	return out
}
